package main

// The Django differential: the Django 3.2 project testdata/diffdjango
// (admin, sessions, CSRF, GZip and ConditionalGet middleware, sqlite in a
// temporary directory) runs under wsgiserve and under gunicorn 20
// (-k gthread), the server users migrate from, in four pairs (plain
// HTTP; FORCE_SCRIPT_NAME; Unix sockets; TLS with SCRIPT_NAME and
// DEBUG=True), each behind a trusted proxy, and the same requests go to
// both (the flows also through a TLS-terminating proxy): raw ones off sockets where framing matters (odd paths, chunked
// bodies, Host headers) and flows through net/http with a cookie jar (CSRF,
// sessions, the admin login). Its views answer what Django computed
// (request.path, get_host(), is_secure(), build_absolute_uri(), GET,
// FILES, body): any difference fails the test, except those listed in
// diffdjangoKnown with their reason (docs/operations.md, "Coming from
// gunicorn").

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// diffdjangoServer is one server of a pair: where it listens and how to
// reach it.
type diffdjangoServer struct {
	addr string // host:port, or unix:/path for a Unix socket
	tls  *tls.Config
	logs fmt.Stringer
}

// djangoServerAt is the server at addr as diffenvRun.listen and
// diffpeer.start give it ("unix:/path", "tls:host:port" or host:port),
// reached over TLS with conf where it serves TLS.
func djangoServerAt(addr string, conf *tls.Config) diffdjangoServer {
	if hostPort, ok := strings.CutPrefix(addr, "tls:"); ok {
		return diffdjangoServer{addr: hostPort, tls: conf}
	}
	return diffdjangoServer{addr: addr}
}

// dial opens a connection speaking HTTP/1.1.
func (s diffdjangoServer) dial() (net.Conn, error) {
	if path, ok := strings.CutPrefix(s.addr, "unix:"); ok {
		return net.Dial("unix", path)
	}
	if s.tls != nil {
		return tls.Dial("tcp", s.addr, s.tls)
	}
	return net.Dial("tcp", s.addr)
}

// base is the server's URL, with prefix; on a Unix socket its host is
// diffdjango.test (the client dials the socket).
func (s diffdjangoServer) base(prefix string) string {
	if strings.HasPrefix(s.addr, "unix:") {
		return "http://diffdjango.test" + prefix
	}
	if s.tls != nil {
		return "https://" + s.addr + prefix
	}
	return "http://" + s.addr + prefix
}

// raw sends req on a new connection and reads its answer, then, if the
// connection stays open, sends next on it: a.next is what that got.
// With Expect: 100-continue, the body is sent after an interim 100
// answer only (a.interim), as curl does.
func (s diffdjangoServer) raw(req, next string) (rawAnswer, error) {
	return s.rawWithin(req, next, 30*time.Second)
}

// rawWithin is raw within wait.
func (s diffdjangoServer) rawWithin(req, next string, wait time.Duration) (rawAnswer, error) {
	c, err := s.dial()
	if err != nil {
		return rawAnswer{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	head, body, _ := strings.Cut(req, "\r\n\r\n")
	expect := strings.Contains(head, "\r\nExpect: 100-continue")
	if expect {
		req = head + "\r\n\r\n"
	}
	if _, err := io.WriteString(c, req); err != nil {
		return rawAnswer{}, err
	}
	r := bufio.NewReader(c)
	method, _, _ := strings.Cut(req, " ")
	a, open, err := readFinalAnswer(c, r, method, body, expect)
	if err != nil {
		return a, err
	}
	a.next = "closed"
	if !open {
		return a, nil
	}
	if _, err := io.WriteString(c, next); err != nil {
		return a, nil
	}
	if n, _, err := readAnswer(r, "GET"); err == nil {
		a.next = statusCode(n.status)
		if !strings.Contains(n.body, `"path_info": "/i/next"`) {
			a.next += fmt.Sprintf(" %.60q", n.body)
		}
	}
	return a, nil
}

// client is a net/http client with a cookie jar, over HTTP/1.1, that does
// not follow redirects.
func (s diffdjangoServer) client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: s.tls, ForceAttemptHTTP2: false}
	if path, ok := strings.CutPrefix(s.addr, "unix:"); ok {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
	}
	return &http.Client{
		Jar:           jar,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// diffdjangoMask replaces what differs by nature between two runs: the
// server's own port, random tokens and session keys, cookie expiry dates.
var diffdjangoMask = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`csrftoken=[A-Za-z0-9]+`), "csrftoken=TOKEN"},
	{regexp.MustCompile(`sessionid=[a-z0-9]+`), "sessionid=KEY"},
	{regexp.MustCompile(`(name="csrfmiddlewaretoken" value=")[A-Za-z0-9]+`), "${1}TOKEN"},
	{regexp.MustCompile(`expires=[^;]+`), "expires=DATE"},
	{regexp.MustCompile(`^expires: .+`), "expires: DATE"}, // never_cache's, to the second
}

