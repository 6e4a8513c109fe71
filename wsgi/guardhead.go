package wsgi

import (
	"bytes"
	"net/http"
	"strings"
)

// rejection is why the guard refuses a request: the status it answers with
// and a short reason for the body.
type rejection struct {
	code   int
	reason string
	// head: the refused request is a HEAD, whose answer carries the
	// header fields a GET's would, Content-Length included, and no body
	// (RFC 9110 §9.3.2).
	head bool
}

func reject(code int, reason string) *rejection { return &rejection{code: code, reason: reason} }

// headInfo is what the guard needs to know about a checked request head.
type headInfo struct {
	length  int64 // Content-Length; 0 when there is none
	chunked bool  // Transfer-Encoding: chunked
	upgrade bool  // an Upgrade header: the connection may become a tunnel
	connect bool  // CONNECT: the connection may become a tunnel
	preface bool  // the HTTP/2 connection preface ("PRI * HTTP/2.0")
	// cutFrom, cutTo: the fragment ("#...") of the target, to remove from
	// the head before net/http sees it (cutFrom == cutTo when none).
	cutFrom, cutTo int
}

// headScanner finds the end of a request head (or a trailer section)
// arriving in pieces, enforcing the line limits as lines complete so that
// an endless head is refused early instead of buffered.
type headScanner struct {
	pos   int // start of the first line not yet scanned
	lines int // complete lines scanned, the request line included
}

// scan looks at b (the head so far, from its first byte) and returns the
// length of the complete head, including its empty line, or -1 when more
// bytes are needed. trailer says b is a chunked body's trailer section,
// which has no request line.
func (s *headScanner) scan(b []byte, lim RequestLimits, trailer bool) (int, *rejection) {
	for {
		i := bytes.IndexByte(b[s.pos:], '\n')
		if i < 0 {
			n := len(b) - s.pos
			if n > 0 && b[len(b)-1] == '\r' {
				n-- // maybe the CR of the line's CRLF
			}
			if rej := s.checkLine(n, lim, trailer, false); rej != nil {
				return -1, rej
			}
			if len(b) > lim.Head {
				return -1, headTooLarge(trailer)
			}
			return -1, nil
		}
		end := s.pos + i // index of '\n'
		if i == 0 || b[end-1] != '\r' {
			return -1, reject(http.StatusBadRequest, "line not ended by CRLF (bare LF)")
		}
		n := i - 1 // line length without CRLF
		if n == 0 && (s.lines > 0 || trailer) {
			if end+1 > lim.Head {
				return -1, headTooLarge(trailer)
			}
			return end + 1, nil
		}
		if rej := s.checkLine(n, lim, trailer, true); rej != nil {
			return -1, rej
		}
		if end+1 > lim.Head {
			return -1, headTooLarge(trailer)
		}
		s.lines++
		s.pos = end + 1
	}
}

// headTooLarge is the refusal of a head (or trailer section) larger than
// RequestLimits.Head.
func headTooLarge(trailer bool) *rejection {
	if trailer {
		return reject(http.StatusRequestHeaderFieldsTooLarge, "trailer section too large")
	}
	return reject(http.StatusRequestHeaderFieldsTooLarge, "request head too large")
}

// checkLine applies the limits to a line of n bytes (complete or not).
func (s *headScanner) checkLine(n int, lim RequestLimits, trailer, complete bool) *rejection {
	if s.lines == 0 && !trailer {
		if n > lim.Line {
			return reject(http.StatusRequestURITooLong, "request line too long")
		}
		return nil
	}
	fields := s.lines
	if !trailer {
		fields-- // the request line is not a field
	}
	if n > lim.FieldSize {
		return reject(http.StatusRequestHeaderFieldsTooLarge, "header field too long")
	}
	if fields+1 > lim.Fields && (complete || n > 0) {
		return reject(http.StatusRequestHeaderFieldsTooLarge, "too many header fields")
	}
	return nil
}

