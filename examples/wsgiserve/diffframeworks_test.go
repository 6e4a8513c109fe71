package main

// The frameworks differential: small real Bottle, Falcon (falcon.App) and
// Pyramid apps (testdata/diffbottle_app.py, difffalcon_app.py,
// diffpyramid_app.py) run under wsgiserve and under gunicorn 20 (-k
// gthread), and the same raw requests go to both, every GET also as HEAD:
// routing and route parameters, query strings, forms, multipart uploads,
// JSON and raw bodies (with Content-Length and chunked), streamed
// responses, the framework's errors (abort, an exception, 404, 405),
// redirects and cookies. The views answer what the framework computed of
// the request. Any difference fails the test, except those in
// diffframeworksKnown with their reason (docs/operations.md, "Bottle,
// Falcon, Pyramid: what differs from gunicorn"). Both servers run the app
// plain and with SCRIPT_NAME=/pfx. The raw exchanges,
// normalisation and rules for every case are the Flask differential's.

import (
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
)

// diffframeworksCases are the raw requests, the same to each framework's
// app (whose paths are alike); every GET is also sent as HEAD.
var diffframeworksCases = func() []diffflaskCase {
	const form = "application/x-www-form-urlencoded"
	upload, uploadType := multipartFiles("diffframeworks", map[string]string{"title": "caf\u00e9", "note": "a\r\nb"},
		struct {
			field, name string
			size        int
		}{"doc", "r\u00e9sum\u00e9.txt", 1500})
	var all []diffflaskCase
	for _, tc := range []diffflaskCase{
		// Routing and what the app sees of the request.
		{name: "info", req: diffGet("/i/abc?x=1&x=2&y=&z")},
		{name: "info HTTP/1.0", req: "GET /i/old HTTP/1.0"},
		{name: "percent-encoded UTF-8", req: diffGet("/i/caf%C3%A9?q=%E2%82%AC&r=a+b")},
		{name: "encoded slash", req: diffGet("/i/a%2Fb")},
		{name: "route int", req: diffGet("/items/12")},
		{name: "route int refused", req: diffGet("/items/x")},
		{name: "route regex and float", req: diffGet("/re/ab/1.5")},
		{name: "route regex refused", req: diffGet("/re/abc/1.5")},
		{name: "not found", req: diffGet("/nope")},
		{name: "trailing slash", req: diffGet("/items/12/")},
		{name: "method not allowed", req: diffPost("/items/12", form, "a=1")},
		{name: "DELETE", req: "DELETE /i/d HTTP/1.1"},
		{name: "OPTIONS", req: "OPTIONS /i/o HTTP/1.1"},
		// Cookies.
		{name: "cookies", req: diffGet("/i/c", "Cookie: a=1; b=caf%C3%A9; c=\"q\"")},
		{name: "cookies set", req: diffGet("/cookies/set")},
		// Bodies.
		{name: "form", req: diffPost("/form", form, "a=1&a=2&b=caf%C3%A9&d=a+b")},
		{name: "form chunked", req: diffChunked("/form", form, "a=1&b=2")},
		{name: "multipart", req: diffPost("/form", uploadType, upload)},
		{name: "json", req: diffPost("/json", "application/json", `{"a": "caf\u00e9", "n": [1, 2.5, null]}`)},
		{name: "json bad", req: diffPost("/json", "application/json", `{bad`)},
		{name: "data", req: diffPost("/data", "application/octet-stream", strings.Repeat("d", 5000))},
		{name: "data chunked", req: diffChunked("/data", "application/octet-stream", strings.Repeat("d", 5000))},
		{name: "data spilled", req: diffPost("/data", "application/octet-stream", strings.Repeat("0123456789", 20000))},
		{name: "data with Expect", req: diffPost("/data", "application/octet-stream", strings.Repeat("e", 3000), "Expect: 100-continue")},
		// Streams, errors, redirects.
		{name: "stream", req: diffGet("/stream")},
		{name: "stream big", req: diffGet("/stream?n=20000"), summary: sha256Body},
		{name: "HTTP/1.0 stream", req: "GET /stream HTTP/1.0"},
		{name: "abort 403", req: diffGet("/abort/403")},
		{name: "abort 404", req: diffGet("/abort/404")},
		{name: "exception", req: diffGet("/boom")},
		{name: "redirect", req: diffGet("/redirect")},
		{name: "status 204 with body", req: diffGet("/status/204")},
		{name: "status 304 with body", req: diffGet("/status/304")},
		{name: "stream error", req: diffGet("/stream/error")},
		// Files (wsgi.file_wrapper for Falcon and Pyramid).
		{name: "file", req: diffGet("/file"), summary: sha256Body},
		{name: "file range", req: diffGet("/file", "Range: bytes=10-29")},
		{name: "file suffix range", req: diffGet("/file", "Range: bytes=-20")},
		{name: "file range past the end", req: diffGet("/file", "Range: bytes=20000-30000")},
		{name: "file If-Modified-Since future", req: diffGet("/file", "If-Modified-Since: Thu, 01 Jan 2099 00:00:00 GMT")},
		// Non-ASCII digits, which int() reads (Bottle's int filter, Falcon's int converter).
		{name: "route int Arabic-Indic", req: diffGet("/items/%D9%A1%D9%A2")},
		// A body cut short by the client.
		{name: "body shorter than Content-Length", halfClose: true, req: "POST /data HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nshort"},
		// Under SCRIPT_NAME=/pfx.
		{name: "prefix info", prefix: true, req: diffGet("/pfx/i/x?y=1")},
		{name: "prefix route", prefix: true, req: diffGet("/pfx/items/3")},
		{name: "prefix redirect", prefix: true, req: diffGet("/pfx/redirect")},
		{name: "prefix only", prefix: true, req: diffGet("/pfx")},
		{name: "prefix not found", prefix: true, req: diffGet("/pfx/nope")},
	} {
		all = append(all, tc)
		if h, ok := tc.head(); ok {
			all = append(all, h)
		}
	}
	return all
}()