// mask normalises s for server srv.
func (srv diffdjangoServer) mask(s string) string {
	if _, port, err := net.SplitHostPort(srv.addr); err == nil {
		s = strings.ReplaceAll(s, ":"+port, ":PORT")
		s = strings.ReplaceAll(s, `"port": "`+port+`"`, `"port": "PORT"`)
	}
	for _, m := range diffdjangoMask {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return s
}

// diffdjangoCase is one raw request to both servers of a pair.
type diffdjangoCase struct {
	name   string
	tls    bool   // to the second pair: TLS, SCRIPT_NAME=/pfx, DEBUG=True
	forced bool   // to the third: FORCE_SCRIPT_NAME=/forced
	req    string // the raw request; Host: diffdjango.test is added unless it has a Host (or is HTTP/1.0)
	// summary replaces a body that differs by nature (DEBUG pages list
	// the environ) with what is compared of it.
	summary func(body string) string
}

// contains is a summary: which of the strings the body holds (not its
// length: DEBUG pages list the environ).
func contains(subs ...string) func(string) string {
	return func(body string) string {
		var have []string
		for _, s := range subs {
			if strings.Contains(body, s) {
				have = append(have, s)
			}
		}
		return fmt.Sprintf("body contains %q", have)
	}
}

// sha256Body is a summary: the body's length and SHA-256.
func sha256Body(body string) string {
	return fmt.Sprintf("%d bytes, sha256 %x", len(body), sha256.Sum256([]byte(body)))
}

// request completes tc's request, and gives the request sent after it
// on its connection.
func (tc diffdjangoCase) request() (req, next string) {
	head, rest, _ := strings.Cut(tc.req, "\r\n\r\n")
	if !strings.Contains(strings.ToLower(head), "\r\nhost:") && !strings.Contains(head, "HTTP/1.0") {
		head += "\r\nHost: diffdjango.test"
	}
	next = "GET /i/next HTTP/1.1\r\nHost: diffdjango.test\r\nConnection: close\r\n\r\n"
	if tc.tls {
		next = "GET /pfx/i/next HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
	}
	return head + "\r\n\r\n" + rest, next
}

// multipartBody is a multipart/form-data body with a field and files of
// the given sizes, and its Content-Type.
func multipartBody(sizes ...int) (string, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.SetBoundary("diffdjangoboundary")
	w.WriteField("title", "caf\u00e9")
	for i, n := range sizes {
		f, _ := w.CreateFormFile(fmt.Sprintf("f%d", i), fmt.Sprintf("r\u00e9sum\u00e9-%d.txt", n))
		f.Write(bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n])
	}
	w.Close()
	return b.String(), w.FormDataContentType()
}

