package main

// The Flask differential: the Flask 2.2 app testdata/diffflask_app.py
// (sessions, flash messages, url_for, redirects, forms and uploads, JSON,
// request.stream, send_file, stream_with_context, abort and error
// handlers, before/after/teardown callbacks, behind werkzeug's ProxyFix)
// runs under wsgiserve, gunicorn 20 (-k gthread) and waitress, plain and
// with SCRIPT_NAME=/pfx, each behind a trusted proxy (wsgiserve's
// -forwarded-allow-ips and -forwarded-host; gunicorn's default trust of
// 127.0.0.1; ProxyFix in the app), and the same requests go to each: raw
// ones off sockets where framing matters, every GET also as HEAD, and
// flows through net/http with a cookie jar (the session, flashes,
// teardowns). The views answer what Flask computed (request.url, url_for,
// args, cookies, form, files, JSON, body). wsgiserve and gunicorn are
// compared; where they differ, waitress (a strict PEP 3333 server) is
// asked too, as a tie-breaker. Any difference fails the test, except those
// listed in diffflaskKnown with their reason and the side waitress takes
// (docs/operations.md, "Flask: what differs from gunicorn").
//
// The servers, raw exchanges, normalisation and transcripts are the
// Django and response differentials' (diffdjangoServer, normalise,
// diffrespRules, transcript).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
)

// diffflaskHost is the Host of the raw requests that do not send their own.
const diffflaskHost = "diffflask.test"

// diffflaskCase is one raw request to the three servers.
type diffflaskCase struct {
	name   string
	prefix bool   // to the SCRIPT_NAME=/pfx trio
	req    string // the raw request; Host: diffflask.test is added unless it has a Host (or is HTTP/1.0)
	// summary replaces a body that is long with what is compared of it.
	summary func(body string) string
	// halfClose: the client ends its side of the connection after the
	// request (a body shorter than its Content-Length stays short).
	halfClose bool
}

// request completes tc's request, and gives the request sent after it on
// its connection.
func (tc diffflaskCase) request() (req, next string) {
	head, rest, _ := strings.Cut(tc.req, "\r\n\r\n")
	if !strings.Contains(strings.ToLower(head), "\r\nhost:") && !strings.Contains(head, "HTTP/1.0") {
		head += "\r\nHost: " + diffflaskHost
	}
	prefix := ""
	if tc.prefix {
		prefix = "/pfx"
	}
	next = "GET " + prefix + "/i/next HTTP/1.1\r\nHost: " + diffflaskHost + "\r\nConnection: close\r\n\r\n"
	return head + "\r\n\r\n" + rest, next
}

// head is tc sent as HEAD, if tc is a GET.
func (tc diffflaskCase) head() (diffflaskCase, bool) {
	rest, ok := strings.CutPrefix(tc.req, "GET ")
	if !ok {
		return tc, false
	}
	tc.name, tc.req = "HEAD "+tc.name, "HEAD "+rest
	return tc, true
}

// multipartFiles is a multipart/form-data body, with boundary, of the
// fields and of files named by their field, file name and size (their
// bytes a repeated pattern), and its Content-Type.
func multipartFiles(boundary string, fields map[string]string, files ...struct {
	field, name string
	size        int
}) (string, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.SetBoundary(boundary)
	for _, k := range []string{"title", "note", "empty"} {
		if v, ok := fields[k]; ok {
			w.WriteField(k, v)
		}
	}
	for _, f := range files {
		fw, _ := w.CreateFormFile(f.field, f.name)
		fw.Write(bytes.Repeat([]byte("0123456789abcdef"), f.size/16+1)[:f.size])
	}
	w.Close()
	return b.String(), w.FormDataContentType()
}

