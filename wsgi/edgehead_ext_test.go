package wsgi_test

// HEAD of the error pages graft writes itself (not the app's): the
// boundary's refusals, the router's 404 and 405, the recovery's 500, the
// container's 413, 500, 502 and 504, a misconfigured fallback's 502. Each
// is asked for with GET and with HEAD over a raw connection to wsgi.Serve,
// with a real Python app behind it; the HEAD answer must carry the same
// status and header fields as the GET one (RFC 9110 9.3.2), Content-Length
// included, and no body.

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// edgeServer serves the hybrid stack (middleware.Stack, Go routes, the
// apps:dispatch container as the fallback) with wsgi.Serve on 127.0.0.1
// and returns its address; it stops when the test ends.
func edgeServer(t *testing.T, logs io.Writer, routes func(r *router.Router)) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logs, nil))
	ls, err := wsgi.Listen(wsgi.ListenConfig{Binds: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	app, err := wsgi.New(wsgi.Config{App: "apps:dispatch", Dir: dir, Python: pythontest.Python(t),
		Workers: 2, Timeout: time.Second, MaxBodySize: 16, Logger: logger,
		Env: []string{"GRAFT_TEST_DIR=" + t.TempDir()}})
	if err != nil {
		ls.Close()
		t.Fatal(err)
	}
	r := router.New()
	r.Use(middleware.Stack(middleware.Options{Logger: logger}))
	if routes != nil {
		routes(r)
	}
	r.Fallback(&fallback.Handler{App: app})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wsgi.Serve(ctx, ls, r, app, wsgi.ServeConfig{NoSignals: true, Logger: logger}) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ls.Main[0].Addr().String()
}

// rawResponse is one response read off a raw connection.
type rawResponse struct {
	status string
	header textproto.MIMEHeader
	body   []byte // every byte after the head, until the server closed
}

// rawExchange writes req to addr and reads everything the server sends
// until it closes the connection (the requests ask it to).
func rawExchange(t *testing.T, addr, req string) rawResponse {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	tp := textproto.NewReader(bufio.NewReader(conn))
	line, err := tp.ReadLine()
	if err != nil {
		t.Fatalf("reading the status line of %q: %v", req, err)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("reading the head of %q: %v", req, err)
	}
	body, err := io.ReadAll(tp.R)
	if err != nil {
		t.Fatalf("reading the rest of %q: %v", req, err)
	}
	return rawResponse{status: line, header: h, body: body}
}

// headFields lists h's fields as "Name: value" lines, sorted, without
// those that differ from one response to the next.
func headFields(h textproto.MIMEHeader) []string {
	var out []string
	for k, vs := range h {
		if k == "Date" || k == "X-Request-Id" {
			continue
		}
		for _, v := range vs {
			out = append(out, k+": "+v)
		}
	}
	slices.Sort(out)
	return out
}

func TestHeadErrorPages(t *testing.T) {
	var logs pythontest.Buffer
	addr := edgeServer(t, &logs, func(r *router.Router) {
		r.Get("/go/panic", func(http.ResponseWriter, *http.Request) { panic("edge test") })
		r.Put("/go/put", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go\n") }).Allow()
		r.Handle("/broken/*", &fallback.Handler{Logger: slog.New(slog.DiscardHandler)}) // no App: the fallback's own 502
	})
	long := "X-Long: " + strings.Repeat("v", 9000)
	tests := []struct {
		name   string
		target string
		fields []string // more header lines
		body   string   // sent with Content-Length
		status int
	}{
		{"boundary 400, malformed target", "/a%zz", nil, "", 400},
		{"boundary 431, field too long", "/hello", []string{long}, "", 431},
		{"boundary 414, request line too long", "/" + strings.Repeat("p", 5000), nil, "", 414},
		{"router 405 on purpose", "/go/put", nil, "", 405},
		{"recovery 500", "/go/panic", nil, "", 500},
		{"fallback without App 502", "/broken/x", nil, "", 502},
		{"container 413", "/hello", nil, strings.Repeat("b", 17), 413},
		{"container 500, app raised", "/raise_before", nil, "", 500},
		{"container 502, worker died", "/die?how=exit", nil, "", 502},
		{"container 504, timeout", "/sleep?s=3", nil, "", 504},
		{"app's own 404", "/nosuchapp", nil, "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := func(method string) string {
				var b strings.Builder
				b.WriteString(method + " " + tc.target + " HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n")
				for _, f := range tc.fields {
					b.WriteString(f + "\r\n")
				}
				if tc.body != "" {
					b.WriteString("Content-Length: " + strconv.Itoa(len(tc.body)) + "\r\n")
				}
				b.WriteString("\r\n" + tc.body)
				return b.String()
			}
			g := rawExchange(t, addr, req("GET"))
			h := rawExchange(t, addr, req("HEAD"))
			wantLine := "HTTP/1.1 " + strconv.Itoa(tc.status) + " " + http.StatusText(tc.status)
			if g.status != wantLine {
				t.Fatalf("GET: %q, want %q", g.status, wantLine)
			}
			if h.status != g.status {
				t.Errorf("HEAD: %q, GET: %q", h.status, g.status)
			}
			if g.header.Get("Content-Length") == "" {
				t.Errorf("GET without Content-Length: %q", headFields(g.header))
			}
			if gf, hf := headFields(g.header), headFields(h.header); !slices.Equal(gf, hf) {
				t.Errorf("HEAD's header fields differ from GET's:\nGET:  %q\nHEAD: %q", gf, hf)
			}
			if len(h.body) != 0 {
				t.Errorf("HEAD answered with a body: %q", h.body)
			}
		})
	}
	t.Run("boundary 400 after a pipelined request", func(t *testing.T) {
		// The guard finds the method of the refused request, not of the
		// first one on the connection.
		res := rawExchange(t, addr, "GET /hello HTTP/1.1\r\nHost: edge.test\r\n\r\n"+
			"HEAD /a%zz HTTP/1.1\r\nHost: edge.test\r\n\r\n")
		_, second, ok := strings.Cut(string(res.body), "HTTP/1.1 400 Bad Request\r\n")
		if !ok {
			t.Fatalf("no 400 after the first response: %q", res.body)
		}
		if _, rest, _ := strings.Cut(second, "\r\n\r\n"); rest != "" || !strings.Contains(second, "Content-Length: ") {
			t.Errorf("the HEAD's 400: %q", second)
		}
	})
	if t.Failed() {
		t.Logf("server log:\n%s", logs.String())
	}
}