// diffdjangoCases are the raw requests. Paths under /i/ answer what
// Django computed of the request.
var diffdjangoCases = func() []diffdjangoCase {
	small, smallType := multipartBody(100, 1500)
	big, bigType := multipartBody(100, 5000)
	huge, hugeType := multipartBody(300 << 10)
	long := strings.Repeat("x", 12000)
	fields := strings.Repeat("a=1&", 1100)
	debugPage := contains("RuntimeError", "diffdjango boom", "Page not found", "Using the URLconf", "Server Error (500)")
	return []diffdjangoCase{
		{name: "query", req: "GET /i/abc?x=1&x=2&y=&z HTTP/1.1"},
		{name: "host with port", req: "GET /i/ HTTP/1.1\r\nHost: diffdjango.test:8080"},
		{name: "host in capitals", req: "GET /i/ HTTP/1.1\r\nHost: DiffDjango.TEST"},
		{name: "disallowed host", req: "GET /i/ HTTP/1.1\r\nHost: evil.example"},
		{name: "disallowed host with port", req: "GET /i/ HTTP/1.1\r\nHost: evil.example:80"},
		{name: "invalid host", req: "GET /i/ HTTP/1.1\r\nHost: diffdjango.test:x"},
		{name: "host with underscore", req: "GET /i/ HTTP/1.1\r\nHost: diff_django.test"},
		{name: "HTTP/1.0 without host", req: "GET /i/ HTTP/1.0"},
		{name: "absolute-form target", req: "GET http://diffdjango.test/i/abs?q=1 HTTP/1.1"},
		{name: "proxy https and host", req: "GET /i/p HTTP/1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: proxy.example"},
		{name: "proxy host with port", req: "GET /i/p HTTP/1.1\r\nX-Forwarded-Host: proxy.example:8443"},
		{name: "proxy host disallowed", req: "GET /i/p HTTP/1.1\r\nX-Forwarded-Host: evil.example"},
		{name: "proxy host list", req: "GET /i/p HTTP/1.1\r\nX-Forwarded-Host: proxy.example, evil.example"},
		{name: "proxy http", req: "GET /i/p HTTP/1.1\r\nX-Forwarded-Proto: http"},
		{name: "proxy for", req: "GET /i/p HTTP/1.1\r\nX-Forwarded-For: 203.0.113.9"},
		{name: "append slash", req: "GET /slash HTTP/1.1"},
		{name: "append slash with query", req: "GET /slash?a=1&b=%C3%A9 HTTP/1.1"},
		{name: "append slash POST", req: diffPost("/slash", "application/x-www-form-urlencoded", "a=1")},
		{name: "percent-encoded path and query", req: "GET /i/caf%C3%A9/%2F%20x?q=%E2%82%AC&r=a+b&s=%ZZ HTTP/1.1"},
		{name: "raw UTF-8 path", req: "GET /i/caf\xc3\xa9?q=\xe2\x82\xac HTTP/1.1"},
		{name: "percent-encoded latin-1 path", req: "GET /i/%E9t%E9?q=%E9 HTTP/1.1"},
		{name: "raw latin-1 path", req: "GET /i/\xe9t\xe9 HTTP/1.1"},
		{name: "double slash", req: "GET //i//x HTTP/1.1"},
		{name: "dot segments", req: "GET /i/./a/../b HTTP/1.1"},
		{name: "encoded dot segments", req: "GET /i/%2e%2e/b HTTP/1.1"},
		{name: "semicolon", req: "GET /i/a;b=c?d=e;f HTTP/1.1"},
		{name: "body", req: diffPost("/body", "application/octet-stream", strings.Repeat("b", 5000))},
		{name: "body too big", req: diffPost("/body", "application/octet-stream", long)},
		{name: "chunked body", req: diffChunked("/body", "application/octet-stream", strings.Repeat("c", 5000))},
		{name: "chunked body too big", req: diffChunked("/body", "application/octet-stream", long)},
		{name: "form", req: diffPost("/form", "application/x-www-form-urlencoded", "a=1&a=2&b=caf%C3%A9&c=%E9")},
		{name: "form too big", req: diffPost("/form", "application/x-www-form-urlencoded", "a="+long)},
		{name: "form too many fields", req: diffPost("/form", "application/x-www-form-urlencoded", fields)},
		{name: "chunked form", req: diffChunked("/form", "application/x-www-form-urlencoded", "a=1&b=2")},
		{name: "upload in memory", req: diffPost("/upload", smallType, small)},
		{name: "upload to a temporary file", req: diffPost("/upload", bigType, big)},
		{name: "chunked upload", req: diffChunked("/upload", bigType, big)},
		{name: "upload with Expect", req: strings.Replace(diffPost("/upload", bigType, big), "\r\n", "\r\nExpect: 100-continue\r\n", 1)},
		{name: "body too big with Expect", req: strings.Replace(diffPost("/body", "application/octet-stream", long), "\r\n", "\r\nExpect: 100-continue\r\n", 1)},
		{name: "upload spilled by graft", req: diffPost("/upload", hugeType, huge)},
		{name: "chunked upload spilled by graft", req: diffChunked("/upload", hugeType, huge)},
		{name: "header with underscore", req: "GET /h HTTP/1.1\r\nX_Custom: under\r\nX-Custom: dash"},
		{name: "header twice", req: "GET /h HTTP/1.1\r\nX-Dup: 1\r\nX-Dup: 2"},
		{name: "cookie header twice", req: "GET /h HTTP/1.1\r\nCookie: a=1\r\nCookie: b=2"},
		{name: "cookies quoted and UTF-8", req: "GET /h HTTP/1.1\r\nCookie: q=\"x y\"; u=caf\xc3\xa9; e=; =v; n"},
		{name: "header UTF-8 value", req: "GET /h HTTP/1.1\r\nX-Name: caf\xc3\xa9"},
		{name: "header latin-1 value", req: "GET /h HTTP/1.1\r\nX-Name: caf\xe9"},
		{name: "header empty value", req: "GET /h HTTP/1.1\r\nX-Empty:"},
		{name: "header value padded", req: "GET /h HTTP/1.1\r\nX-Pad:   a  b   "},
		{name: "header obs-fold", req: "GET /h HTTP/1.1\r\nX-Fold: a\r\n b"},
		{name: "content-type on GET", req: "GET /h HTTP/1.1\r\nContent-Type: text/plain"},
		{name: "POST without body", req: "POST /h HTTP/1.1\r\nContent-Length: 0"},
		{name: "POST without length", req: "POST /h HTTP/1.1"},
		{name: "streaming", req: "GET /stream HTTP/1.1"},
		{name: "streaming gzip", req: "GET /stream HTTP/1.1\r\nAccept-Encoding: gzip"},
		{name: "streaming HEAD", req: "HEAD /stream HTTP/1.1"},
		{name: "file", req: "GET /file HTTP/1.1"},
		{name: "file HEAD", req: "HEAD /file HTTP/1.1"},
		{name: "file gzip", req: "GET /file HTTP/1.1\r\nAccept-Encoding: gzip"},
		{name: "big file", req: "GET /bigfile HTTP/1.1", summary: sha256Body},
		{name: "big file HEAD", req: "HEAD /bigfile HTTP/1.1"},
		{name: "big file gzip", req: "GET /bigfile HTTP/1.1\r\nAccept-Encoding: gzip", summary: sha256Body},
		{name: "non-ASCII redirect", req: "GET /redirect HTTP/1.1"},
		{name: "etag", req: "GET /etag HTTP/1.1"},
		{name: "etag 304", req: "GET /etag HTTP/1.1\r\nIf-None-Match: *"},
		{name: "etag gzip", req: "GET /etag HTTP/1.1\r\nAccept-Encoding: gzip"},
		{name: "etag HEAD", req: "HEAD /etag HTTP/1.1"},
		{name: "HEAD info", req: "HEAD /i/h HTTP/1.1"},
		{name: "OPTIONS info", req: "OPTIONS /i/o HTTP/1.1"},
		{name: "not found", req: "GET /nope HTTP/1.1"},
		{name: "exception", req: "GET /boom HTTP/1.1"},
		{name: "permission denied", req: "GET /denied HTTP/1.1"},
		{name: "csrf refused", req: diffPost("/csrf-post", "application/x-www-form-urlencoded", "a=1")},
		{name: "admin redirect", req: "GET /admin/ HTTP/1.1"},

		{name: "forced script name", forced: true, req: "GET /i/x?y=1 HTTP/1.1"},
		{name: "forced append slash", forced: true, req: "GET /slash?a=1 HTTP/1.1"},
		{name: "forced admin redirect", forced: true, req: "GET /admin/ HTTP/1.1"},

		{name: "tls prefix", tls: true, req: "GET /pfx/i/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1"},
		{name: "tls prefix only", tls: true, req: "GET /pfx HTTP/1.1\r\nHost: 127.0.0.1", summary: debugPage},
		{name: "tls prefix slash", tls: true, req: "GET /pfx/ HTTP/1.1\r\nHost: 127.0.0.1", summary: debugPage},
		{name: "tls outside prefix", tls: true, req: "GET /other/i/x HTTP/1.1\r\nHost: 127.0.0.1", summary: debugPage},
		{name: "tls prefix percent-encoded", tls: true, req: "GET /pfx/i/%C3%A9%2F HTTP/1.1\r\nHost: 127.0.0.1"},
		{name: "tls prefix append slash", tls: true, req: "GET /pfx/slash?a=1 HTTP/1.1\r\nHost: 127.0.0.1"},
		{name: "tls proxy http", tls: true, req: "GET /pfx/i/p HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: http"},
		{name: "tls debug exception", tls: true, req: "GET /pfx/boom HTTP/1.1\r\nHost: 127.0.0.1", summary: debugPage},
		{name: "tls debug not found", tls: true, req: "GET /pfx/nope HTTP/1.1\r\nHost: 127.0.0.1", summary: debugPage},
		{name: "tls debug disallowed host", tls: true, req: "GET /pfx/i/ HTTP/1.1\r\nHost: evil.example", summary: contains("DisallowedHost", "Invalid HTTP_HOST header")},
		{name: "tls append slash POST", tls: true, req: strings.Replace(diffPost("/pfx/slash", "application/x-www-form-urlencoded", "a=1"), "\r\n", "\r\nHost: 127.0.0.1\r\n", 1), summary: debugPage},
	}
}()