// diffframeworksKnown are the differences on purpose, by framework and
// case name: what wsgiserve's answer (as the test prints it) contains,
// and why.
var diffframeworksKnown = map[string]struct{ graft, why string }{
	"bottle form chunked": {`\"form\": {\"a\": [\"1\"], \"b\": [\"2\"]}`, bottleChunked},
	"bottle data chunked": {`\"length\": 5000`, bottleChunked},
	"falcon form chunked": {`\"form\": {\"a\": [\"1\"], \"b\": [\"2\"]}`, falconChunked},
	"falcon data chunked": {`\"length\": 5000`, falconChunked},
	"pyramid data chunked": {`\"content_length\": 5000`, "as " + chunkedLength +
		": request.content_length is the body's length (gunicorn: None); Pyramid reads the body whole either way"},
	"bottle DELETE":   {`\"content_length\": 0`, bodilessLength + " (Bottle's request.content_length: 0, gunicorn's -1)"},
	"falcon DELETE":   {`\"content_length\": 0`, bodilessLength + " (Falcon's req.content_length: 0, gunicorn's None)"},
	"pyramid DELETE":  {`\"content_length\": 0`, bodilessLength + " (Pyramid's request.content_length: 0, gunicorn's None)"},
	"pyramid OPTIONS": {`\"content_length\": 0`, bodilessLength + " (Pyramid's request.content_length: 0, gunicorn's None)"},
	"bottle body shorter than Content-Length": {cutBody400, cutBody},
	"falcon body shorter than Content-Length": {cutBody400, cutBody},
	"pyramid body shorter than Content-Length": {cutBody400, "a body the client ends before its Content-Length is a 400 and the app never runs; " +
		"under gunicorn webob reads the part, finds it short and gunicorn closes the connection without an answer"},
	"bottle status 204 with body":      {"HTTP/1.1 204\n  date: <now>\n", no204Length},
	"bottle HEAD status 204 with body": {"HTTP/1.1 204\n  date: <now>\n", no204Length},
}

const (
	bottleChunked = "a chunked body reaches Bottle decoded, with CONTENT_LENGTH and no Transfer-Encoding (docs/wsgi.md): " +
		"request.forms and request.body hold it; under gunicorn, which decodes it too but passes HTTP_TRANSFER_ENCODING: chunked, " +
		"Bottle decodes it a second time and answers 400 (Error while parsing chunked transfer body)"
	falconChunked = "a chunked body reaches Falcon with CONTENT_LENGTH once Go has read it (docs/wsgi.md): req.bounded_stream and " +
		"get_media() read it whole; under gunicorn CONTENT_LENGTH is absent and Falcon reads an empty body (a silent wrong answer: form {}, length 0)"
	bodilessLength = "a request other than GET and HEAD without a body gets CONTENT_LENGTH 0, its body's length (RFC 9112 6.3: " +
		"no Content-Length and no Transfer-Encoding is a body of length 0; docs/wsgi.md); gunicorn leaves it absent"
	no204Length = "a 204 goes out without the Content-Length the app set (Bottle sets one for its body): RFC 9110 8.6 forbids it on a 204, " +
		"and graft sends no body; gunicorn 20 sends the app's Content-Length: 11 with no body"
)

