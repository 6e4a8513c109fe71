package wsgi

import (
	"errors"
	"io"
	"net/http"
	"strings"
)

// This file holds the container's own checks at the HTTP boundary, which
// hold with or without Guard in front (a user's own http.Server).

// ErrBadTarget: the request target is not one the container accepts: an
// absolute-form target whose scheme is not http or https or whose host is
// not a valid Host value, "*" on a method other than OPTIONS, a CONNECT
// target that is not host:port, or a target with a space or a control
// byte (an HTTP/2 :path; HTTP/1.x cannot carry one) (400).
var ErrBadTarget = errors.New("wsgi: bad request target")

// ErrBadMethod: the request method has a lower-case letter ("get"), which
// the container refuses as gunicorn does (400). Werkzeug and Django
// upper-case REQUEST_METHOD, so the app would serve "get" as GET while a
// Go router in front, whose methods are case-sensitive, had matched no
// GET route and let the request through to the app: past a Go route, or
// the middleware guarding it.
var ErrBadMethod = errors.New("wsgi: request method with a lower-case letter")

// ErrBadHeader: the request has more than one Content-Type field (400).
// The app would get them joined into one CONTENT_TYPE ("text/plain,
// application/x-www-form-urlencoded"), which Werkzeug reads as the first
// type, Django 3.2 as neither and gunicorn passes as the last: a form one
// reader parses and another does not, behind a proxy that checks one of
// them. No client sends two; a request that does is refused rather than
// guessed at, as two Content-Length or Host fields are.
var ErrBadHeader = errors.New("wsgi: more than one Content-Type field")

// headerError refuses header fields the app would read otherwise than Go
// does: see ErrBadHeader.
func headerError(h http.Header) error {
	if len(h["Content-Type"]) > 1 {
		return ErrBadHeader
	}
	return nil
}

// methodError refuses a method that a WSGI framework would read as
// another: see ErrBadMethod.
func methodError(method string) error {
	for i := 0; i < len(method); i++ {
		if 'a' <= method[i] && method[i] <= 'z' {
			return ErrBadMethod
		}
	}
	return nil
}

// requestTarget returns the request target of r as received, without any
// fragment ("#..." is cut at the first '#', which net/http leaves in
// place), and its raw (still escaped) path and query. The request line is
// used verbatim so that raw non-ASCII bytes reach the app byte for byte.
// An absolute-form target gives its path ("/" when it has none);
// asterisk-form gives path "*"; authority-form (CONNECT host:port) gives
// an empty path.
func requestTarget(r *http.Request) (path, query, uri string) {
	uri = r.RequestURI
	if i := strings.IndexByte(uri, '#'); i >= 0 {
		uri = uri[:i]
	}
	rest := uri
	switch {
	case uri == "" && r.URL != nil: // a request built in Go
		u := *r.URL
		u.Fragment, u.RawFragment = "", ""
		return u.EscapedPath(), u.RawQuery, u.RequestURI()
	case uri == "*":
		return "*", "", uri
	case uri[0] == '/':
	case r.Method == http.MethodConnect && !strings.Contains(uri, "://"):
		return "", "", uri
	default: // absolute-form: drop scheme://authority
		if i := strings.Index(rest, "://"); i >= 0 {
			rest = rest[i+3:]
		}
		if i := strings.IndexAny(rest, "/?"); i >= 0 {
			rest = rest[i:]
		} else {
			rest = ""
		}
		if rest == "" || rest[0] == '?' {
			rest = "/" + rest
		}
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		return rest[:i], rest[i+1:], uri
	}
	return rest, "", uri
}

// targetError checks the forms of request target that net/http accepts
// more leniently than the container, by the guard's rules
// (hasSpaceOrControl, targetFormError): no space or control byte (an
// HTTP/2 :path may hold a space), CONNECT takes host:port only, "*" is for
// OPTIONS only, and absolute-form must be http or https with a valid host
// and no userinfo (RFC 9112 §3.2.2; r.Host, and so HTTP_HOST, is then that
// host).
// A request built in Go (no RequestURI) is not checked, but for a CONNECT
// without a host: net/http's server reads "CONNECT  HTTP/1.1" (an empty
// target) as "http://", with RequestURI "" too.
func targetError(r *http.Request) error {
	uri := r.RequestURI
	if uri == "" {
		if r.Method == http.MethodConnect && (r.URL == nil || r.URL.Host == "") {
			return ErrBadTarget
		}
		return nil
	}
	if hasSpaceOrControl(uri) || targetFormError(r.Method, uri) != "" {
		return ErrBadTarget
	}
	if r.Method == http.MethodConnect || uri[0] == '/' || uri[0] == '*' {
		return nil // authority-, origin- or asterisk-form: nothing more to check
	}
	// absolute-form: net/http's idea of the host must be the target's.
	if r.URL == nil || r.URL.User != nil || !strings.EqualFold(r.Host, r.URL.Host) {
		return ErrBadTarget
	}
	return nil
}

// noSniff keeps net/http from guessing a Content-Type for a response whose
// app sent none: a nil value in the map marks the header as set and writes
// nothing.
func noSniff(h http.Header) {
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil
	}
}

// readFull reads into buf until it is full (then it returns a nil error,
// like io.ReadFull) or r ends. Unlike io.ReadFull, it returns io.EOF for a
// clean end of r before buf is full, and any other error as is, so that a
// chunked body cut short (io.ErrUnexpectedEOF from net/http) is never
// taken for a complete one.
func readFull(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil && n < len(buf) {
			return n, err
		}
	}
	return n, nil
}
