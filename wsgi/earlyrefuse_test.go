package wsgi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// countingBody counts the bytes the handler reads of a request body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestQueueFullBodyUnread: a request with a body that arrives while the
// queue is full gets the queue-full 503 without its body being read (and
// spooled) first. Before, every upload of a POST flood was read to its end
// and only then refused.
func TestQueueFullBodyUnread(t *testing.T) {
	var read atomic.Int64
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = countingBody{r.Body, &read}
			h.ServeHTTP(w, r)
		})
	}
	a := startApp(t, "dispatch", Config{Workers: 1, Threads: 1, Prefetch: -1, MaxQueue: 1, QueueTimeout: 10 * time.Second}, count)
	releaseAll(t, a)
	ra := asyncGet(context.Background(), a.srv.URL+"/block?tok=A")
	waitFor(t, 30*time.Second, "A to start", func() bool { return exists(a.dir, "A-started") })
	rb := asyncGet(context.Background(), a.srv.URL+"/block?tok=B")
	waitFor(t, 30*time.Second, "B to be queued", func() bool { return a.c.Status().Queued == 1 })

	body := bytes.Repeat([]byte("x"), 4<<20)
	for _, tc := range []struct {
		name   string
		length int64 // -1: chunked
	}{
		{"content-length", int64(len(body))},
		{"chunked", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read.Store(0)
			req, _ := http.NewRequest("POST", a.srv.URL+"/echo", io.NopCloser(bytes.NewReader(body)))
			req.ContentLength = tc.length
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
				t.Errorf("status %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if n := read.Load(); n != 0 {
				t.Errorf("the refused request's body was read: %d bytes of %d", n, len(body))
			}
		})
	}
	logHas(t, a.logs, 2*time.Second, "too many requests waiting")
	touch(t, a.dir, "A-go")
	touch(t, a.dir, "B-go")
	if r := await(t, ra, 5*time.Second, "A"); r.status != 200 {
		t.Errorf("A: %+v", r)
	}
	if r := await(t, rb, 5*time.Second, "B"); r.status != 200 {
		t.Errorf("B: %+v", r)
	}
}