// TestFrameworksDifferential compares what Bottle, Falcon and Pyramid
// compute and answer under wsgiserve and under gunicorn.
func TestFrameworksDifferential(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, fw := range []string{"bottle", "falcon", "pyramid"} {
		t.Run(fw, func(t *testing.T) {
			py := pythontest.Python(t, fw, "gunicorn")
			app := "diff" + fw + "_app:app"
			// start runs wsgiserve and gunicorn with SCRIPT_NAME=prefix.
			start := func(prefix string) (graft, gunicorn diffdjangoServer) {
				t.Setenv("SCRIPT_NAME", prefix)
				s := startCmd(t, exec.Command(bin, "-bind", "127.0.0.1:0", "-python", py, app,
					"-chdir", dir, "-workers", "1", "-threads", "1", "-access-log=false", "-graceful-timeout", "5"), false)
				gu, guLogs := pythontest.Gunicorn(t, dir, app, "-k", "gthread", "--threads", "1")
				u, _ := url.Parse(s.url)
				graft, gunicorn = diffdjangoServer{addr: u.Host, logs: s.stderr}, diffdjangoServer{addr: gu, logs: guLogs}
				// gunicorn listens before it has booted: wait for its first answer.
				ping := diffflaskCase{prefix: prefix != "", req: "GET " + prefix + "/i/next HTTP/1.1"}
				for i := 0; ; i++ {
					a, err := ping.answer(gunicorn)
					if err == nil && a.next != "" && strings.HasSuffix(statusCode(a.status), " 200") {
						break
					}
					if i == 300 {
						t.Fatalf("gunicorn does not answer: %v %v", a, err)
					}
					time.Sleep(100 * time.Millisecond)
				}
				return graft, gunicorn
			}
			plainGraft, plainGunicorn := start("")
			prefixGraft, prefixGunicorn := start("/pfx")
			for _, tc := range diffframeworksCases {
				t.Run(tc.name, func(t *testing.T) {
					graft, gunicorn := plainGraft, plainGunicorn
					if tc.prefix {
						graft, gunicorn = prefixGraft, prefixGunicorn
					}
					g, err := tc.answer(graft)
					if err != nil {
						t.Fatalf("wsgiserve: %v\n%s", err, g)
					}
					u, err := tc.answer(gunicorn)
					if err != nil {
						t.Fatalf("gunicorn: %v\n%s", err, u)
					}
					gs, us := tc.compare(graft, gunicorn, g, u)
					if testing.Verbose() {
						t.Logf("wsgiserve:\n%s\ngunicorn:\n%s", gs, us)
					}
					known, isKnown := diffframeworksKnown[fw+" "+tc.name]
					switch {
					case gs == us && isKnown:
						t.Errorf("known difference (%s) gone: wsgiserve and gunicorn answer\n%s", known.why, gs)
					case gs != us && !isKnown:
						t.Errorf("differs from gunicorn:\nwsgiserve:\n%s\ngunicorn:\n%s", gs, us)
					case gs != us && !strings.Contains(gs, known.graft):
						t.Errorf("known difference (%s) changed: wsgiserve's answer should contain %q:\nwsgiserve:\n%s\ngunicorn:\n%s",
							known.why, known.graft, gs, us)
					}
				})
			}
		})
	}
}

// TestFrameworksDifferentialTable checks the table: case names are
// unique and each known difference names a framework's case and says why.
func TestFrameworksDifferentialTable(t *testing.T) {
	names := map[string]bool{}
	for _, tc := range diffframeworksCases {
		if names[tc.name] {
			t.Errorf("case %q twice", tc.name)
		}
		names[tc.name] = true
	}
	for key, known := range diffframeworksKnown {
		fw, name, _ := strings.Cut(key, " ")
		if !names[name] || (fw != "bottle" && fw != "falcon" && fw != "pyramid") {
			t.Errorf("known difference %q: no such framework and case", key)
		}
		if known.graft == "" || known.why == "" {
			t.Errorf("known difference %q: what wsgiserve answers and why must be given", key)
		}
	}
}
