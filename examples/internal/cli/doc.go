// Package cli holds the command line shared by graft's example servers
// (wsgiserve, hybrid, flask, django): flags named like gunicorn's, parsed
// the way gunicorn users expect (flags after the positional
// module:callable, durations in plain seconds or Go's form, -h exits 0),
// and their translation into the public API: wsgi.Listen, wsgi.Config and
// wsgi.Serve. A program of your own needs none of it: see the ExampleServe
// of package wsgi.
package cli
