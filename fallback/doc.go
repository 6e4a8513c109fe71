// Package fallback is Tornado's FallbackHandler for graft: the handler that
// receives every request the Go routes do not serve and passes it to the
// old app.
//
// # Usage
//
// The app is any [http.Handler]: the in-process WSGI container of the wsgi
// package, or an [httputil.ReverseProxy] to an existing gunicorn for teams
// not ready to run Python in-process.
//
//	r := router.New()
//	r.Get("/users", listUsers)                     // already in Go
//	r.Fallback(&fallback.Handler{App: container}) // everything else
//
// # Mounting at a prefix
//
// An app mounted at a prefix must see it as SCRIPT_NAME, so that Flask's
// url_for and Django's reverse build URLs under it:
//
//	r.Mount("/legacy", &fallback.Handler{App: container, Prefix: "/legacy"})
//
// For the WSGI container, the Handler only tells the container the prefix
// (wsgi.WithMount): r.URL is not rewritten, the container splits SCRIPT_NAME
// and PATH_INFO from the escaped path and decodes PATH_INFO once, and
// REQUEST_URI keeps the original.
//
// For a reverse proxy to gunicorn, set [Handler.ScriptNameHeader]: the path
// is sent whole with a SCRIPT_NAME header, gunicorn cuts the prefix off
// itself, and the app sees the same SCRIPT_NAME, PATH_INFO and request URI
// as in the container. For other servers, [Handler.StripPrefix] strips the
// prefix from the request URL, as [http.StripPrefix] does, and sets
// X-Forwarded-Prefix for werkzeug's ProxyFix(x_prefix=1).
//
// # Files
//
// [Static] serves the app's static files from Go, WhiteNoise-style (ETag,
// conditional requests, Range, immutable caching of hashed names,
// precompressed variants), from a directory or an embedded tree; with
// [Static].NotFound set to the app's Handler, the app answers what Static
// does not have, with its own 404 page.
// [Sendfile], set on a Handler, sends the files the app names in
// X-Sendfile or X-Accel-Redirect headers, from configured roots only.
//
// # Security
//
// With StripPrefix or ScriptNameHeader, the client's own
// X-Forwarded-Prefix, SCRIPT_NAME and PATH_INFO headers are always removed,
// in every spelling a WSGI server reads as them (any letter case, '_' for
// '-': gunicorn 20 reads X_Forwarded_Prefix as X-Forwarded-Prefix), so a
// client cannot choose the prefix or the path the app sees.
package fallback
