package wsgi

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
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

// appEnv is a started test app: its container, logs, server and the
// directory ($GRAFT_TEST_DIR) the app coordinates through.
type appEnv struct {
	c    *Container
	logs *pythontest.Buffer
	srv  *httptest.Server
	dir  string
}

// startApp starts testdata/apps.py:<app> (cfg.App is set from app) with
// GRAFT_TEST_DIR pointing at a fresh temp dir, served on a loopback server.
// wrap, if not nil, wraps the container's handler (to set context values).
func startApp(t testing.TB, app string, cfg Config, wrap func(http.Handler) http.Handler) *appEnv {
	t.Helper()
	dir := t.TempDir()
	if !strings.Contains(app, ":") {
		app = "apps:" + app
	}
	cfg.App = app
	cfg.Env = append(cfg.Env, "GRAFT_TEST_DIR="+dir)
	c, logs := newContainer(t, cfg)
	var h http.Handler = c
	if wrap != nil {
		h = wrap(c)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &appEnv{c: c, logs: logs, srv: srv, dir: dir}
}

// variants runs fn for the plain app and for its wsgiref.validate wrapper.
func variants(t *testing.T, name string, fn func(t *testing.T, app string)) {
	t.Helper()
	for _, v := range []struct{ label, app string }{{"plain", "apps:" + name}, {"validated", "apps:validated_" + name}} {
		t.Run(v.label, func(t *testing.T) { fn(t, v.app) })
	}
}

// get fetches url with client (http.DefaultClient when nil) and returns the
// response with its body read (err is the body read error, if any).
func get(t testing.TB, client *http.Client, method, url string, body io.Reader) (*http.Response, []byte, error) {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// mustGet is get with a 200 and a fully read body required.
func mustGet(t testing.TB, url string) []byte {
	t.Helper()
	resp, b, err := get(t, nil, "GET", url, nil)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d, body %q", url, resp.StatusCode, b)
	}
	return b
}

// rawHTTP sends raw bytes to the server at addr and parses one response.
func rawHTTP(t testing.TB, addr, raw string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", raw, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body of response to %q: %v", raw, err)
	}
	return resp, b
}

// latin1 turns a string of code points U+0000-U+00FF (a WSGI native string
// decoded from JSON) back into the bytes it stands for.
func latin1(t testing.TB, s string) string {
	t.Helper()
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			t.Errorf("native string %q holds U+%04X, beyond latin-1", s, r)
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// waitFor polls cond until it is true or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// touch creates dir/name.
func touch(t testing.TB, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

func readFile(t testing.TB, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// pidAlive reports whether a process with pid exists.
func pidAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// pidOf asks apps:pid (or any app answering with its pid) which worker served.
func pidOf(t testing.TB, url string) int {
	t.Helper()
	var pid int
	if _, err := fmt.Sscan(string(mustGet(t, url)), &pid); err != nil {
		t.Fatalf("GET %s: no pid: %v", url, err)
	}
	return pid
}

// decodeJSON decodes b into v.
func decodeJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
}

// logHas polls the container log for every substring in subs.
func logHas(t testing.TB, logs *pythontest.Buffer, timeout time.Duration, subs ...string) {
	t.Helper()
	if missing, s := logWait(logs, timeout, subs...); missing != "" {
		t.Fatalf("log lacks %q; log:\n%s", missing, s)
	}
}

// logWait polls the container log until it holds every substring in subs
// or timeout has passed. It returns the first one missing ("" when none
// is) and the log.
func logWait(logs *pythontest.Buffer, timeout time.Duration, subs ...string) (missing, log string) {
	deadline := time.Now().Add(timeout)
	for {
		log = logs.String()
		missing = ""
		for _, sub := range subs {
			if !strings.Contains(log, sub) {
				missing = sub
				break
			}
		}
		if missing == "" || time.Now().After(deadline) {
			return missing, log
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logLine returns the first log line containing sub, or "".
func logLine(logs *pythontest.Buffer, sub string) string {
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// ctxHandler applies f to each request's context before c serves it.
func ctxHandler(f func(r *http.Request) context.Context) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(f(r)))
		})
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

type slogLogger = slog.Logger

func slogNew(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