// diffdjangoKnown are the differences on purpose, by case name: what
// wsgiserve's answer (as the test prints it) contains, and why.
var diffdjangoKnown = map[string]struct{ graft, why string }{
	"invalid host": {`body="400 Bad Request: bad Host header\n"`,
		"a Host header that is not a valid host[:port] is refused by net/http (400) before Django sees it; under gunicorn Django refuses it (400, DisallowedHost logged)"},
	"proxy for": {`\"remote_addr\": \"203.0.113.9\"`,
		"REMOTE_ADDR is the client a -forwarded-allow-ips proxy names in X-Forwarded-For; gunicorn leaves the proxy's address"},
	"raw UTF-8 path": {`\"path\": \"/i/caf\\u00e9\"`,
		"raw (not percent-encoded) UTF-8 in the request target reaches Django as the text sent; gunicorn 20 encodes it twice (request.path /i/caf\u00c3\u00a9)"},
	"raw latin-1 path": {`\"path\": \"/i/%E9t%E9\"`,
		"raw bytes that are not UTF-8 reach Django as bytes, which it re-percent-encodes as for %E9; gunicorn 20 encodes them twice, as UTF-8, and Django sees \u00e9t\u00e9"},
	"chunked body": {`\"len\": 5000`,
		"a chunked body gets CONTENT_LENGTH once Go has read it (docs/wsgi.md): Django reads it; under gunicorn Django reads no CONTENT_LENGTH as 0 and request.body is empty"},
	"chunked body too big": {"HTTP/1.1 400",
		"as chunked body: DATA_UPLOAD_MAX_MEMORY_SIZE applies to a chunked body (400, RequestDataTooBig); gunicorn's Django sees an empty body"},
	"chunked form": {`body="{\"a\": [\"1\"], \"b\": [\"2\"]}"`,
		"as chunked body: request.POST has the fields; gunicorn's Django sees none"},
	"chunked upload": {`\"class\": \"TemporaryUploadedFile\"`,
		"as chunked body: request.FILES has the files; gunicorn's Django sees none. Django streams a body of unknown length to temporary files (both here on disk)"},
	"chunked upload spilled by graft": {`\"size\": 307200`, "as chunked upload"},
	"header with underscore": {`{\"HTTP_X_CUSTOM\": \"dash\"}`,
		"a header with _ in its name is dropped (docs/wsgi.md); gunicorn 20 passes X_Custom as HTTP_X_CUSTOM too, joined to X-Custom's value (a client can spoof a proxy's header)"},
	"cookie header twice": {`\"COOKIES\": {\"a\": \"1\", \"b\": \"2\"}`,
		"Cookie headers sent twice are joined with \"; \" (RFC 9113 8.2.3), so Django sees both cookies; gunicorn joins them with \",\" and Django reads one cookie a=\"1,b=2\""},
	"header value padded": {`\"HTTP_X_PAD\": \"a  b\"`,
		"spaces and tabs at the edges of a header value are not part of it (RFC 9110 5.5) and are trimmed; gunicorn 20 keeps the trailing ones"},
	"header obs-fold": {`body="400 Bad Request: obsolete line folding\n"`,
		"a folded header line (obs-fold) is refused with 400 by graft's request parser (RFC 9112 5.2 allows it; docs/operations.md); gunicorn 20 unfolds it"},
	"unix/invalid host": {`body="400 Bad Request: bad Host header\n"`, "as invalid host"},
	"unix/proxy for": {`\"remote_addr\": \"203.0.113.9\"`, "as proxy for: REMOTE_ADDR is the client a " +
		"-forwarded-allow-ips unix proxy names; gunicorn 20 leaves its \"\""},
	"unix/HEAD info":        {headOK, headWhy},
	"unix/raw UTF-8 path":   {`\"path\": \"/i/caf\\u00e9\"`, "as raw UTF-8 path"},
	"unix/raw latin-1 path": {`\"path\": \"/i/%E9t%E9\"`, "as raw latin-1 path"},
	"unix/proxy host with port": {`\"port\": \"8443\"`, "SERVER_PORT (request.get_port()) is the port of the " +
		"host the app sees, here the X-Forwarded-Host of a -forwarded-allow-ips proxy with -forwarded-host " +
		"(docs/wsgi.md); on a Unix socket gunicorn 20's is the port of the Host field the proxy sent (80 here)"},
	"HEAD info":      {headOK, headWhy},
	"streaming HEAD": {headOK, headWhy},
	"file HEAD":      {headOK, headWhy},
	"etag HEAD":      {headOK, headWhy},
	"big file HEAD":  {headOK, headWhy},
	"tls outside prefix": {"HTTP/1.1 404",
		"a path outside -script-name reaches the app with SCRIPT_NAME empty (Django's 404); gunicorn 20 answers its own 500 for a path outside $SCRIPT_NAME"},
}

