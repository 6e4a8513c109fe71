package wsgi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestServeGraceQueued: when the graceful timeout runs out, requests still
// waiting in the queue (never sent to a worker) are answered 503 before
// the connections are cut; before, their connections closed with no
// response (EOF), as if the server had crashed.
func TestServeGraceQueued(t *testing.T) {
	dir := writeServeApp(t, "v1")
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &pythontest.Buffer{}
	// No prefetch: the queued requests must wait in Go's queue, not in the
	// busy worker's socket (where a request sent within 5 ms of the slow
	// one's start could go, and be served after it).
	c, err := New(Config{App: "serveapp:app", Dir: dir, Python: pythontest.Python(t), Workers: 1, Threads: 1,
		Prefetch: -1, QueueTimeout: time.Minute, Logger: slogNew(logs)})
	if err != nil {
		ls.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Shutdown(context.Background())
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ls, c, c, ServeConfig{GracefulTimeout: 300 * time.Millisecond, NoSignals: true})
	}()
	url := "http://" + ls.Main[0].Addr().String()
	waitFor(t, 10*time.Second, "the listening line", func() bool { return strings.Contains(logs.String(), "msg=listening") })

	slow := asyncGet(context.Background(), url+"/sleep?s=20")
	waitFor(t, 10*time.Second, "the slow request to start", func() bool { st := c.Status(); return len(st.Workers) == 1 && len(st.Workers[0].Requests) == 1 })
	// Two requests queued with their frames, and one whose body is spooled
	// (over BodyBuffer), which waits in Start instead.
	const queued = 3
	var rs []<-chan asyncResult
	for range queued - 1 {
		rs = append(rs, asyncGet(context.Background(), url+"/"))
	}
	upload := make(chan asyncResult, 1)
	go func() {
		resp, err := http.Post(url+"/", "application/octet-stream", bytes.NewReader(make([]byte, 256<<10)))
		if err != nil {
			upload <- asyncResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		upload <- asyncResult{status: resp.StatusCode, body: string(b), err: err}
	}()
	rs = append(rs, upload)
	waitFor(t, 30*time.Second, "the requests to be queued", func() bool { return c.Status().Queued == queued })
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return within 15s of a 300ms graceful timeout")
	}
	for i, ch := range rs {
		r := await(t, ch, 5*time.Second, "a queued request")
		if r.err != nil || r.status != http.StatusServiceUnavailable {
			t.Errorf("queued request %d: status %d, error %v; want 503", i, r.status, r.err)
		}
	}
	if r := await(t, slow, 5*time.Second, "the slow request"); r.err == nil {
		t.Errorf("the request outlasting the graceful timeout succeeded: %+v", r)
	}
}