// diffflaskCases are the raw requests. Paths under /i/ answer what Flask
// computed of the request; every GET is also sent as HEAD.
var diffflaskCases = func() []diffflaskCase {
	type file = struct {
		field, name string
		size        int
	}
	fields := map[string]string{"title": "caf\u00e9", "note": "a\r\nb", "empty": ""}
	upload, uploadType := multipartFiles("diffflaskboundary", fields,
		file{"doc", "r\u00e9sum\u00e9.txt", 1500}, file{"doc", "second.txt", 10}, file{"nothing", "", 0}, file{"zero", "zero.bin", 0})
	large, largeType := multipartFiles("diffflasklarge", fields, file{"big", "big.bin", 400 << 10})
	tooLarge, tooLargeType := multipartFiles("diffflasktoolarge", nil, file{"big", "big.bin", 600 << 10})
	const form = "application/x-www-form-urlencoded"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Repeat("compressed ", 100)))
	zw.Close()
	gzipped := gz.String()
	long := strings.Repeat("x", 3900)
	return []diffflaskCase{
		// What the app sees of the request.
		{name: "info", req: diffGet("/i/abc?x=1&x=2&y=&z")},
		{name: "info root", req: diffGet("/i/")},
		{name: "info HTTP/1.0 without host", req: "GET /i/old HTTP/1.0"},
		{name: "info host with port", req: diffGet("/i/h", "Host: diffflask.test:8080")},
		{name: "host in capitals", req: diffGet("/i/h", "Host: DiffFlask.TEST")},
		{name: "invalid host", req: diffGet("/i/h", "Host: diffflask.test:x")},
		{name: "host with underscore", req: diffGet("/i/h", "Host: diff_flask.test")},
		{name: "absolute-form target", req: diffGet("http://other.example/i/abs?q=1")},
		{name: "proxy scheme, client and host", req: diffGet("/i/p", "X-Forwarded-For: 203.0.113.9", "X-Forwarded-Proto: https", "X-Forwarded-Host: proxy.example")},
		{name: "proxy host with port", req: diffGet("/i/p", "X-Forwarded-Host: proxy.example:8443")},
		{name: "proxy prefix", req: diffGet("/i/p", "X-Forwarded-Prefix: /ext")},
		{name: "proxy host and port", req: diffGet("/i/p", "X-Forwarded-Proto: https", "X-Forwarded-Host: proxy.example", "X-Forwarded-Port: 8443")},
		{name: "proxy host list", req: diffGet("/i/p", "X-Forwarded-Host: a.example, b.example")},
		{name: "proxy scheme list", req: diffGet("/i/p", "X-Forwarded-Proto: http, https")},
		{name: "proxy host odd", req: diffGet("/i/p", "X-Forwarded-Host: proxy.example/evil?x")},
		{name: "proxy headers twice", req: diffGet("/i/p", "X-Forwarded-Host: a.example", "X-Forwarded-Host: b.example", "X-Forwarded-For: 198.51.100.1", "X-Forwarded-For: 203.0.113.9")},
		{name: "proxy client list", req: diffGet("/i/p", "X-Forwarded-For: 198.51.100.1, 203.0.113.9")},
		{name: "percent-encoded UTF-8", req: diffGet("/i/caf%C3%A9/%E2%82%AC?q=%E2%82%AC&r=a+b&s=%ZZ")},
		{name: "percent-encoded latin-1", req: diffGet("/i/%E9t%E9?q=%E9")},
		{name: "raw UTF-8", req: diffGet("/i/caf\xc3\xa9?q=\xe2\x82\xac")},
		{name: "raw latin-1", req: diffGet("/i/\xe9t\xe9?q=\xe9")},
		{name: "encoded slash", req: diffGet("/i/a%2Fb")},
		{name: "dot segments", req: diffGet("/i/./a/../b")},
		{name: "encoded dot segments", req: diffGet("/i/%2e%2e/b")},
		{name: "double slashes", req: diffGet("//i//x")},
		{name: "missing slash", req: diffGet("/i?q=1")},
		{name: "encoded NUL", req: diffGet("/i/a%00b?q=%00")},
		{name: "semicolons", req: diffGet("/i/a;b=c?d=e;f=g")},
		{name: "long URL", req: diffGet("/i/" + long)},
		{name: "long query", req: diffGet("/i/q?q=" + long)},
		{name: "long header", req: diffGet("/i/h", "X-Long: "+strings.Repeat("v", 8000))},
		{name: "long cookie", req: diffGet("/i/c", "Cookie: big="+strings.Repeat("c", 8000))},
		{name: "cookies odd", req: diffGet("/i/c", "Cookie: a=\"x y\"; b=caf\xc3\xa9; c=a=b; d=%E9; e=; f=\"\\\"q\\\"\"; g=1,2; =v; h")},
		{name: "cookies without spaces", req: diffGet("/i/c", "Cookie: a=1;b=2;;c=3; $Version=1; d")},
		{name: "many cookies", req: diffGet("/i/c", "Cookie: "+manyCookies(60))},
		{name: "cookie latin-1", req: diffGet("/i/c", "Cookie: l=caf\xe9")},
		{name: "cookie header twice", req: diffGet("/i/c", "Cookie: a=1", "Cookie: b=2")},
		{name: "header UTF-8 and latin-1", req: diffGet("/i/h", "X-Utf: caf\xc3\xa9", "X-Lat: caf\xe9")},
		{name: "OPTIONS", req: "OPTIONS /file HTTP/1.1"},

		// Sessions, flashes, redirects.
		{name: "cookies set", req: diffGet("/cookies/set")},
		{name: "session new", req: diffGet("/session")},
		{name: "session permanent", req: diffGet("/session/permanent")},
		{name: "session tampered", req: diffGet("/session", "Cookie: session=eyJuIjo5OX0.bad.sig")},
		{name: "flash", req: diffPost("/flash", form, "msg=caf%C3%A9&cat=info")},
		{name: "redirect", req: diffGet("/redirect")},
		{name: "redirect external", req: diffGet("/redirect/external")},
		{name: "redirect external behind proxy", req: diffGet("/redirect/external", "X-Forwarded-Proto: https", "X-Forwarded-Host: proxy.example")},
		{name: "redirect 307 POST", req: diffPost("/redirect/307", form, "a=1")},
		{name: "redirect other", req: diffGet("/redirect/other")},

		// Forms and uploads.
		{name: "form", req: diffPost("/form", form, "a=1&a=2&b=caf%C3%A9&c=%E9&d=a+b&e")},
		{name: "form chunked", req: diffChunked("/form", form, "a=1&b=2")},
		{name: "multipart", req: diffPost("/form", uploadType, upload)},
		{name: "multipart chunked", req: diffChunked("/form", uploadType, upload)},
		{name: "multipart with Expect", req: diffPost("/form", uploadType, upload, "Expect: 100-continue")},
		{name: "multipart large file", req: diffPost("/form", largeType, large)},
		{name: "multipart large file chunked", req: diffChunked("/form", largeType, large)},
		{name: "multipart too large", req: diffPost("/form", tooLargeType, tooLarge)},
		{name: "multipart too large with Expect", req: diffPost("/form", tooLargeType, tooLarge, "Expect: 100-continue")},
		{name: "before_request stops a POST with Expect", req: strings.Replace(diffPost("/before/stop", uploadType, upload, "Expect: 100-continue"), "POST /before/stop", "POST /before/stop", 1)},
		{name: "multipart too large chunked", req: diffChunked("/form", tooLargeType, tooLarge)},
		{name: "multipart missing boundary", req: diffPost("/form", "multipart/form-data", upload)},
		{name: "multipart wrong boundary", req: diffPost("/form", "multipart/form-data; boundary=other", upload)},
		{name: "multipart truncated", req: diffPost("/form", uploadType, upload[:len(upload)/2])},

		// JSON and raw bodies.
		{name: "json", req: diffPost("/json", "application/json", `{"a": "caf\u00e9", "n": [1, 2.5, null]}`)},
		{name: "json bad", req: diffPost("/json", "application/json", `{bad`)},
		{name: "json empty", req: diffPost("/json", "application/json", "")},
		{name: "json wrong type", req: diffPost("/json", "text/plain", `{"a": 1}`)},
		{name: "json silent bad", req: diffPost("/json/silent", "application/json", `{bad`)},
		{name: "json chunked", req: diffChunked("/json", "application/json", `{"a": [1, 2, 3]}`)},
		{name: "json latin-1 bytes", req: diffPost("/json", "application/json", "{\"a\": \"caf\xe9\"}")},
		{name: "data", req: diffPost("/data", "application/octet-stream", strings.Repeat("d", 5000))},
		{name: "data gzip-encoded", req: diffPost("/data", "application/octet-stream", gzipped, "Content-Encoding: gzip")},
		{name: "data chunked", req: diffChunked("/data", "application/octet-stream", strings.Repeat("d", 5000))},
		{name: "data chunked spilled", req: diffChunked("/data", "application/octet-stream", strings.Repeat("0123456789", 20000))},
		{name: "data too large", req: diffPost("/data", "application/octet-stream", strings.Repeat("t", 600<<10))},
		{name: "stream read", req: diffPost("/stream-read", "application/octet-stream", strings.Repeat("s", 5500))},
		{name: "stream read chunked", req: diffChunked("/stream-read", "application/octet-stream", strings.Repeat("s", 5500))},
		{name: "body shorter than Content-Length", halfClose: true, req: "POST /data HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nshort"},
		{name: "stream read shorter than Content-Length", halfClose: true, req: "POST /stream-read HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nshort"},
		{name: "form shorter than Content-Length", halfClose: true, req: "POST /form HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\na=1&b=2"},
		{name: "chunked body cut", halfClose: true, req: "POST /data HTTP/1.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nshort"},
		{name: "body longer than Content-Length", req: "POST /data HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloEXTRA"},

		// Files.
		{name: "file", req: diffGet("/file"), summary: sha256Body},
		{name: "file range", req: diffGet("/file", "Range: bytes=10-29")},
		{name: "file suffix range", req: diffGet("/file", "Range: bytes=-20")},
		{name: "file open range", req: diffGet("/file", "Range: bytes=11170-")},
		{name: "file range past the end", req: diffGet("/file", "Range: bytes=20000-30000")},
		{name: "file two ranges", req: diffGet("/file", "Range: bytes=0-4,10-14"), summary: sha256Body},
		{name: "file bad range", req: diffGet("/file", "Range: lines=1-2"), summary: sha256Body},
		{name: "file If-None-Match *", req: diffGet("/file", "If-None-Match: *")},
		{name: "file If-Modified-Since future", req: diffGet("/file", "If-Modified-Since: Thu, 01 Jan 2099 00:00:00 GMT")},
		{name: "file If-Modified-Since past", req: diffGet("/file", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"), summary: sha256Body},
		{name: "big file", req: diffGet("/file/big"), summary: sha256Body},
		{name: "big file range", req: diffGet("/file/big", "Range: bytes=1000000-1000099")},
		{name: "big file suffix range", req: diffGet("/file/big", "Range: bytes=-100")},
		{name: "big file open range", req: diffGet("/file/big", "Range: bytes=100-"), summary: sha256Body},
		{name: "big file first byte", req: diffGet("/file/big", "Range: bytes=0-0")},
		{name: "opened file", req: diffGet("/file/open"), summary: sha256Body},
		{name: "opened file range", req: diffGet("/file/open", "Range: bytes=2000000-2000099"), summary: sha256Body},
		{name: "opened file open range", req: diffGet("/file/open", "Range: bytes=3000000-"), summary: sha256Body},
		{name: "opened file If-None-Match", req: diffGet("/file/open", `If-None-Match: "big-v1"`)},
		{name: "file download", req: diffGet("/file/download"), summary: sha256Body},
		{name: "bytesio", req: diffGet("/file/bytesio")},
		{name: "bytesio etag", req: diffGet("/file/bytesio", `If-None-Match: "digits-v1"`)},
		{name: "bytesio range", req: diffGet("/file/bytesio", "Range: bytes=5-14")},
		{name: "bytesio If-Range", req: diffGet("/file/bytesio", "Range: bytes=5-14", `If-Range: "digits-v1"`)},
		{name: "bytesio If-Range stale", req: diffGet("/file/bytesio", "Range: bytes=5-14", `If-Range: "old"`)},

		// Streams, errors, callbacks.
		{name: "stream_with_context", req: diffGet("/gen?who=caf%C3%A9")},
		{name: "stream reading the body", req: diffPost("/gen/echo", "application/octet-stream", strings.Repeat("e", 2500))},
		{name: "stream reading a chunked body", req: diffChunked("/gen/echo", "application/octet-stream", strings.Repeat("e", 2500))},
		{name: "stream big", req: diffGet("/gen/big"), summary: sha256Body},
		{name: "HTTP/1.0 stream big", req: "GET /gen/big?n=50 HTTP/1.0", summary: sha256Body},
		{name: "status 204 with body", req: diffGet("/status/204")},
		{name: "status 304 with body", req: diffGet("/status/304")},
		{name: "status 205 with body", req: diffGet("/status/205")},
		{name: "header latin-1 from the app", req: diffGet("/hdr/latin1")},
		{name: "header UTF-8 from the app", req: diffGet("/hdr/utf8")},
		{name: "stream empty", req: diffGet("/gen/empty")},
		{name: "HTTP/1.0 stream", req: "GET /gen?who=old HTTP/1.0"},
		{name: "not found", req: diffGet("/nope")},
		{name: "abort 401", req: diffGet("/abort/401")},
		{name: "abort 404", req: diffGet("/abort/404")},
		{name: "abort 418", req: diffGet("/abort/418")},
		{name: "abort 500", req: diffGet("/abort/500")},
		{name: "method not allowed", req: diffPost("/file", form, "a=1")},
		{name: "exception", req: diffGet("/boom")},
		{name: "before_request stops", req: diffGet("/before/stop")},

		// Under SCRIPT_NAME=/pfx.
		{name: "prefix info", prefix: true, req: diffGet("/pfx/i/x?y=1")},
		{name: "prefix percent-encoded", prefix: true, req: diffGet("/pfx/i/caf%C3%A9%2F")},
		{name: "prefix only", prefix: true, req: diffGet("/pfx")},
		{name: "prefix slash", prefix: true, req: diffGet("/pfx/")},
		{name: "prefix outside", prefix: true, req: diffGet("/other/i/x")},
		{name: "prefix proxy", prefix: true, req: diffGet("/pfx/i/p", "X-Forwarded-Proto: https", "X-Forwarded-Host: proxy.example", "X-Forwarded-Prefix: /ext")},
		{name: "prefix redirect", prefix: true, req: diffGet("/pfx/redirect")},
		{name: "prefix redirect external", prefix: true, req: diffGet("/pfx/redirect/external")},
		{name: "prefix session", prefix: true, req: diffGet("/pfx/session/permanent")},
		{name: "prefix flash", prefix: true, req: diffPost("/pfx/flash", form, "msg=x")},
		{name: "prefix not found", prefix: true, req: diffGet("/pfx/nope")},
		{name: "prefix file range", prefix: true, req: diffGet("/pfx/file", "Range: bytes=0-9")},
		{name: "prefix multipart", prefix: true, req: diffPost("/pfx/form", uploadType, upload)},
	}
}()

// manyCookies is a Cookie header value of n cookies.
func manyCookies(n int) string {
	var cs []string
	for i := range n {
		cs = append(cs, fmt.Sprintf("c%d=v%d", i, i))
	}
	return strings.Join(cs, "; ")
}

// diffflaskAllCases are diffflaskCases and the HEAD of each GET.
func diffflaskAllCases() []diffflaskCase {
	var all []diffflaskCase
	for _, tc := range diffflaskCases {
		all = append(all, tc)
		if h, ok := tc.head(); ok {
			all = append(all, h)
		}
	}
	return all
}

// diffflaskSide is whom waitress agrees with where wsgiserve and gunicorn
// differ.
type diffflaskSide string

const (
	sideGraft    diffflaskSide = "wsgiserve"
	sideGunicorn diffflaskSide = "gunicorn"
	sideNeither  diffflaskSide = "neither"
)

// diffflaskKnown are the differences on purpose, by case name: what
// wsgiserve's answer (as the test prints it) contains, whom waitress
// sides with, and why.
var diffflaskKnown = map[string]struct {
	graft    string
	waitress diffflaskSide
	why      string
}{
	"raw UTF-8": {`\"path_info\": \"/i/caf\\u00e9\"`, sideNeither,
		"raw (not percent-encoded) UTF-8 in the request target reaches Flask as the text sent (request.path /i/caf\u00e9, as for %C3%A9); " +
			"gunicorn 20 encodes it twice (/i/caf\u00c3\u00a9); waitress refuses it (400 Bad URI)"},
	"cookie header twice": {`\"cookies\": {\"a\": [\"1\"], \"b\": [\"2\"]}`, sideNeither,
		"Cookie headers sent twice are joined with \"; \" (RFC 9113 8.2.3), so Flask sees both cookies; " +
			"gunicorn joins them with \",\" and waitress with \", \": Flask reads one cookie a, \"1,b=2\" or \"1, b=2\""},
	"form chunked":                 {`\"content_length\": 7,`, sideGraft, chunkedLength},
	"multipart chunked":            {`\"content_length\": 2277,`, sideGraft, chunkedLength},
	"multipart large file chunked": {`\"content_length\": 409958,`, sideGraft, chunkedLength},
	"data chunked":                 {`\"content_length\": 5000,`, sideGraft, chunkedLength},
	"data chunked spilled":         {`\"content_length\": 200000,`, sideGraft, chunkedLength},
	"multipart too large chunked": {"HTTP/1.1 413", sideGraft,
		"as " + chunkedLength + ": MAX_CONTENT_LENGTH applies to a chunked body (413); under gunicorn Flask reads it whole, past the limit"},
	"invalid host":      {`body="400 Bad Request: bad Host header\n"`, sideGunicorn, badHost},
	"HEAD invalid host": {"HTTP/1.1 400", sideNeither, badHost + " (waitress closes the connection after HEAD)"},
	"absolute-form target": {`\"host\": \"other.example\"`, sideGunicorn,
		"an absolute-form target's authority is the host Flask sees (RFC 9112 3.2.2: the Host header is ignored then; HTTP_HOST, docs/wsgi.md); " +
			"gunicorn and waitress pass the Host header"},
	"proxy host odd": {`\"host\": \"diffflask.test\"`, sideGunicorn,
		"a trusted proxy's X-Forwarded-Host that is not name[:port] is ignored (docs/middleware.md) and the app sees the Host sent; " +
			"under gunicorn (and waitress) ProxyFix takes it whole and url_for(_external=True) builds http://proxy.example/evil?x/..."},
	"header UTF-8 from the app":      {"HTTP/1.1 500", sideNeither, utf8Header},
	"HEAD header UTF-8 from the app": {"HTTP/1.1 500", sideGraft, utf8Header},
	"prefix outside": {"HTTP/1.1 404", sideGraft,
		"a path outside -script-name reaches the app with SCRIPT_NAME empty (Flask's 404 handler); gunicorn 20 answers its own 500 for a path outside $SCRIPT_NAME"},
	"HEAD prefix outside": {"HTTP/1.1 404", sideNeither,
		"as prefix outside (waitress's 404 closes the connection after HEAD)"},
	"body shorter than Content-Length":        {cutBody400, sideNeither, cutBody},
	"stream read shorter than Content-Length": {cutBody400, sideNeither, cutBody},
	"form shorter than Content-Length":        {cutBody400, sideNeither, cutBody},
	"chunked body cut": {cutBody400, sideNeither,
		"as body shorter than Content-Length; under gunicorn the app's read raises (NoMoreData, Flask's 500)"},
}

const (
	badHost = "a Host header that is not a valid host[:port] is refused by net/http (400) before Flask sees it; " +
		"gunicorn and waitress pass it, and Flask builds url_for(_external=True) on it (http://diffflask.test:x/...)"
	utf8Header = "a response header value that is not Latin-1 (PEP 3333: \"\u2713\") is refused by start_response: graft's 500 and the app's traceback, the connection kept; " +
		"gunicorn closes the connection without an answer (UnicodeEncodeError in its log), waitress answers its own 500 and closes"
	chunkedLength = "a chunked body gets CONTENT_LENGTH once Go has read it (docs/wsgi.md), as waitress does: " +
		"request.content_length is its length; under gunicorn it is None (Flask reads the body through wsgi.input_terminated)"
	cutBody400 = "HTTP/1.1 400\n  content-length: 12\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n" +
		"  framing=length body=\"Bad Request\\n\" end=complete"
	cutBody = "a body the client ends before its Content-Length (or last chunk) is a 400 and the app never runs; " +
		"under gunicorn the app runs on the part (request.get_data(), request.stream and request.form see 5 bytes of a Content-Length of 100: a silent wrong answer); " +
		"waitress closes the connection without an answer"
)

// diffflaskMask replaces what differs by nature between two servers: the
// signed session cookie (it carries the time it was signed) and cookie
// expiry dates.
var diffflaskMask = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`session=[A-Za-z0-9._-]+`), "session=SIGNED"},
	{regexp.MustCompile(`(?i)expires=[^;]+`), "expires=DATE"},
}