const (
	headOK  = `framing=none body="" end=complete next=HTTP/1.1 200`
	headWhy = "the answer to HEAD carries no body: Django's WSGI handler leaves removing it to the server; " +
		"gunicorn 20 sends it, and a keep-alive client reads it as the next response"
)

// diffdjangoRules are the differences on purpose that hold for every
// case, each with its reason (docs/operations.md, "Django: what differs
// from gunicorn"); each rewrites both answers of one request so that
// they compare equal where the difference is the rule's alone.
var diffdjangoRules = []struct {
	why   string
	on    string // "tcp" or "unix": only where the servers listen there
	apply func(g, u *rawAnswer)
}{{
	why: "SERVER_PORT (request.get_port()) is the port of the Host the client asked for, or the scheme's default " +
		"(docs/wsgi.md); gunicorn's is the port of its listener, whatever the Host (on a Unix socket, which has no " +
		"port, gunicorn's is the Host's too)",
	on: "tcp",
	apply: func(g, u *rawAnswer) {
		g.body = graftPort.ReplaceAllString(g.body, `"port": "PORT"`)
	},
}, {
	why: "graft removes the forwarding headers (X-Forwarded-*) before the app, trusted proxy or not, and passes " +
		"what they say as REMOTE_ADDR, wsgi.url_scheme and Host; gunicorn passes them on (docs/operations.md, Coming from gunicorn)",
	apply: func(g, u *rawAnswer) {
		u.body = forwardedHeaders.ReplaceAllString(u.body, `"forwarded_headers": []`)
	},
}, {
	why: "net/http sends no Content-Length on a 304 (TestResponseDifferential); gunicorn passes Django's 0",
	apply: func(g, u *rawAnswer) {
		if u.status == "HTTP/1.1 304" {
			u.header = slices.DeleteFunc(u.header, func(f string) bool { return f == "content-length: 0" })
		}
	},
}}

// applyDjangoRules rewrites g, wsgiserve's answer, and u, a peer's, by
// the rules of diffdjangoRules that hold where they listen (unix: on Unix
// sockets).
func applyDjangoRules(g, u *rawAnswer, unix bool) {
	for _, r := range diffdjangoRules {
		if r.on == "" || (r.on == "unix") == unix {
			r.apply(g, u)
		}
	}
}

var (
	graftPort        = regexp.MustCompile(`"port": "[0-9]+"`)
	forwardedHeaders = regexp.MustCompile(`"forwarded_headers": \[[^]]*\]`)
)

// render prints a as answered by srv, normalised: its port, random tokens
// and dates masked (mask), a summarised body's length and ETag, and the
// Content-Length of a JSON body (its port's digits vary: the body is
// compared).
func (srv diffdjangoServer) render(a rawAnswer, summary func(string) string) string {
	json := slices.Contains(a.header, "content-type: application/json")
	var h []string
	for _, f := range a.header {
		switch {
		case strings.HasPrefix(f, "x-request-id:"):
			continue
		case (summary != nil || json) && strings.HasPrefix(f, "content-length:"):
			f = "content-length: N"
		case (summary != nil || json) && strings.HasPrefix(f, "etag:"):
			f = "etag: E"
		}
		h = append(h, srv.mask(f))
	}
	a.header = h
	if summary != nil {
		a.body = summary(a.body)
	}
	a.body = srv.mask(a.body)
	return a.String()
}

// setupDiffDjango makes the testdata/diffdjango project's database, with
// its admin user, in a temporary directory, and sets the environment
// every server of the project is started with (plain HTTP, no prefix, no
// DEBUG). It returns the project's directory and the temporary one.
func setupDiffDjango(t *testing.T, py string) (dir, tmp string) {
	t.Helper()
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	tmp = t.TempDir()
	t.Setenv("DJANGO_SETTINGS_MODULE", "diffdjango.settings")
	t.Setenv("DIFFDJANGO_DB", filepath.Join(tmp, "db.sqlite3"))
	t.Setenv("DIFFDJANGO_TMP", tmp)
	t.Setenv("DIFFDJANGO_DEBUG", "")
	t.Setenv("SCRIPT_NAME", "")
	t.Setenv("DIFFDJANGO_FORCE_SCRIPT_NAME", "")
	setup := exec.Command(py, "-c", `import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
User.objects.create_superuser("admin", "admin@diffdjango.test", "s3cret-pass")`)
	setup.Dir = dir
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	return dir, tmp
}

// diffdjangoPair is wsgiserve and gunicorn serving the project.
type diffdjangoPair struct{ graft, gunicorn diffdjangoServer }

