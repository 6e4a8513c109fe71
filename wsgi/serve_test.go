package wsgi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// serveApp is the Python app of the serve-loop tests: "VERSION PID", and
// /sleep?s=N sleeps first.
const serveApp = `import os, time
VERSION = "v1"
def app(environ, start_response):
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(float(environ["QUERY_STRING"].split("=")[1]))
    body = ("%s %d" % (VERSION, os.getpid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// served is a Serve call running in the background.
type served struct {
	c    *Container
	ls   *Listeners
	logs *pythontest.Buffer
	done chan error
	url  string
	ops  string
}

// waitStopped waits for the Serve call to return after a SIGTERM, and
// checks that it returned no error.
func (s *served) waitStopped(t *testing.T) {
	t.Helper()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("Serve after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after SIGTERM")
	}
}

// startServe listens on loopback (and an operations listener), starts a
// container of serveApp in dir, and runs Serve with cfg.
func startServe(t *testing.T, ctx context.Context, dir string, cfg ServeConfig) *served {
	t.Helper()
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}, OpsBind: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	logs := &pythontest.Buffer{}
	c, err := New(Config{App: "serveapp:app", Dir: dir, Python: pythontest.Python(t), Workers: 2, Logger: slogNew(logs)})
	if err != nil {
		ls.Close()
		t.Fatal(err)
	}
	s := &served{c: c, ls: ls, logs: logs, done: make(chan error, 1),
		url: "http://" + ls.Main[0].Addr().String(), ops: "http://" + ls.Ops.Addr().String()}
	go func() { s.done <- Serve(ctx, ls, c, c, cfg) }()
	t.Cleanup(func() {
		c.Shutdown(context.Background())
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	waitFor(t, 10*time.Second, "the listening line", func() bool { return strings.Contains(logs.String(), "msg=listening") })
	return s
}

func writeServeApp(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	src := strings.Replace(serveApp, `"v1"`, `"`+version+`"`, 1)
	f := filepath.Join(dir, "serveapp.py")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// An old mtime, so that Python's bytecode cache of this version is not
	// taken for an edit made within the same second.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(f, old, old); err != nil {
		t.Fatal(err)
	}
	return dir
}

func fetch(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("%s", resp.Status)
	}
	return string(b), err
}

// SIGHUP reloads the workers with the code on disk; SIGTERM drains a
// request in flight, stops the workers, then the operations listener, and
// Serve returns nil.
func TestServeSignals(t *testing.T) {
	dir := writeServeApp(t, "v1")
	s := startServe(t, context.Background(), dir, ServeConfig{GracefulTimeout: 20 * time.Second})
	if got, err := fetch(s.url + "/"); err != nil || !strings.HasPrefix(got, "v1 ") {
		t.Fatalf("before SIGHUP: %q, %v", got, err)
	}
	if got, err := fetch(s.ops + "/readyz"); err != nil {
		t.Fatalf("operations listener /readyz: %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "serveapp.py"), []byte(strings.Replace(serveApp, `"v1"`, `"v22"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, 30*time.Second, "the reload", func() bool {
		got, _ := fetch(s.url + "/")
		return strings.HasPrefix(got, "v22 ")
	})
	if !strings.Contains(s.logs.String(), "SIGHUP: reloading the workers") {
		t.Error("no SIGHUP line in the log")
	}

	// Code that does not import: the old workers keep serving, and the
	// failure is logged once.
	if err := os.WriteFile(filepath.Join(dir, "serveapp.py"), []byte("raise RuntimeError('broken on purpose')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, 30*time.Second, "the failed reload", func() bool { return strings.Contains(s.logs.String(), "reload failed") })
	if got, err := fetch(s.url + "/"); err != nil || !strings.HasPrefix(got, "v22 ") {
		t.Errorf("after a failed reload: %q, %v; want v22 still serving", got, err)
	}
	// Another reload after it: by the time it is done, anything the
	// failed one logs is in.
	// (Each version has another length, so that a bytecode cache with the
	// same mtime is not taken for it.)
	if err := os.WriteFile(filepath.Join(dir, "serveapp.py"), []byte(strings.Replace(serveApp, `"v1"`, `"v333"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, 30*time.Second, "the reload to v333", func() bool {
		got, _ := fetch(s.url + "/")
		return strings.HasPrefix(got, "v333 ")
	})
	if n := strings.Count(s.logs.String(), "reload failed"); n != 1 {
		t.Errorf("the failed reload is logged %d times; want once", n)
	}

	slow := make(chan error, 1)
	go func() {
		got, err := fetch(s.url + "/sleep?s=1")
		if err == nil && !strings.HasPrefix(got, "v333 ") {
			err = fmt.Errorf("answer %q", got)
		}
		slow <- err
	}()
	waitFor(t, 10*time.Second, "the slow request to start", func() bool {
		return strings.Contains(s.mustStatus(t), `"/sleep"`)
	})
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	if err := <-slow; err != nil {
		t.Errorf("the request in flight at SIGTERM: %v", err)
	}
	s.waitStopped(t)
	for _, u := range []string{s.url + "/", s.ops + "/healthz"} {
		if _, err := fetch(u); err == nil {
			t.Errorf("%s still answers after Serve returned", u)
		}
	}
	log := s.logs.String()
	iShut, iStopped := strings.Index(log, "msg=\"shutting down\" graft.signal=terminated"), strings.Index(log, "msg=stopped")
	if iShut < 0 || iStopped < iShut {
		t.Errorf("want a shutdown line, then stopped")
	}
}

// mustStatus returns the status page's JSON.
func (s *served) mustStatus(t *testing.T) string {
	t.Helper()
	got, err := fetch(s.ops + "/status?format=json")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return got
}

// Cancelling ctx shuts down like SIGTERM; a request outlasting
// GracefulTimeout is cut and Serve says so.
func TestServeGracefulTimeout(t *testing.T) {
	dir := writeServeApp(t, "v1")
	ctx, cancel := context.WithCancel(context.Background())
	s := startServe(t, ctx, dir, ServeConfig{GracefulTimeout: 200 * time.Millisecond, NoSignals: true})
	slow := make(chan error, 1)
	go func() {
		_, err := fetch(s.url + "/sleep?s=20")
		slow <- err
	}()
	waitFor(t, 10*time.Second, "the slow request to start", func() bool {
		return strings.Contains(s.mustStatus(t), `"/sleep"`)
	})
	cancel()
	select {
	case err := <-s.done:
		if err == nil || !strings.Contains(err.Error(), "graceful timeout (200ms)") {
			t.Errorf("Serve: %v; want the graceful timeout named", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return within 15s of a 200ms graceful timeout")
	}
	if err := <-slow; err == nil {
		t.Error("the request outlasting the graceful timeout succeeded")
	}
	if !strings.Contains(s.logs.String(), "graft.reason=\"context canceled\"") {
		t.Errorf("no shutdown reason in the log")
	}
}

func TestServeBadArguments(t *testing.T) {
	h := http.NotFoundHandler()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name string
		ls   *Listeners
		cfg  ServeConfig
		want string
	}{
		{"no listener", &Listeners{}, ServeConfig{}, "wsgi: serve: no listener"},
		{"nil listeners", nil, ServeConfig{}, "wsgi: serve: no listener"},
		// Each negative field is named with its value, and only those (the
		// error named all four whichever was wrong).
		{"negative timeout", &Listeners{Main: []net.Listener{ln}}, ServeConfig{GracefulTimeout: -1}, "wsgi: serve: GracefulTimeout -1ns is negative"},
		{"negative header timeout", &Listeners{Main: []net.Listener{ln}}, ServeConfig{ReadHeaderTimeout: -time.Second}, "wsgi: serve: ReadHeaderTimeout -1s is negative"},
		{"negative heap floor", &Listeners{Main: []net.Listener{ln}}, ServeConfig{MinHeap: -1}, "wsgi: serve: MinHeap -1 is negative"},
		{"two negatives", &Listeners{Main: []net.Listener{ln}}, ServeConfig{IdleTimeout: -time.Minute, MinHeap: -2},
			"wsgi: serve: IdleTimeout -1m0s is negative; MinHeap -2 is negative"},
		// A drain set past a quarter of the grace period is refused, not
		// cut short without a word (the default one is bounded).
		{"drain over a quarter of the default grace", &Listeners{Main: []net.Listener{ln}}, ServeConfig{KeepAliveDrain: time.Minute},
			"wsgi: serve: KeepAliveDrain 1m0s is more than a quarter of GracefulTimeout (30s): make GracefulTimeout at least 4m0s"},
		{"drain over a quarter of the grace", &Listeners{Main: []net.Listener{ln}}, ServeConfig{GracefulTimeout: 2 * time.Second, KeepAliveDrain: 600 * time.Millisecond},
			"wsgi: serve: KeepAliveDrain 600ms is more than a quarter of GracefulTimeout (2s)"},
		{"ops without container", &Listeners{Main: []net.Listener{ln}, Ops: ln}, ServeConfig{}, "an operations listener needs a container or ServeConfig.OpsHandler"},
		{"h2c with TLS", &Listeners{Main: []net.Listener{ln}, TLS: &tls.Config{}}, ServeConfig{H2C: true}, "H2C is for plain listeners"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Serve(context.Background(), tc.ls, h, nil, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Serve: %v; want %q", err, tc.want)
			}
		})
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the listener is open after Serve failed: %v", err)
	}
}

// ServeConfig.Limits raised past net/http's MaxHeaderBytes (1 MiB): a
// head within the limits is served, not refused by net/http with a 431
// the limits do not explain; one over them still gets the guard's 431.
func TestServeRaisedLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits RequestLimits
		fields int // Host and Connection included
		size   int // of each other field's value
		want   string
	}{
		{"default limits, 99 fields", RequestLimits{}, 99, 600, "200"},
		{"default limits, 101 fields", RequestLimits{}, 101, 600, "431"},
		{"default limits, 63 KiB head", RequestLimits{}, 10, 8000, "200"},
		{"default limits, 99 fields of 8000 (792 KB)", RequestLimits{}, 99, 8000, "431"},
		{"200 fields allowed, 140 sent (1.1 MB)", RequestLimits{Fields: 200, Head: 2 << 20}, 140, 8000, "200"},
		{"200 fields allowed, 200 sent (1.6 MB)", RequestLimits{Fields: 200, Head: 2 << 20}, 200, 8000, "200"},
		{"200 fields allowed, 201 sent", RequestLimits{Fields: 200, Head: 2 << 20}, 201, 8000, "431"},
		{"longer fields allowed (1.9 MB)", RequestLimits{FieldSize: 20000, Head: 2 << 20}, 99, 19000, "200"},
		{"longer fields allowed, one too long", RequestLimits{FieldSize: 20000, Head: 2 << 20}, 99, 20000, "431"},
		{"200 fields allowed, head limit kept (1.1 MB)", RequestLimits{Fields: 200}, 140, 8000, "431"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
			go func() {
				done <- Serve(ctx, ls, h, nil, ServeConfig{NoSignals: true, Limits: tc.limits, Logger: slog.New(slog.DiscardHandler)})
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Serve: %v", err)
				}
			}()
			value := strings.Repeat("a", tc.size)
			var head strings.Builder
			head.WriteString("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
			for i := 0; i < tc.fields-2; i++ {
				fmt.Fprintf(&head, "X-H%d: %s\r\n", i, value)
			}
			head.WriteString("\r\n")
			conn, err := net.Dial("tcp", ls.Main[0].Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			go io.WriteString(conn, head.String()) // the server may answer before it has read it all
			resp, err := io.ReadAll(conn)
			if len(resp) == 0 {
				t.Fatalf("no answer: %v", err)
			}
			status, _, _ := strings.Cut(strings.TrimPrefix(string(resp), "HTTP/1.1 "), " ")
			if status != tc.want {
				t.Errorf("%d fields of %d bytes (%d bytes in all): %.60q; want %s", tc.fields, len(value), head.Len(), resp, tc.want)
			}
		})
	}
}

// ServeConfig.MinHeap raises GOGC while Serve runs (the heap of the test
// is small) and Serve puts it back when it returns. Not parallel: GOGC is
// the process's.
func TestServeMinHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, &Listeners{Main: []net.Listener{ln}}, http.NotFoundHandler(), nil,
			ServeConfig{MinHeap: 256 << 20, NoSignals: true, Logger: slogNew(io.Discard)})
	}()
	waitFor(t, 10*time.Second, "Serve to raise GOGC", func() bool {
		p, _ := gcStats()
		return p >= 1000
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if p, _ := gcStats(); p != 100 {
		t.Errorf("GOGC is %d after Serve returned, want 100", p)
	}
}

// A server's main: bind first (a busy port fails before any worker
// starts), start the workers, then serve until SIGTERM.
func ExampleServe() {
	ls, err := Listen(ListenConfig{
		Binds:   []string{"127.0.0.1:8000", "unix:/run/myapp/http.sock"},
		OpsBind: "127.0.0.1:9100", // /metrics, /status, /healthz, /readyz
	})
	if err != nil {
		log.Fatal(err)
	}
	defer ls.Close()
	app, err := New(Config{App: "mysite.wsgi:application", Dir: "/srv/mysite"})
	if err != nil {
		log.Fatal(err) // the app did not import: the traceback is in err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.Handle("/", app)
	if err := Serve(context.Background(), ls, mux, app, ServeConfig{GracefulTimeout: 30 * time.Second}); err != nil {
		log.Fatal(err)
	}
}

// TestServeBodyTimeout: a client that stops sending its request body gets
// 408 after BodyTimeout and its connection closed; a slow but steady
// upload, and an app that runs past BodyTimeout after the body is in, are
// not cut short.
func TestServeBodyTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, writeServeApp(t, "v1"), ServeConfig{BodyTimeout: 300 * time.Millisecond, NoSignals: true})
	addr := strings.TrimPrefix(s.url, "http://")
	for _, c := range []struct {
		name   string
		head   string
		body   []string      // written one by one...
		gap    time.Duration // ...this far apart
		status string
	}{
		{"stalled upload", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", []string{"abc"}, 0, "408"},
		{"stalled chunked upload", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", []string{"3\r\nabc\r\n"}, 0, "408"},
		{"slow but steady upload", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\n", []string{"a", "b", "c", "d", "e", "f"}, 150 * time.Millisecond, "200"},
		{"app longer than the timeout", "POST /sleep?s=0.8 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", []string{"hello"}, 0, "200"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, c.head)
			for i, b := range c.body {
				if i > 0 {
					time.Sleep(c.gap)
				}
				io.WriteString(conn, b)
			}
			start := time.Now()
			got, err := io.ReadAll(conn) // until the server closes
			if err != nil {
				t.Fatalf("%v after %q (%v)", err, got, time.Since(start))
			}
			if !strings.HasPrefix(string(got), "HTTP/1.1 "+c.status+" ") {
				t.Fatalf("got %q, want %s", got, c.status)
			}
		})
	}
	if !strings.Contains(s.logs.String(), ErrBodyTimeout.Error()) {
		t.Errorf("the 408 was not logged:\n%s", s.logs)
	}
}

// TestServeNotReadyWhileDraining: once Serve shuts down, /readyz answers
// 503 while the requests in flight finish (the application listeners are
// closed by then), and those requests still get their answers.
func TestServeNotReadyWhileDraining(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := startServe(t, ctx, writeServeApp(t, "v1"), ServeConfig{NoSignals: true})
	if got, err := fetch(s.ops + "/readyz"); err != nil || got != "ready\n" {
		t.Fatalf("/readyz before the shutdown: %q %v", got, err)
	}
	slow := make(chan error, 1)
	go func() {
		_, err := fetch(s.url + "/sleep?s=1.5")
		slow <- err
	}()
	time.Sleep(300 * time.Millisecond) // the request is in flight
	cancel()
	waitFor(t, 5*time.Second, "/readyz to answer 503 during the drain", func() bool {
		resp, err := http.Get(s.ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	select {
	case err := <-slow:
		t.Fatalf("the request in flight ended before /readyz went unready: %v", err)
	default:
	}
	if err := <-slow; err != nil {
		t.Errorf("the request in flight: %v", err)
	}
	if err := <-s.done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestServeH2C: with H2C, a plain listener serves HTTP/2 with prior
// knowledge (a worker answers over it) besides HTTP/1.1; without it, such
// a client gets no HTTP/2.
func TestServeH2C(t *testing.T) {
	h2c := &http.Client{Transport: &http.Transport{Protocols: new(http.Protocols)}}
	h2c.Transport.(*http.Transport).Protocols.SetUnencryptedHTTP2(true)
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("H2C=", on), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := startServe(t, ctx, writeServeApp(t, "v1"), ServeConfig{H2C: on, NoSignals: true})
			resp, err := h2c.Get(s.url + "/")
			if !on {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("HTTP/2 without TLS served (%s) with H2C off", resp.Proto)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != "HTTP/2.0" || !strings.HasPrefix(string(b), "v1 ") {
				t.Errorf("%s %q, want HTTP/2.0 and the app's answer", resp.Proto, b)
			}
			if got, err := fetch(s.url + "/"); err != nil || !strings.HasPrefix(got, "v1 ") {
				t.Errorf("HTTP/1.1 beside it: %q %v", got, err)
			}
		})
	}
}

// TestServeRefusals: a request the guard refuses before any handler leaves
// no access line, so Serve counts it in graft_http_refused_total by status
// and logs it at INFO with the reason and the client.
func TestServeRefusals(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, writeServeApp(t, "v1"), ServeConfig{NoSignals: true})
	addr := strings.TrimPrefix(s.url, "http://")
	for _, tc := range []struct {
		raw  string
		code int
	}{
		{"GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400}, // net/http's own 400 otherwise
	} {
		if resp, _ := rawHTTP(t, addr, tc.raw); resp.StatusCode != tc.code {
			t.Errorf("%.40q: %d, want %d", tc.raw, resp.StatusCode, tc.code)
		}
	}
	if _, err := fetch(s.url + "/"); err != nil { // a request served: not counted
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the refusals counted", func() bool {
		m, err := fetch(s.ops + "/metrics")
		return err == nil && strings.Contains(m, `graft_http_refused_total{status="414"} 1`) &&
			strings.Contains(m, `graft_http_refused_total{status="400"} 2`) && strings.Contains(m, `graft_http_refused_total{status="501"} 1`)
	})
	for _, want := range []string{
		`level=INFO msg="wsgi: request refused at the HTTP boundary" http.response.status_code=414 client.ip=127.0.0.1 error=`,
		`http.response.status_code=400 client.ip=127.0.0.1 error="both Content-Length and Transfer-Encoding"`,
		`http.response.status_code=400 client.ip=127.0.0.1 error="malformed %-escape in the request target's path"`,
	} {
		if !strings.Contains(s.logs.String(), want) {
			t.Errorf("no %q in the log:\n%s", want, s.logs)
		}
	}
	if n := strings.Count(s.logs.String(), "request refused"); n != 4 {
		t.Errorf("%d refusals logged, want 4", n)
	}
}

// hookApp is serveApp with an atexit hook that creates atexit-PID in
// $GRAFT_TEST_DIR: registered at import, so the zygote has it too.
const hookApp = serveApp + `
import atexit
atexit.register(lambda: open(os.path.join(os.environ["GRAFT_TEST_DIR"], "atexit-%d" % os.getpid()), "w").close())
`

// TestServeGracefulTimeoutIdleExit: when GracefulTimeout runs out with a
// request still running, the idle worker and the zygote still exit as on
// any shutdown, running the app's atexit hooks (gunicorn's idle workers
// exit at once on SIGTERM, running worker_exit). They were killed with
// the busy worker, the moment the time ran out, because Serve told the
// container to stop only then, with no time left; a second signal still
// kills every process at once.
func TestServeGracefulTimeoutIdleExit(t *testing.T) {
	for _, second := range []bool{false, true} {
		name := "graceful timeout"
		if second {
			name = "second signal"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "serveapp.py"), []byte(hookApp), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv("GRAFT_TEST_DIR", dir)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := ServeConfig{GracefulTimeout: 300 * time.Millisecond, NoSignals: true}
			if second {
				cfg = ServeConfig{GracefulTimeout: time.Minute}
			}
			s := startServe(t, ctx, dir, cfg)
			slow := make(chan error, 1)
			go func() {
				_, err := fetch(s.url + "/sleep?s=30")
				slow <- err
			}()
			var st Status
			waitFor(t, 10*time.Second, "the slow request to start", func() bool {
				page := s.mustStatus(t)
				if err := json.Unmarshal([]byte(page), &st); err != nil {
					t.Fatal(err)
				}
				return strings.Contains(page, `"/sleep"`)
			})
			var idle, busy int
			for _, w := range st.Workers {
				if len(w.Requests) > 0 {
					busy = w.PID
				} else {
					idle = w.PID
				}
			}
			if idle == 0 || busy == 0 {
				t.Fatalf("want one busy and one idle worker: %+v", st.Workers)
			}
			if second {
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
				waitFor(t, 10*time.Second, "the shutdown line", func() bool { return strings.Contains(s.logs.String(), `msg="shutting down"`) })
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
			} else {
				cancel()
			}
			var err error
			select {
			case err = <-s.done:
			case <-time.After(20 * time.Second):
				t.Fatal("Serve did not return")
			}
			if <-slow == nil {
				t.Error("the request outlasting the shutdown succeeded")
			}
			if second {
				if err == nil || !strings.Contains(err.Error(), "second signal") || strings.Contains(err.Error(), "graceful timeout") {
					t.Errorf("Serve: %v; want the second signal named, not the graceful timeout", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "graceful timeout (300ms)") {
				t.Errorf("Serve: %v; want the graceful timeout named", err)
			}
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("atexit-%d", idle))); err != nil {
				t.Errorf("the idle worker %d did not run its exit hooks: %v", idle, err)
			}
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("atexit-%d", busy))); err == nil {
				t.Errorf("the busy worker %d ran its exit hooks; want it killed", busy)
			}
			if ents, _ := filepath.Glob(filepath.Join(dir, "atexit-*")); len(ents) != 2 {
				t.Errorf("exit hooks ran in %v; want the idle worker's and the zygote's", ents)
			}
			if l := logLine(s.logs, "told to exit is still running when the shutdown's time ran out"); l != "" {
				t.Errorf("an idle process was killed for the shutdown's time: %q", l)
			}
		})
	}
}

// Drained is called once, after the HTTP server has stopped (its listener
// refuses connections) and before the workers stop: the container still
// answers then, so that what sends requests to it on its own (a
// Migrator's shadow runs) can finish first.
func TestServeDrained(t *testing.T) {
	dir := writeServeApp(t, "v1")
	ctx, cancel := context.WithCancel(context.Background())
	type seen struct {
		status  int
		body    string
		dialErr error
	}
	got := make(chan seen, 2)
	var s *served
	cfg := ServeConfig{NoSignals: true, Drained: func(context.Context) {
		rec := httptest.NewRecorder()
		s.c.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), time.Second)
		if err == nil {
			conn.Close()
		}
		got <- seen{rec.Code, rec.Body.String(), err}
	}}
	s = startServe(t, ctx, dir, cfg)
	if _, err := fetch(s.url + "/"); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return")
	}
	if len(got) != 1 {
		t.Fatalf("Drained called %d times, want once", len(got))
	}
	g := <-got
	if g.status != 200 || !strings.HasPrefix(g.body, "v1 ") {
		t.Errorf("the container answered %d %q during Drained; want 200 from a worker", g.status, g.body)
	}
	if g.dialErr == nil {
		t.Error("the listener still accepted connections during Drained")
	}
}