// diffflaskTrio is wsgiserve, gunicorn and waitress serving the app.
type diffflaskTrio struct{ graft, gunicorn, waitress diffdjangoServer }

// answer sends tc to srv and returns the answer, normalised: "no
// answer" when the server closed the connection without one.
func (tc diffflaskCase) answer(srv diffdjangoServer) (rawAnswer, error) {
	var a rawAnswer
	var err error
	if tc.halfClose {
		a, err = halfClosed(srv.addr, tc.req)
	} else {
		a, err = srv.raw(tc.request())
	}
	if err != nil && a.status == "" && errors.Is(err, io.EOF) {
		return rawAnswer{status: "no answer", next: "closed"}, nil
	}
	return normalise(a), err
}

// halfClosed sends req to addr (TCP), closes the connection's sending
// side and reads the answer (an error wrapping io.EOF if the server
// closed without one).
func halfClosed(addr, req string) (rawAnswer, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return rawAnswer{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	head, body, _ := strings.Cut(req, "\r\n\r\n")
	if _, err := io.WriteString(c, head+"\r\nHost: "+diffflaskHost+"\r\n\r\n"+body); err != nil {
		return rawAnswer{}, err
	}
	c.(*net.TCPConn).CloseWrite()
	method, _, _ := strings.Cut(req, " ")
	a, _, err := readAnswer(bufio.NewReader(c), method)
	a.next = "closed"
	return a, err
}

// render prints a as srv answered it, masked.
func (tc diffflaskCase) render(srv diffdjangoServer, a rawAnswer) string {
	s := srv.render(a, tc.summary)
	for _, m := range diffflaskMask {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return s
}

// mode is the diffresp mode tc's rules see.
func (tc diffflaskCase) mode() diffrespMode {
	if strings.HasPrefix(tc.req, "HEAD ") {
		return head11
	}
	return get11
}

// compare renders x's and y's answers to tc after the rules that hold for
// every case.
func (tc diffflaskCase) compare(xs, ys diffdjangoServer, x, y rawAnswer) (string, string) {
	for _, r := range diffrespRules {
		r.apply(tc.mode(), &x, &y)
	}
	return tc.render(xs, x), tc.render(ys, y)
}

// TestFlaskDifferential compares what Flask computes and answers under
// wsgiserve and under gunicorn, with waitress as the tie-breaker.
func TestFlaskDifferential(t *testing.T) {
	py := pythontest.Python(t, "flask", "gunicorn", "waitress")
	bin := opstest.Build(t, "wsgiserve")
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	// Flask lists a view's methods (Allow) from a set: the same order in
	// every process.
	t.Setenv("PYTHONHASHSEED", "0")
	big := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(big, []byte(diffenvBig(3<<20+12345)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DIFFFLASK_BIG", big)
	start := func(prefix string) diffflaskTrio {
		t.Setenv("SCRIPT_NAME", prefix)
		s := startCmd(t, exec.Command(bin, "-bind", "127.0.0.1:0", "-python", py, "diffflask_app:app",
			"-chdir", dir, "-workers", "1", "-threads", "1", "-access-log=false", "-graceful-timeout", "5",
			"-forwarded-allow-ips", "127.0.0.1", "-forwarded-host"), false)
		gu, guLogs := pythontest.Gunicorn(t, dir, "diffflask_app:app", "-k", "gthread", "--threads", "1")
		wa, waLogs := pythontest.Waitress(t, dir, "diffflask_app:app", "url_prefix="+prefix)
		u, _ := url.Parse(s.url)
		trio := diffflaskTrio{
			graft:    diffdjangoServer{addr: u.Host, logs: s.stderr},
			gunicorn: diffdjangoServer{addr: gu, logs: guLogs},
			waitress: diffdjangoServer{addr: wa, logs: waLogs},
		}
		// gunicorn and waitress listen before they have booted: wait
		// for their first answers (a case where a server closes without
		// one must not be taken for a server still booting).
		ping := diffflaskCase{prefix: prefix != "", req: "GET " + prefix + "/i/next HTTP/1.1"}
		for _, srv := range []diffdjangoServer{trio.gunicorn, trio.waitress} {
			for i := 0; ; i++ {
				a, err := ping.answer(srv)
				if err == nil && a.next != "" && strings.HasSuffix(statusCode(a.status), " 200") {
					break
				}
				if i == 300 {
					t.Fatalf("%s does not answer: %v %v", srv.addr, a, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		return trio
	}
	plain := start("")
	prefixed := start("/pfx")

	for _, tc := range diffflaskAllCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := plain
			if tc.prefix {
				p = prefixed
			}
			g, err := tc.answer(p.graft)
			if err != nil {
				t.Fatalf("wsgiserve: %v\n%s", err, g)
			}
			u, err := tc.answer(p.gunicorn)
			if err != nil {
				t.Fatalf("gunicorn: %v\n%s", err, u)
			}
			gs, us := tc.compare(p.graft, p.gunicorn, g, u)
			if testing.Verbose() {
				t.Logf("wsgiserve:\n%s\ngunicorn:\n%s", gs, us)
			}
			known, isKnown := diffflaskKnown[tc.name]
			if gs == us {
				if isKnown {
					t.Errorf("known difference (%s) gone: wsgiserve and gunicorn answer\n%s", known.why, gs)
				}
				return
			}
			w, err := tc.answer(p.waitress)
			if err != nil {
				t.Fatalf("waitress: %v\n%s", err, w)
			}
			// waitress against each, after the rules for that pair.
			gws, ws := tc.compare(p.graft, p.waitress, g, w)
			uws, wus := tc.compare(p.gunicorn, p.waitress, u, w)
			side := sideNeither
			switch {
			case gws == ws:
				side = sideGraft
			case uws == wus:
				side = sideGunicorn
			}
			if !isKnown {
				t.Errorf("differs from gunicorn (waitress sides with %s):\nwsgiserve:\n%s\ngunicorn:\n%s\nwaitress:\n%s", side, gs, us, ws)
				return
			}
			if !strings.Contains(gs, known.graft) || side != known.waitress {
				t.Errorf("known difference (%s) changed: wsgiserve's answer should contain %q and waitress side with %s, not %s:\nwsgiserve:\n%s\ngunicorn:\n%s\nwaitress:\n%s",
					known.why, known.graft, known.waitress, side, gs, us, ws)
			}
		})
	}

	for _, f := range diffflaskFlows {
		for _, v := range []struct {
			name   string
			p      diffflaskTrio
			prefix string
		}{{"", plain, ""}, {"prefix ", prefixed, "/pfx"}} {
			p, name, prefix := v.p, v.name+f.name, v.prefix
			t.Run(name, func(t *testing.T) {
				g, err := f.run(p.graft.client(t), p.graft.base(prefix))
				if err != nil {
					t.Fatalf("wsgiserve: %v\n%s", err, g)
				}
				u, err := f.run(p.gunicorn.client(t), p.gunicorn.base(prefix))
				if err != nil {
					t.Fatalf("gunicorn: %v\n%s", err, u)
				}
				gs, us := p.graft.mask(g), p.gunicorn.mask(u)
				if testing.Verbose() {
					t.Logf("wsgiserve:\n%s\ngunicorn:\n%s", gs, us)
				}
				if gs != us {
					w, err := f.run(p.waitress.client(t), p.waitress.base(prefix))
					t.Errorf("differs from gunicorn:\nwsgiserve:\n%s\ngunicorn:\n%s\nwaitress (%v):\n%s", gs, us, err, p.waitress.mask(w))
				}
			})
		}
	}
}

// diffflaskFlows are sequences of requests through net/http with a cookie
// jar, for what one request does not show: the session and flashes a
// cookie carries, and the teardown callbacks that ran.
var diffflaskFlows = []diffdjangoFlow{{
	name: "session",
	run: steps(func(tr *transcript) []func() error {
		return []func() error{
			func() error { return tr.do("GET", "/session", nil) },
			func() error { return tr.do("GET", "/session", nil) },
			func() error { return tr.do("GET", "/session/permanent", nil) },
			func() error { return tr.do("GET", "/session", nil) },
			func() error { return tr.do("GET", "/session/clear", nil) },
			func() error { return tr.do("GET", "/session", nil) },
		}
	}),
}, {
	name: "flash",
	run: steps(func(tr *transcript) []func() error {
		return []func() error{
			func() error { return tr.do("GET", "/flashes", nil) },
			func() error { return tr.do("POST", "/flash", url.Values{"msg": {"caf\u00e9 saved"}, "cat": {"info"}}) },
			func() error { return tr.do("POST", "/flash", url.Values{"msg": {"second; with=odd \"chars\""}}) },
			func() error { return tr.do("GET", "/flashes", nil) },
			func() error { return tr.do("GET", "/flashes", nil) },
		}
	}),
}, {
	name: "teardown",
	run: steps(func(tr *transcript) []func() error {
		return []func() error{
			func() error { // forget the earlier requests'
				err := tr.do("GET", "/teardowns", nil)
				tr.out.Reset()
				return err
			},
			func() error { return tr.do("GET", "/i/x", nil) },
			func() error { return tr.do("GET", "/gen?who=t", nil) },
			func() error { return tr.do("HEAD", "/gen?who=h", nil) },
			func() error { return tr.do("HEAD", "/i/h", nil) },
			func() error { return tr.do("GET", "/boom", nil) },
			func() error { return tr.do("GET", "/abort/403", nil) },
			func() error { return tr.do("GET", "/before/stop", nil) },
			func() error { return tr.do("GET", "/nope", nil) },
			func() error { return tr.do("POST", "/json", url.Values{"a": {"1"}}) },
			func() error { return tr.do("GET", "/teardowns", nil) },
		}
	}),
}}

// steps is a flow's run: the steps made for a transcript, in order.
func steps(make func(tr *transcript) []func() error) func(c *http.Client, base string) (string, error) {
	return func(c *http.Client, base string) (string, error) {
		tr := &transcript{c: c, base: base}
		for _, s := range make(tr) {
			if err := s(); err != nil {
				return tr.out.String(), err
			}
		}
		return tr.out.String(), nil
	}
}

// TestFlaskDifferentialTable checks the table: case names are unique and
// each known difference names a case and says why.
func TestFlaskDifferentialTable(t *testing.T) {
	names := map[string]bool{}
	for _, tc := range diffflaskAllCases() {
		if names[tc.name] {
			t.Errorf("case %q twice", tc.name)
		}
		names[tc.name] = true
	}
	for name, known := range diffflaskKnown {
		if !names[name] {
			t.Errorf("known difference %q: no such case", name)
		}
		if known.graft == "" || known.why == "" || known.waitress == "" {
			t.Errorf("known difference %q: what wsgiserve answers, whom waitress sides with and why must be given", name)
		}
	}
}
