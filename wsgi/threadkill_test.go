package wsgi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestThreadedWorkerKilledRetriesUnstarted kills (SIGKILL, as the OOM
// killer does) a worker with Threads 4 whose threads are all held by
// requests while more requests wait in its socket, prefetched. The held
// requests started: they get 502. The waiting ones never reached the app
// (the worker's started map says so), so they are sent to its replacement
// and get 200, as on a single-threaded worker. Before the map, Go could
// not tell them from started ones and they got 502 too. The stream ids are
// those the warm-up used: a reused id's mark is cleared.
func TestThreadedWorkerKilledRetriesUnstarted(t *testing.T) {
	for _, noPreload := range []bool{false, true} {
		name := map[bool]string{false: "preload", true: "nopreload"}[noPreload]
		t.Run(name, func(t *testing.T) {
			const threads, extra = 4, 4
			c, _ := newContainer(t, Config{App: "threadkillapp:app", Workers: 1, Threads: threads, NoPreload: noPreload})
			serve := func(path string, hold string) int {
				r := httptest.NewRequest(http.MethodGet, path, nil)
				r.Header.Set("X-Hold-Dir", hold)
				w := httptest.NewRecorder()
				c.ServeHTTP(w, r)
				return w.Code
			}
			// The requests must reach the worker's socket while its oldest
			// one is young (see prefetchDepth): sent at once, they nearly
			// always do; a try where some waited in Go's queue instead is
			// done again.
			for try := 1; ; try++ {
				// Each try after the first meets the killed worker's
				// replacement, which must be warmed up too.
				for range 20 { // so the worker counts as fast: it gets prefetch
					if code := serve("/fast", ""); code != 200 {
						t.Fatalf("warm-up: %d", code)
					}
				}
				// The stream ids the warm-up used, which the worker marked
				// started, are given again (as after 65536 requests): Go
				// clears an id's mark when it reuses the id.
				pl := poolOf(c)
				pl.mu.Lock()
				p := pl.list[0]
				pl.mu.Unlock()
				p.mu.Lock()
				p.nextID = 0
				p.mu.Unlock()
				dir := t.TempDir()
				var wg sync.WaitGroup
				holds := make([]int, threads)
				fasts := make([]int, extra)
				var done atomic.Int32
				for i := range holds {
					wg.Add(1)
					go func() {
						defer wg.Done()
						holds[i] = serve(fmt.Sprintf("/hold?%d", i), dir)
					}()
				}
				for i := range fasts {
					wg.Add(1)
					go func() {
						defer wg.Done()
						fasts[i] = serve("/fast", dir)
						done.Add(1)
					}()
				}
				started := func() bool {
					for i := range threads {
						if !exists(dir, fmt.Sprint(i)) {
							return false
						}
					}
					return true
				}
				waitFor(t, 20*time.Second, "the held requests to start", started)
				// Every thread is held: requests still on the worker
				// besides the held ones never started.
				var pid, waiting int
				waitFor(t, 5*time.Second, "the other requests to end, or to wait in the worker or in Go's queue", func() bool {
					st := c.Status()
					if len(st.Workers) != 1 {
						return false
					}
					pid, waiting = st.Workers[0].PID, len(st.Workers[0].Requests)-threads
					return waiting+st.Queued+int(done.Load()) == extra
				})
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				wg.Wait()
				for i, code := range holds {
					if code != http.StatusBadGateway {
						t.Errorf("held request %d (started when its worker was killed): %d, want 502", i, code)
					}
				}
				for i, code := range fasts {
					if code != http.StatusOK {
						t.Errorf("request %d (never started, %d waited in the killed worker): %d, want 200", i, waiting, code)
					}
				}
				if t.Failed() || waiting > 0 {
					t.Logf("try %d: %d requests waited in the killed worker", try, waiting)
					return
				}
				if try == 5 {
					t.Fatalf("5 tries, and no request was prefetched into the worker behind the held ones")
				}
				os.RemoveAll(dir)
			}
		})
	}
}
