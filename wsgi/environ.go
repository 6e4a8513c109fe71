package wsgi

import (
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/graft-dev/graft/internal/reqctx"
)

// hopByHop lists request headers that net/http (or graft) handles and that
// never reach the app (PEP 3333 "Other HTTP Features"). "Proxy" is dropped
// too: as HTTP_PROXY it would shadow the proxy environment variable of the
// same name (httpoxy).
var hopByHop = map[string]bool{
	"Connection":        true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Te":                true,
	"Trailer":           true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
	"Expect":            true,
	"Proxy":             true,
}

// commonKeys maps frequent canonical header names to their environ keys, so
// the hot path does not build them. It is never written after init.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, h := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Cookie", "Dnt", "If-Modified-Since", "If-None-Match", "Origin", "Pragma", "Referer",
		"Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Fetch-Dest", "Sec-Fetch-Mode",
		"Sec-Fetch-Site", "Sec-Fetch-User", "Upgrade-Insecure-Requests", "User-Agent",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id",
		"X-Requested-With", "X-Csrftoken",
	} {
		m[h] = envKeyFor(h)
	}
	return m
}()

// envKeyFor returns "HTTP_" + the header name upper-cased with '-' as '_'.
func envKeyFor(name string) string {
	b := make([]byte, 0, 5+len(name))
	b = append(b, "HTTP_"...)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// RequestScheme returns the wsgi.url_scheme the app sees for r: the
// scheme set with WithURLScheme, else "https" over TLS, else "http".
func RequestScheme(r *http.Request) string {
	if s := URLScheme(r.Context()); s != "" {
		return s
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// environ builds the CGI part of the environ of r as key/value pairs
// appended to pairs. bodyLen is the length of the request body as it will
// be passed to the app (-1 when unknown). mount is the SCRIPT_NAME prefix.
func environ(pairs []string, r *http.Request, mount string, bodyLen int64) []string {
	rawPath, rawQuery, uri := requestTarget(r)
	script, pathInfo := splitMount(rawPath, mount)

	scheme := RequestScheme(r)
	name, port := serverNamePort(r, scheme)
	remoteAddr, remotePort := remoteAddrPort(r.RemoteAddr)

	pairs = append(pairs,
		"REQUEST_METHOD", r.Method,
		"SCRIPT_NAME", script,
		"PATH_INFO", pathInfo,
		"QUERY_STRING", rawQuery,
		"REQUEST_URI", uri,
		"RAW_URI", uri,
		"SERVER_NAME", name,
		"SERVER_PORT", port,
		"SERVER_PROTOCOL", r.Proto,
		"REMOTE_ADDR", remoteAddr,
		"wsgi.url_scheme", scheme,
	)
	if remotePort != "" && remotePort != "0" { // ":0": a proxy gave no port
		pairs = append(pairs, "REMOTE_PORT", remotePort)
	}
	if scheme == "https" {
		pairs = append(pairs, "HTTPS", "on")
	}
	if r.Host != "" {
		pairs = append(pairs, "HTTP_HOST", r.Host)
	}
	if bodyLen >= 0 {
		pairs = append(pairs, "CONTENT_LENGTH", strconv.FormatInt(bodyLen, 10))
	}
	// Headers listed in Connection are hop-by-hop too (names compared
	// without regard to case; no allocation for the usual few).
	var tokens [8]string
	connHeaders := tokens[:0]
	for _, v := range r.Header["Connection"] {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if f = strings.TrimSpace(f); f != "" {
				connHeaders = append(connHeaders, f)
			}
		}
	}
	for k, vs := range r.Header {
		if len(vs) == 0 || hopByHop[k] || strings.IndexByte(k, '_') >= 0 || containsFold(connHeaders, k) {
			continue
		}
		var key string
		switch k {
		case "Content-Type":
			key = "CONTENT_TYPE"
		case "Content-Length":
			continue // set from the body actually passed
		case "Host":
			continue // r.Host is authoritative
		default:
			var ok bool
			if key, ok = commonKeys[k]; !ok {
				key = envKeyFor(k)
			}
		}
		// Spaces and tabs at a value's edges are trimmed, as net/http
		// trims them reading HTTP/1.1: its HTTP/2 server passes them on
		// (RFC 9113 8.2.1 makes such a field malformed), and the same
		// request would give the app another environ over HTTP/2.
		v := textproto.TrimString(vs[0])
		if len(vs) > 1 {
			sep := ","
			if k == "Cookie" {
				sep = "; "
			}
			v = joinTrimmed(vs, sep)
		}
		pairs = append(pairs, key, v)
	}
	reqctx.EachEnviron(r.Context(), func(k, v string) { pairs = append(pairs, k, v) })
	return pairs
}

// joinTrimmed joins vs with sep, each trimmed as textproto.TrimString
// does (see environ).
func joinTrimmed(vs []string, sep string) string {
	var b strings.Builder
	n := len(sep) * (len(vs) - 1)
	for _, v := range vs {
		n += len(v)
	}
	b.Grow(n)
	for i, v := range vs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(textproto.TrimString(v))
	}
	return b.String()
}

// containsFold reports whether list holds s, compared without regard to
// case (header names).
func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// splitMount splits the escaped path into SCRIPT_NAME and PATH_INFO for an
// app mounted at prefix, and percent-decodes both (once). A path outside the
// prefix keeps SCRIPT_NAME empty.
//
// The prefix is matched against the decoded path, as the router routes
// it, so that "/%6cegacy/x" is under "/legacy" as "/legacy/x" is; but an
// escaped slash is no segment boundary: "/legacy%2Fx" is outside.
func splitMount(rawPath, prefix string) (script, pathInfo string) {
	if prefix != "" {
		script = unquote(prefix)
		if rest, ok := cutMount(rawPath, script); ok {
			return script, unquote(rest)
		}
	}
	return "", unquote(rawPath)
}

// cutMount returns the escaped rest of rawPath after the decoded prefix,
// if rawPath starts with it, decoded, and an unescaped '/' or the end
// follows it.
func cutMount(rawPath, prefix string) (rest string, ok bool) {
	i := 0
	for j := 0; j < len(prefix); j++ {
		if i >= len(rawPath) {
			return "", false
		}
		c, n := rawPath[i], 1
		if c == '%' && i+2 < len(rawPath) && ishex(rawPath[i+1]) && ishex(rawPath[i+2]) {
			c, n = unhex(rawPath[i+1])<<4|unhex(rawPath[i+2]), 3
			if c == '/' {
				return "", false
			}
		}
		if c != prefix[j] {
			return "", false
		}
		i += n
	}
	if i < len(rawPath) && rawPath[i] != '/' {
		return "", false
	}
	return rawPath[i:], true
}

// unquote percent-decodes s to bytes (kept in a string, which the worker
// turns into latin-1 code points). '+' stays '+'; malformed escapes stay
// literal, as in gunicorn and Tornado.
func unquote(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// serverNamePort derives SERVER_NAME and SERVER_PORT from the Host header
// (IPv6 literals lose their brackets), with the scheme's default port when
// Host has none, and from the listener's address when there is no Host.
func serverNamePort(r *http.Request, scheme string) (string, string) {
	defPort := "80"
	if scheme == "https" {
		defPort = "443"
	}
	host := r.Host
	if host != "" && !strings.Contains(host, ":") {
		return strings.Trim(host, "[]"), defPort // no port (and no error to make)
	}
	if host != "" {
		if h, p, err := net.SplitHostPort(host); err == nil {
			if p == "" {
				p = defPort
			}
			if h != "" {
				return h, p
			}
		} else if !strings.Contains(strings.Trim(host, "[]"), ":") || host[0] == '[' {
			return strings.Trim(host, "[]"), defPort
		}
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if h, p, err := net.SplitHostPort(la.String()); err == nil {
			return h, p
		}
	}
	return "localhost", defPort
}

// unnamedUnixPeer is net/http's RemoteAddr of a request over a Unix socket
// whose client socket has no name (curl's, nginx's, any that did not bind
// one): Go writes the empty name as "@" on Linux.
const unnamedUnixPeer = "@"

// remoteAddrPort returns the REMOTE_ADDR and REMOTE_PORT of a request
// from its RemoteAddr: its host and port, or for a Unix socket's peer
// its name and no port, "" for an unnamed one, as gunicorn gives them
// (uWSGI and Tornado give "0.0.0.0", waitress "localhost", werkzeug 2.2
// "<local>": docs/wsgi.md, What the app sees). A peer's name is a path
// ("/...") or, on Linux, an abstract name ("@..."), which no host:port
// starts with: it is never split, whatever colons it holds.
func remoteAddrPort(addr string) (host, port string) {
	if addr == unnamedUnixPeer {
		return "", ""
	}
	if strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "@") {
		return addr, ""
	}
	return splitHostPort(addr)
}

// splitHostPort splits a "host:port" remote address; an address that is not
// in that form is returned whole.
func splitHostPort(addr string) (host, port string) {
	if h, p, err := net.SplitHostPort(addr); err == nil {
		return h, p
	}
	return addr, ""
}
