package wsgi

import "net"

// placeholder: the hardening branch replaces this file

// RequestLimits bounds the request line and header fields a plain HTTP
// connection may send (gunicorn's --limit-request-line,
// --limit-request-fields and --limit-request-field_size). Zero values are
// gunicorn's defaults: 4094, 100 and 8190.
type RequestLimits struct {
	Line, Fields, FieldSize int
}

// Guard returns ln with every accepted connection held to lim.
func Guard(ln net.Listener, lim RequestLimits) net.Listener {
	return ln
}
