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

// TestPushCut: a part waiting for room (the response buffer full, or the
// part buffer full of small parts) is dropped when the worker's socket is
// closed, instead of waiting for a client that does not read; the stream
// is then truncated: its later parts are dropped, and the request's
// goroutine gets the parts it had, then an error, never a clean end.
func TestPushCut(t *testing.T) {
	const limit = 100
	for _, tc := range []struct {
		name  string
		parts []int // data sizes pushed before the one that waits
		next  int   // its size
	}{
		{"response buffer full", []int{60}, 60},
		{"part buffer full", []int{1, 1, 1, 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// ResponseSpill 0: the parts wait for room, never spill.
			pr := &proc{cut: make(chan struct{}), pool: &pool{cfg: Config{ResponseBuffer: limit}}}
			s := (&pool{}).newStream("GET", "/", "id", requestParts)
			s.proc.Store(pr)
			for _, n := range tc.parts {
				if !s.push(Part{Kind: PartData, Data: make([]byte, n)}, pr) {
					t.Fatalf("push of %d bytes failed", n)
				}
			}
			pushed := make(chan bool)
			go func() { pushed <- s.push(Part{Kind: PartData, Data: make([]byte, tc.next)}, pr) }()
			select {
			case ok := <-pushed:
				t.Fatalf("push did not wait for room (returned %v)", ok)
			case <-time.After(50 * time.Millisecond):
			}
			pr.cutOnce.Do(func() { close(pr.cut) })
			select {
			case ok := <-pushed:
				if ok {
					t.Fatal("push delivered the part after the cut")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("push still waits after the cut")
			}
			if !s.truncated.Load() || !pr.lost.Load() {
				t.Errorf("truncated %v, lost %v: want both", s.truncated.Load(), pr.lost.Load())
			}
			// Later parts are dropped, even with room for them; the final
			// part becomes an error.
			<-s.parts
			if s.push(Part{Kind: PartData, Data: make([]byte, 1)}, pr) {
				t.Error("a part after the dropped one was delivered")
			}
			s.finish(Part{Kind: PartEnd}, pr)
			var got []PartKind
			for {
				p, err := s.Next(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, p.Kind)
				if p.Kind == PartEnd {
					if p.Err != ErrWorkerDied {
						t.Errorf("the response ended with %v, want ErrWorkerDied", p.Err)
					}
					break
				}
			}
			if len(got) != len(tc.parts) {
				t.Errorf("parts taken: %v; want the %d left of those pushed before the cut, then the end", got, len(tc.parts)-1)
			}
		})
	}
}