// startDjangoGraft runs wsgiserve (the binary bin, with Python py)
// serving the project in dir, as setupDiffDjango set it up, on bind, with
// more flags args; conf is how a client reaches it if it serves TLS.
func startDjangoGraft(t *testing.T, bin, py, dir, bind string, conf *tls.Config, args ...string) diffdjangoServer {
	t.Helper()
	s := startCmd(t, exec.Command(bin, append([]string{"-bind", bind, "-python", py, "diffdjango.wsgi:application",
		"-chdir", dir, "-workers", "1", "-threads", "2", "-access-log=false", "-graceful-timeout", "5"}, args...)...), false)
	srv := diffdjangoServer{addr: strings.TrimPrefix(strings.TrimPrefix(s.url, "http://"), "https://"), logs: s.stderr}
	if strings.HasPrefix(s.url, "https://") {
		srv.tls = conf
	}
	return srv
}

// viaInfo reports whether tc is a plain case asking what Django computed
// of the request (a path under /i/), which the runs over a Unix socket
// and over TLS without a prefix send again.
func (tc diffdjangoCase) viaInfo() bool {
	return !tc.tls && !tc.forced && strings.Contains(tc.req, " /i/")
}

// diffdjangoVariant is a way the flows reach a server: under prefix,
// over HTTP/2 (h2, wsgiserve only: gunicorn has HTTP/1.1 only), or
// through a TLS-terminating proxy (proxied: the client asks for https
// URLs, sent over plain HTTP with X-Forwarded-Proto: https, so that
// Django's SECURE_PROXY_SSL_HEADER or the server's trusted proxy makes
// them secure).
type diffdjangoVariant struct {
	name    string // before the flow's name
	prefix  string
	h2      bool
	proxied bool
}

// run runs f against srv as v says.
func (v diffdjangoVariant) run(t *testing.T, f diffdjangoFlow, srv diffdjangoServer) (string, error) {
	t.Helper()
	c, base := srv.client(t), srv.base(v.prefix)
	if v.h2 {
		conf := srv.tls.Clone()
		conf.NextProtos = nil
		c.Transport = &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}
		resp, err := c.Get(base + "/i/")
		if err != nil || resp.Proto != "HTTP/2.0" {
			t.Fatalf("wsgiserve over HTTP/2: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	if v.proxied {
		c.Transport = tlsProxy{c.Transport}
		base = "https://" + strings.TrimPrefix(base, "http://")
	}
	return f.run(c, base)
}

// tlsProxy is a TLS-terminating proxy in front of a server: it sends an
// https request to the server over plain HTTP, with X-Forwarded-Proto:
// https.
type tlsProxy struct{ next http.RoundTripper }

// RoundTrip sends r as the proxy does.
func (p tlsProxy) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if r.URL.Scheme == "https" {
		r.URL.Scheme = "http"
		r.Header.Set("X-Forwarded-Proto", "https")
	}
	return p.next.RoundTrip(r)
}