// TestCatchAllEmptyRest asks for the empty rest of catch-all routes
// (/static/ for /static/*) and the mount points themselves over raw
// connections to wsgi.Serve with a Python fallback: who answers, what
// the access log's http.route says, and that the inventory lists that
// route. chi named a mount's own path and its path with a slash after
// chi's stubs ("/files", "/files/", "/sub//*") until 2026-12-02, names
// in no inventory; and fallback.Static answered its empty rest "Not
// Found", not the 404 of a missing file.
func TestCatchAllEmptyRest(t *testing.T) {
	var logs pythontest.Buffer
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.txt"), []byte("file x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	static, err := fallback.NewStaticDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	static.Prefix = "/static/"
	echo := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name+" rest="+router.Param(r, "*")+"\n")
		}
	}
	var rt *router.Router
	addr := edgeServer(t, &logs, func(r *router.Router) {
		rt = r
		r.Handle("/static/*", static) // as the examples' -static mounts it
		r.Mount("/files", echo("files"))
		r.Route("/sub", func(s *router.Router) { s.Get("/*", echo("sub")) })
		r.Get("/strict/{*:.+}", echo("strict"))
	})
	listed := map[string]bool{"fallback": true}
	for _, ri := range rt.Inventory() {
		listed[ri.Pattern] = true
	}
	tests := []struct {
		path   string
		status int
		body   string // the start of the body
		route  string // the access log's http.route
	}{
		{"/static/x.txt", 200, "file x", "/static/*"},
		{"/static/", 404, "404 page not found", "/static/*"}, // Go's: the catch-all takes the empty rest
		{"/static", 404, "no app static", "fallback"},        // Python's: the pattern needs the slash
		{"/files/a", 200, "files rest=", "/files/*"},
		{"/files/", 200, "files rest=", "/files/*"},
		{"/files", 200, "files rest=", "/files/*"},
		{"/sub/a", 200, "sub rest=a", "/sub/*"},
		{"/sub/", 200, "sub rest=\n", "/sub/*"},
		{"/sub", 200, "sub rest=\n", "/sub/*"},
		{"/strict/a", 200, "strict rest=a", "/strict/{*:.+}"},
		{"/strict/", 404, "no app strict", "fallback"}, // {*:.+} refuses the empty rest
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res := rawExchange(t, addr, "GET "+tc.path+" HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n")
			want := "HTTP/1.1 " + strconv.Itoa(tc.status) + " "
			if !strings.HasPrefix(res.status, want) || !strings.HasPrefix(string(res.body), tc.body) {
				t.Errorf("%q %q, want %q... %q...", res.status, res.body, want, tc.body)
			}
			id := res.header.Get("X-Request-Id")
			var route string
			for deadline := time.Now().Add(5 * time.Second); route == "" && time.Now().Before(deadline); {
				route = logRoute(logs.String(), id)
				time.Sleep(5 * time.Millisecond)
			}
			if route != tc.route {
				t.Errorf("http.route=%q, want %q", route, tc.route)
			}
			if !listed[route] {
				t.Errorf("http.route=%q names no route of the inventory %v", route, rt.Inventory())
			}
		})
	}
}

// logRoute returns the http.route of the access line of the request id
// in logs (text lines), or "" when there is none yet.
func logRoute(logs, id string) string {
	for line := range strings.SplitSeq(logs, "\n") {
		if id == "" || !strings.Contains(line, "request.id="+id) {
			continue
		}
		if _, v, ok := strings.Cut(line, " http.route="); ok {
			v, _, _ = strings.Cut(v, " ")
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