// checkRequestHead checks a complete request head (request line, fields and the
// empty line, each ended by CRLF; the scanner has already checked line
// endings and limits) and returns how its body is framed.
func checkRequestHead(b []byte, lim RequestLimits) (headInfo, *rejection) {
	var h headInfo
	eol := bytes.Index(b, []byte("\r\n"))
	if eol < 0 {
		return h, reject(http.StatusBadRequest, "incomplete head")
	}
	line := b[:eol]
	if eol > lim.Line {
		return h, reject(http.StatusRequestURITooLong, "request line too long")
	}
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 || sp2 == len(line)-1 {
		return h, reject(http.StatusBadRequest, "malformed request line")
	}
	method, target, version := line[:sp1], line[sp1+1:sp2], string(line[sp2+1:])
	if !isTokenBytes(method) {
		return h, reject(http.StatusBadRequest, "malformed method")
	}
	if hasSpaceOrControl(target) {
		return h, reject(http.StatusBadRequest, "space or control byte in request target")
	}
	switch {
	case len(version) == 8 && version[:7] == "HTTP/1." && isDigit(version[7]):
		// HTTP/1.2 and later minors are read as HTTP/1.1 (RFC 9110 §2.5).
	case version == "HTTP/2.0":
		if string(method) == "PRI" && string(target) == "*" && len(b) == eol+4 {
			h.preface = true
			return h, nil
		}
		return h, reject(http.StatusHTTPVersionNotSupported, "unsupported HTTP version")
	default:
		if len(version) == 8 && strings.HasPrefix(version, "HTTP/") && isDigit(version[5]) &&
			version[6] == '.' && isDigit(version[7]) {
			return h, reject(http.StatusHTTPVersionNotSupported, "unsupported HTTP version")
		}
		return h, reject(http.StatusBadRequest, "malformed HTTP version")
	}
	http10 := version == "HTTP/1.0"

	// The request target (RFC 9112 §3.2).
	if msg := targetFormError(string(method), string(target)); msg != "" {
		return h, reject(http.StatusBadRequest, msg)
	}
	h.connect = string(method) == http.MethodConnect
	if i := bytes.IndexByte(target, '#'); i >= 0 {
		h.cutFrom, h.cutTo = sp1+1+i, sp2
	}

	// Header fields.
	var clCount, teCount, hostCount int
	var te, expect string
	expectSeen := false
	rest := b[eol+2:]
	for {
		eol := bytes.Index(rest, []byte("\r\n"))
		if eol <= 0 {
			break // the empty line (the scanner saw it)
		}
		line := rest[:eol]
		rest = rest[eol+2:]
		name, value, rej := parseField(line)
		if rej != nil {
			return h, rej
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			clCount++
			n, ok := parseLength(value)
			if !ok {
				return h, reject(http.StatusBadRequest, "bad Content-Length")
			}
			h.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			teCount++
			te = string(value)
		case bytes.EqualFold(name, []byte("Host")):
			hostCount++
			if !validAuthority(string(value), false) {
				return h, reject(http.StatusBadRequest, "bad Host header")
			}
		case bytes.EqualFold(name, []byte("Upgrade")):
			h.upgrade = len(value) > 0
		case bytes.EqualFold(name, []byte("Expect")) && !expectSeen:
			// The first field, as net/http reads it.
			expectSeen, expect = true, string(value)
		}
	}
	switch {
	case clCount > 1:
		return h, reject(http.StatusBadRequest, "more than one Content-Length")
	case teCount > 0 && clCount > 0:
		return h, reject(http.StatusBadRequest, "both Content-Length and Transfer-Encoding")
	case teCount > 0 && http10:
		return h, reject(http.StatusBadRequest, "Transfer-Encoding on an HTTP/1.0 request")
	case teCount > 1:
		return h, reject(http.StatusBadRequest, "more than one Transfer-Encoding field")
	case hostCount > 1:
		return h, reject(http.StatusBadRequest, "more than one Host header")
	case hostCount == 0 && !http10:
		return h, reject(http.StatusBadRequest, "missing Host header")
	}
	if teCount == 1 {
		if rej := checkTransferEncoding(te); rej != nil {
			return h, rej
		}
		h.chunked = true
	}
	if expect != "" && !hasToken(expect, "100-continue") {
		// net/http answers it 417 and closes the connection before any
		// handler: refused here instead, so that it is reported.
		return h, reject(http.StatusExpectationFailed, "unsupported expectation (Expect other than 100-continue)")
	}
	return h, nil
}

// hasToken reports whether the comma-separated list v holds token, in any
// case, as net/http's hasToken reads an Expect field: the token bounded
// by the list's start or end, a comma or white space.
func hasToken(v, token string) bool {
	for _, t := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if strings.EqualFold(t, token) {
			return true
		}
	}
	return false
}

// parseField splits a header (or trailer) field line and checks it: no
// obs-fold, a token name directly followed by ':', and a value without
// control bytes (NUL, CR, LF, DEL; HTAB is allowed). The value is trimmed
// of spaces and tabs.
func parseField(line []byte) (name, value []byte, rej *rejection) {
	if line[0] == ' ' || line[0] == '\t' {
		return nil, nil, reject(http.StatusBadRequest, "obsolete line folding")
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isTokenBytes(line[:colon]) {
		return nil, nil, reject(http.StatusBadRequest, "malformed header field name")
	}
	v := line[colon+1:]
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, reject(http.StatusBadRequest, "control byte in header field value")
		}
	}
	return line[:colon], bytes.Trim(v, " \t"), nil
}