// TestDjangoDifferential compares what Django computes and answers under
// wsgiserve and under gunicorn.
func TestDjangoDifferential(t *testing.T) {
	py := pythontest.Python(t, "django", "gunicorn")
	bin := opstest.Build(t, "wsgiserve")
	dir, tmp := setupDiffDjango(t, py)

	start := func(args []string, guArgs []string, tlsConf *tls.Config) diffdjangoPair {
		g := startDjangoGraft(t, bin, py, dir, "127.0.0.1:0", tlsConf, args...)
		// gunicorn's listener is open: the first request waits for it
		// to boot.
		addr, logs := pythontest.Gunicorn(t, dir, "diffdjango.wsgi:application", append([]string{"-k", "gthread", "--threads", "2"}, guArgs...)...)
		return diffdjangoPair{graft: g, gunicorn: diffdjangoServer{addr: addr, tls: tlsConf, logs: logs}}
	}
	plain := start([]string{"-forwarded-allow-ips", "127.0.0.1", "-forwarded-host"}, nil, nil)

	t.Setenv("DIFFDJANGO_FORCE_SCRIPT_NAME", "/forced")
	forced := start([]string{"-forwarded-allow-ips", "127.0.0.1", "-forwarded-host"}, nil, nil)
	t.Setenv("DIFFDJANGO_FORCE_SCRIPT_NAME", "")

	// On Unix sockets, as behind nginx on the same host (gunicorn 20
	// trusts any Unix socket peer's scheme headers).
	f, guAddr := diffenvRun{unix: true}.listen(t, "gunicorn")
	unix := diffdjangoPair{
		graft: startDjangoGraft(t, bin, py, dir, "unix:"+filepath.Join(tmp, "graft.sock"), nil,
			"-forwarded-allow-ips", "unix", "-forwarded-host"),
		gunicorn: diffdjangoServer{addr: guAddr,
			logs: pythontest.GunicornOn(t, f, nil, dir, "diffdjango.wsgi:application", "-k", "gthread", "--threads", "2")},
	}

	certFile, keyFile, pool := testcert.Write(t, tmp, 1)
	t.Setenv("DIFFDJANGO_DEBUG", "1")
	t.Setenv("SCRIPT_NAME", "/pfx")
	secure := start([]string{"-certfile", certFile, "-keyfile", keyFile, "-forwarded-allow-ips", "127.0.0.1", "-forwarded-host"},
		[]string{"--certfile", certFile, "--keyfile", keyFile}, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})

	for _, tc := range diffdjangoCases {
		t.Run(tc.name, func(t *testing.T) {
			p := plain
			switch {
			case tc.tls:
				p = secure
			case tc.forced:
				p = forced
			}
			compareDjangoRaw(t, p, tc.name, tc)
		})
	}
	for _, tc := range diffdjangoCases {
		if tc.viaInfo() {
			t.Run("unix/"+tc.name, func(t *testing.T) { compareDjangoRaw(t, unix, "unix/"+tc.name, tc) })
		}
	}
	// Django's own records of 4xx and 5xx (django.request,
	// django.security) reach graft's log, DEBUG or not; under gunicorn,
	// Django's default LOGGING prints them only with DEBUG=True.
	for _, lc := range []struct {
		name   string
		p      diffdjangoPair
		record string
		inGu   bool // in gunicorn's log too
	}{
		{"not found", plain, "Not Found: /nope", false},
		{"exception", plain, "Internal Server Error: /boom", false},
		{"permission denied", plain, "Forbidden (Permission denied): /denied", false},
		{"disallowed host", plain, "Invalid HTTP_HOST header: 'evil.example'", false},
		{"csrf", plain, "Forbidden (CSRF cookie not set.): /csrf-post", false},
		{"debug exception", secure, "Internal Server Error: /pfx/boom", true},
		{"debug not found", secure, "Not Found: /pfx/nope", true},
	} {
		t.Run("log "+lc.name, func(t *testing.T) {
			for i := 0; !strings.Contains(lc.p.graft.logs.String(), lc.record); i++ {
				if i == 100 {
					t.Fatalf("wsgiserve's log has no %q:\n%s", lc.record, lc.p.graft.logs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if in := strings.Contains(lc.p.gunicorn.logs.String(), lc.record); in != lc.inGu {
				t.Errorf("gunicorn's log has %q: %v, want %v:\n%s", lc.record, in, lc.inGu, lc.p.gunicorn.logs)
			}
		})
	}
	// The flows go to each pair; in "tls h2", wsgiserve is asked over
	// HTTP/2 (gunicorn has HTTP/1.1 only); in "proxy https", through a
	// TLS-terminating proxy.
	for _, f := range diffdjangoFlows {
		for _, v := range []struct {
			diffdjangoVariant
			p diffdjangoPair
		}{
			{diffdjangoVariant{name: ""}, plain},
			{diffdjangoVariant{name: "proxy https ", proxied: true}, plain},
			{diffdjangoVariant{name: "forced "}, forced},
			{diffdjangoVariant{name: "unix "}, unix},
			{diffdjangoVariant{name: "tls ", prefix: "/pfx"}, secure},
			{diffdjangoVariant{name: "tls h2 ", prefix: "/pfx", h2: true}, secure},
		} {
			name := v.name + f.name
			t.Run(name, func(t *testing.T) {
				g, err := v.run(t, f, v.p.graft)
				if err != nil {
					t.Fatalf("wsgiserve: %v\n%s", err, g)
				}
				gu := v.diffdjangoVariant
				gu.h2 = false
				u, err := gu.run(t, f, v.p.gunicorn)
				if err != nil {
					t.Fatalf("gunicorn: %v\n%s", err, u)
				}
				compareDjango(t, name, v.p.graft.mask(g), v.p.gunicorn.mask(u))
			})
		}
	}
}

// compareDjangoRaw sends tc's raw request to both servers of p and
// compares their answers as name.
func compareDjangoRaw(t *testing.T, p diffdjangoPair, name string, tc diffdjangoCase) {
	t.Helper()
	g, err := p.graft.raw(tc.request())
	if err != nil {
		t.Fatalf("wsgiserve: %v\n%s", err, g)
	}
	u, err := p.gunicorn.raw(tc.request())
	if err != nil {
		t.Fatalf("gunicorn: %v\n%s", err, u)
	}
	g, u = normalise(g), normalise(u)
	g.status, u.status = statusCode(g.status), statusCode(u.status)
	applyDjangoRules(&g, &u, strings.HasPrefix(p.graft.addr, "unix:"))
	compareDjango(t, name, p.graft.render(g, tc.summary), p.gunicorn.render(u, tc.summary))
}

// compareDjango compares wsgiserve's answer g to gunicorn's u, as
// rendered, or checks a known difference.
func compareDjango(t *testing.T, name, g, u string) {
	t.Helper()
	if testing.Verbose() {
		t.Logf("wsgiserve:\n%s\ngunicorn:\n%s", g, u)
	}
	if known, ok := diffdjangoKnown[name]; ok {
		if !strings.Contains(g, known.graft) || g == u {
			t.Errorf("known difference (%s) changed: wsgiserve's answer should contain %q and differ from gunicorn's:\nwsgiserve:\n%s\ngunicorn:\n%s",
				known.why, known.graft, g, u)
		}
		return
	}
	if g != u {
		t.Errorf("differs from gunicorn:\nwsgiserve:\n%s\ngunicorn:\n%s", g, u)
	}
}

// diffdjangoFlow is a sequence of requests through net/http with a cookie
// jar; run returns its transcript.
type diffdjangoFlow struct {
	name string
	run  func(c *http.Client, base string) (string, error)
}

// transcript records requests' answers.
type transcript struct {
	c    *http.Client
	base string
	out  strings.Builder
	last string // the last body
}

func (tr *transcript) do(method, path string, form url.Values, header ...string) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, tr.base+path, body)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := tr.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	tr.last = string(b)
	var cookies []string
	for _, c := range resp.Cookies() {
		cookies = append(cookies, c.Name)
	}
	summary := tr.last
	if len(summary) > 200 || strings.Contains(summary, "<html") {
		summary = fmt.Sprintf("%d bytes", len(b))
		for _, s := range []string{"Site administration", "Log in", "CSRF verification failed", "Referer checking failed", "no Referer", "Please enter the correct"} {
			if strings.Contains(tr.last, s) {
				summary += fmt.Sprintf(" %q", s)
			}
		}
	}
	fmt.Fprintf(&tr.out, "%s %s -> %d location=%q cookies=%v %s\n", method, path, resp.StatusCode,
		resp.Header.Get("Location"), cookies, summary)
	return nil
}

