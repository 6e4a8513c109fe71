package wsgi

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSendTimeoutStalledWrite: a client that takes none of a streamed
// response but keeps its connection open is given up after SendTimeout,
// while it still reads nothing: the response's goroutine returns and its
// connection closes. Before, the spill file was dropped after SendTimeout
// but the goroutine stayed blocked in its write for as long as the client
// stayed, holding the part being written, the parts buffered behind it
// (about 1.3 MiB a client, measured) and the connection; with spilling off
// the worker waited for the client until Timeout. The client then finds its
// connection closed before the response's end, and the server serves on. A
// slow app whose client keeps up is not cut, however long it pauses
// between writes.
func TestSendTimeoutStalledWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"spilled", Config{}},
		{"no spill", Config{ResponseSpill: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.SendTimeout, cfg.Timeout = 500*time.Millisecond, time.Minute
			returned := make(chan struct{})
			a := startApp(t, "dispatch", cfg, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/download" {
						defer close(returned) // also when the handler aborts
					}
					h.ServeHTTP(w, r)
				})
			})
			const size = 32 << 20
			conn := dialSmallWindow(t, a.srv.URL)
			fmt.Fprintf(conn, "GET /download?mib=32 HTTP/1.1\r\nHost: x\r\n\r\n")
			select {
			case <-returned:
			case <-time.After(15 * time.Second):
				t.Fatalf("the handler still writes to a client that took nothing for 15 s (SendTimeout 500ms); log:\n%s", a.logs.String())
			}
			logHas(t, a.logs, 5*time.Second, "SendTimeout", "graft.send_timeout=500ms", "url.path=/download")
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			n, err := io.Copy(io.Discard, conn)
			if err != nil || n >= size {
				t.Errorf("the client read %d bytes (%v): want the connection closed before the end (%d bytes of body)", n, err, size)
			}
			waitFor(t, 5*time.Second, "no spill file open", func() bool { return a.c.Status().SpillFiles == 0 })
			resp, b, err := get(t, nil, "GET", a.srv.URL+"/hello", nil)
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("after the timeout: %v %d %s", err, resp.StatusCode, b)
			}
		})
	}
	t.Run("slow app", func(t *testing.T) {
		a := startApp(t, "dispatch", Config{SendTimeout: 300 * time.Millisecond, Timeout: time.Minute}, nil)
		resp, b, err := get(t, nil, "GET", a.srv.URL+"/sse?n=3&gap=0.8", nil)
		if err != nil || resp.StatusCode != http.StatusOK || string(b) != "data: 0\n\ndata: 1\n\ndata: 2\n\n" {
			t.Errorf("got %v %d %q; want the three events", err, resp.StatusCode, b)
		}
		if strings.Contains(a.logs.String(), "SendTimeout") {
			t.Errorf("a client that kept up was given up:\n%s", a.logs.String())
		}
	})
}