// checkTransferEncoding accepts exactly "chunked" (RFC 9112 §6.1: graft
// implements no other coding). identity, empty list members and chunked
// applied twice are malformed (400); other codings are not implemented (501).
func checkTransferEncoding(te string) *rejection {
	codings := strings.Split(te, ",")
	for i, c := range codings {
		c = strings.ToLower(strings.Trim(c, " \t"))
		if j := strings.IndexByte(c, ';'); j >= 0 {
			c = strings.TrimRight(c[:j], " \t") // transfer parameters
		}
		switch {
		case c == "" || !isToken(c):
			return reject(http.StatusBadRequest, "malformed Transfer-Encoding")
		case c == "identity":
			return reject(http.StatusBadRequest, "Transfer-Encoding: identity")
		case c == "chunked" && i != len(codings)-1:
			return reject(http.StatusBadRequest, "chunked is not the last transfer coding")
		case c != "chunked":
			return reject(http.StatusNotImplemented, "unsupported transfer coding")
		}
	}
	return nil
}

// parseLength parses a Content-Length value: digits only, no sign, no list.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hasSpaceOrControl reports whether a request target holds a byte that an
// HTTP/1.x request line cannot carry: a space or a control byte. The guard
// refuses such a request line; the container (targetError) refuses such an
// HTTP/2 :path, which net/http's HTTP/2 server lets through with a space.
func hasSpaceOrControl[T string | []byte](target T) bool {
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

// targetFormError checks a request target's form against its method (RFC
// 9112 §3.2), for the guard and for the container (targetError) alike:
// CONNECT takes authority-form only (host:port, no fragment), and no other
// method takes it; "*" is for OPTIONS only; any other target is
// origin-form ("/...") or an absolute-form target that absoluteFormError
// accepts. A fragment ("#...") is ignored but on CONNECT. It returns ""
// when the target is acceptable.
func targetFormError(method, target string) string {
	if method == http.MethodConnect {
		if !validAuthority(target, true) { // a '#' is not valid in it
			return "CONNECT target is not host:port"
		}
		return ""
	}
	if i := strings.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	switch {
	case target != "" && target[0] == '/':
		return pathEscapeError(target)
	case target == "*":
		if method != http.MethodOptions {
			return "asterisk-form target on a method other than OPTIONS"
		}
		return ""
	}
	return absoluteFormError(target)
}

// pathEscapeError checks the %-escapes of a target's path (up to its
// query): each '%' must start two hex digits, or net/http refuses the
// request itself with a 400 that no log line or metric would tell of.
// It returns "" when they are well formed.
func pathEscapeError(target string) string {
	if i := strings.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	for i := strings.IndexByte(target, '%'); i >= 0; i = strings.IndexByte(target, '%') {
		if len(target) < i+3 || !isHexDigit(target[i+1]) || !isHexDigit(target[i+2]) {
			return "malformed %-escape in the request target's path"
		}
		target = target[i+3:]
	}
	return ""
}

// absoluteFormError checks an absolute-form target: an http or https
// scheme, then an authority that is a valid Host value, without userinfo.
// It returns "" when the target is acceptable.
func absoluteFormError(target string) string {
	i := strings.Index(target, "://")
	if i <= 0 {
		return "malformed request target"
	}
	scheme := strings.ToLower(target[:i])
	if scheme != "http" && scheme != "https" {
		return "absolute-form target with a scheme other than http or https"
	}
	auth := target[i+3:]
	if j := strings.IndexAny(auth, "/?#"); j >= 0 {
		auth = auth[:j]
	}
	if auth == "" || !validAuthority(auth, false) {
		return "absolute-form target with an invalid host"
	}
	if j := strings.IndexByte(target[i+3:], '/'); j >= 0 {
		return pathEscapeError(target[i+3+j:])
	}
	return ""
}

// validAuthority reports whether s is host[:port] as in a Host header
// (RFC 9110 §7.2, RFC 3986 §3.2.2): a reg-name or IPv4 address of
// unreserved, percent-encoded or sub-delim characters, or a bracketed IPv6
// (or IPvFuture) literal, then an optional all-digit port. "" is valid
// (an empty Host). needPort requires a non-empty port (CONNECT).
func validAuthority(s string, needPort bool) bool {
	if s == "" {
		return !needPort
	}
	host, port := s, ""
	hasPort := false
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host = s[1:end]
		if host == "" {
			return false
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !(isHexDigit(c) || c == ':' || c == '.' || c == 'v' || c == 'V' || isSubDelim(c) || isUnreserved(c)) {
				return false
			}
		}
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return false
			}
			port, hasPort = rest[1:], true
		}
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, port, hasPort = s[:i], s[i+1:], true
		}
		if host == "" {
			return false
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			switch {
			case isUnreserved(c) || isSubDelim(c):
			case c == '%' && i+2 < len(host) && isHexDigit(host[i+1]) && isHexDigit(host[i+2]):
				i += 2
			default:
				return false
			}
		}
	}
	if needPort && port == "" {
		return false
	}
	if hasPort {
		if len(port) > 5 {
			return false
		}
		for i := 0; i < len(port); i++ {
			if !isDigit(port[i]) {
				return false
			}
		}
	}
	return true
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTchar(c) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isHexDigit(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isUnreserved(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isSubDelim(c byte) bool { return strings.IndexByte("!$&'()*+,;=", c) >= 0 }