var tokenRe = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`)

func (tr *transcript) token() string {
	m := tokenRe.FindStringSubmatch(tr.last)
	if m == nil {
		return ""
	}
	return m[1]
}

var diffdjangoFlows = []diffdjangoFlow{{
	name: "csrf",
	run: func(c *http.Client, base string) (string, error) {
		tr := &transcript{c: c, base: base}
		u, err := url.Parse(base)
		if err != nil {
			return "", err
		}
		steps := []func() error{
			func() error { return tr.do("GET", "/csrf", nil) },
			func() error {
				return tr.do("POST", "/csrf-post", url.Values{"csrfmiddlewaretoken": {tr.token()}, "a": {"1"}}, "Referer", base+"/csrf")
			},
			func() error { return tr.do("POST", "/csrf-post", url.Values{"a": {"1"}}, "Referer", base+"/csrf") },
			func() error { return tr.do("GET", "/csrf", nil) },
			func() error { return tr.do("POST", "/csrf-post", url.Values{"csrfmiddlewaretoken": {tr.token()}}) },
			func() error { return tr.do("GET", "/csrf", nil) },
			func() error {
				return tr.do("POST", "/csrf-post", url.Values{"csrfmiddlewaretoken": {tr.token()}}, "Referer", "https://evil.example/")
			},
			func() error { return tr.do("GET", "/csrf", nil) },
			func() error {
				return tr.do("POST", "/csrf-post", url.Values{"csrfmiddlewaretoken": {tr.token()}}, "X-Csrftoken", "wrong")
			},
			// Over https (TLS, or a proxy's X-Forwarded-Proto): a
			// Referer of the same host over http is insecure; Django 3.2
			// checks no Origin (4.0 does), so a foreign one passes with
			// a good Referer and a same one does not stand in for it.
			func() error { return tr.do("GET", "/csrf", nil) },
			func() error {
				return tr.do("POST", "/csrf-post", url.Values{"csrfmiddlewaretoken": {tr.token()}},
					"Referer", "http://"+u.Host+u.Path+"/csrf")
			},
			func() error { return tr.do("GET", "/csrf", nil) },
			func() error {
				return tr.do("POST", "/csrf-post", url.Values{"csrfmiddlewaretoken": {tr.token()}},
					"Referer", base+"/csrf", "Origin", "https://evil.example")
			},
			func() error { return tr.do("GET", "/csrf", nil) },
			func() error {
				return tr.do("POST", "/csrf-post", url.Values{"csrfmiddlewaretoken": {tr.token()}},
					"Origin", u.Scheme+"://"+u.Host)
			},
		}
		for _, s := range steps {
			if err := s(); err != nil {
				return tr.out.String(), err
			}
		}
		return tr.out.String(), nil
	},
}, {
	name: "session and admin login",
	run: func(c *http.Client, base string) (string, error) {
		tr := &transcript{c: c, base: base}
		steps := []func() error{
			func() error { return tr.do("GET", "/session", nil) },
			func() error { return tr.do("GET", "/session", nil) },
			func() error { return tr.do("GET", "/admin/", nil) },
			func() error { return tr.do("GET", "/admin/login/?next=/admin/", nil) },
			func() error {
				return tr.do("POST", "/admin/login/?next=/admin/", url.Values{"csrfmiddlewaretoken": {tr.token()},
					"username": {"admin"}, "password": {"wrong"}, "next": {"/admin/"}}, "Referer", base+"/admin/login/")
			},
			func() error {
				return tr.do("POST", "/admin/login/?next=/admin/", url.Values{"csrfmiddlewaretoken": {tr.token()},
					"username": {"admin"}, "password": {"s3cret-pass"}, "next": {"/admin/"}}, "Referer", base+"/admin/login/")
			},
			func() error { return tr.do("GET", "/admin/", nil) },
			func() error { return tr.do("GET", "/session", nil) },
		}
		for _, s := range steps {
			if err := s(); err != nil {
				return tr.out.String(), err
			}
		}
		return tr.out.String(), nil
	},
}}

// TestDjangoDifferentialTable checks the table: case names are unique and
// each known difference names a case.
func TestDjangoDifferentialTable(t *testing.T) {
	names := map[string]bool{}
	for _, tc := range diffdjangoCases {
		if names[tc.name] {
			t.Errorf("case %q twice", tc.name)
		}
		names[tc.name] = true
	}
	for _, tc := range diffdjangoCases {
		if tc.viaInfo() {
			names["unix/"+tc.name] = true
		}
	}
	for _, f := range diffdjangoFlows {
		for _, v := range []string{"", "proxy https ", "forced ", "unix ", "tls ", "tls h2 "} {
			names[v+f.name] = true
		}
	}
	for name, known := range diffdjangoKnown {
		if !names[name] {
			t.Errorf("known difference %q: no such case", name)
		}
		if known.graft == "" || known.why == "" {
			t.Errorf("known difference %q: what wsgiserve answers and why must be given", name)
		}
	}
}
