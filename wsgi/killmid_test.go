package wsgi

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkerKilledMidResponse: a worker SIGKILLed (as by the OOM killer)
// while it streams a response, or while it reads an upload, fails that
// request cleanly: the streamed response is cut (the chunked body ends
// without its last chunk: the client's read fails, never a clean EOF),
// the upload gets 502. The worker is replaced, and a load on the other
// worker sees no failure. The log line of the cut response carried an
// empty error.stack_trace="" (a worker's death has no traceback).
func TestWorkerKilledMidResponse(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"preload", Config{Workers: 2}},
		{"no preload", Config{Workers: 2, NoPreload: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.App = "opsapp:app"
			c, logs := newContainer(t, cfg)
			srv := newServer(t, c)
			lg := startLoad(t, srv.URL+"/pid", 4)
			var crashes int64
			replaced := func() {
				t.Helper()
				crashes++
				waitFor(t, 10*time.Second, "the killed worker replaced", func() bool {
					st := c.Status()
					return st.Restarts["crash"] == crashes && len(st.Workers) == 2
				})
			}

			t.Run("streaming", func(t *testing.T) {
				resp, err := http.Get(srv.URL + "/stream?s=10")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				br := bufio.NewReader(resp.Body)
				line, err := br.ReadString('\n')
				pid, perr := strconv.Atoi(strings.TrimSpace(line))
				if err != nil || perr != nil {
					t.Fatalf("first line %q: %v %v", line, err, perr)
				}
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { _, err := io.Copy(io.Discard, br); done <- err }()
				select {
				case err = <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("the cut response did not end within 5s")
				}
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("reading the rest of the cut response: %v; want %v (a truncated chunked body)", err, io.ErrUnexpectedEOF)
				}
				logHas(t, logs, 3*time.Second, "response failed after headers were sent", "the worker died")
				if l := logLine(logs, "response failed after headers were sent"); strings.Contains(l, "error.stack_trace") {
					t.Errorf("the line of a death with no traceback has error.stack_trace: %s", l)
				}
				replaced()
			})

			t.Run("upload", func(t *testing.T) {
				pidfile := filepath.Join(t.TempDir(), "pid")
				body := bytes.Repeat([]byte("u"), 4<<20) // read in about 1.3 s
				type result struct {
					status int
					body   string
					err    error
				}
				res := make(chan result, 1)
				go func() {
					resp, err := http.Post(srv.URL+"/upload?pidfile="+pidfile, "application/octet-stream", bytes.NewReader(body))
					if err != nil {
						res <- result{err: err}
						return
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					res <- result{resp.StatusCode, string(b), err}
				}()
				var pid int
				waitFor(t, 10*time.Second, "the upload to reach the app", func() bool {
					b, err := os.ReadFile(pidfile)
					pid, _ = strconv.Atoi(string(b))
					return err == nil && pid > 0
				})
				time.Sleep(100 * time.Millisecond) // part of the body read
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				var r result
				select {
				case r = <-res:
				case <-time.After(10 * time.Second):
					t.Fatal("the upload got no answer within 10s")
				}
				if r.err != nil || r.status != http.StatusBadGateway {
					t.Errorf("the upload got %d %q %v; want 502", r.status, r.body, r.err)
				}
				replaced()
			})

			lg.checkNoFailures(t, 10)
		})
	}
}
