package wsgi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// TestQueuedFrames checks the write queue of post against a real worker:
// requests sent while another goroutine writes to the worker's socket are
// queued, in order, and go out in one batch when that write ends; a CANCEL
// queued behind its request's frame reaches the worker after it. The
// worker then answers every request, the cancelled one with an END.
func TestQueuedFrames(t *testing.T) {
	for _, threads := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d threads", threads), func(t *testing.T) {
			c, _ := newContainer(t, Config{App: "apps:environ_dump", Workers: 1, Threads: threads, Prefetch: 4})
			pl := c.tr.(*pool)
			pl.mu.Lock()
			p := pl.list[0]
			pl.mu.Unlock()

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p.wmu.Lock() // a write is in progress: every frame below is queued
			var exs []Exchange
			for i := range 3 {
				r := httptest.NewRequest("GET", fmt.Sprintf("/queued/%d", i), nil)
				ex, err := pl.Start(ctx, &Request{Env: environ(nil, r, "", -1), Method: "GET", Path: r.URL.Path})
				if err != nil {
					p.wmu.Unlock()
					t.Fatalf("Start %d: %v", i, err)
				}
				exs = append(exs, ex)
			}
			exs[1].Cancel()
			p.mu.Lock()
			queued := len(p.queued)
			p.mu.Unlock()
			if queued == 0 {
				p.wmu.Unlock()
				t.Fatal("nothing was queued behind the write in progress")
			}
			if err := p.flush(nil); err != nil { // the writer's write ends: the batch goes out
				t.Fatalf("flush: %v", err)
			}

			for i, ex := range exs {
				if i == 1 {
					continue // cancelled: the container reads no more of it
				}
				part, err := ex.Next(ctx)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if part.Kind != PartResponse || part.Status != "200 OK" {
					t.Fatalf("request %d: %+v", i, part)
				}
				var doc struct{ Env map[string]string }
				if err := json.Unmarshal(part.Data, &doc); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if want := fmt.Sprintf("/queued/%d", i); doc.Env["PATH_INFO"] != want {
					t.Fatalf("request %d answered for %q, want %q", i, doc.Env["PATH_INFO"], want)
				}
			}
			// The worker is still in service and answers a request sent the
			// usual way.
			r := httptest.NewRequest("GET", "/after", nil)
			ex, err := pl.Start(ctx, &Request{Env: environ(nil, r, "", -1), Method: "GET", Path: "/after"})
			if err != nil {
				t.Fatal(err)
			}
			if part, err := ex.Next(ctx); err != nil || part.Kind != PartResponse {
				t.Fatalf("after the batch: %+v, %v", part, err)
			}
			// The cancelled request ended too (with an END of its own, its
			// slot given back): four requests served in all.
			waitFor(t, 10*time.Second, "four requests served", func() bool { return p.served.Load() == 4 })
		})
	}
}
