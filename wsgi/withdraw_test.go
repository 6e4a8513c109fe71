package wsgi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPrefetchedWithdrawnFromStalledWorker queues fast requests behind one
// that turns slow in a single-threaded worker's socket (prefetch), with
// another worker free. They must be taken back and answered by the other
// worker while the slow one still runs, each run exactly once. Before
// withdrawal they waited for the slow request to end (or for Timeout).
func TestPrefetchedWithdrawnFromStalledWorker(t *testing.T) {
	const fasts = 8
	c, logs := newContainer(t, Config{App: "stallapp:app", Workers: 2, Timeout: time.Minute})
	dir := t.TempDir()
	serve := func(path string) int {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("X-Dir", dir)
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		return w.Code
	}
	for i := range 20 { // so the workers count as fast: they get prefetch
		if code := serve(fmt.Sprintf("/fast?warm%d", i)); code != 200 {
			t.Fatalf("warm-up: %d", code)
		}
	}
	var slows sync.WaitGroup
	var slowCodes [5]int
	defer func() {
		for try := range slowCodes {
			if !exists(dir, fmt.Sprint("release-", try)) {
				touch(t, dir, fmt.Sprint("release-", try))
			}
		}
		slows.Wait()
	}()
	var (
		mu    sync.Mutex
		codes = map[string]int{}
		ids   []string
		fwg   sync.WaitGroup
		try   int
	)
	// The requests must reach the slow one's worker while it is young (see
	// prefetchDepth): sent at once, some nearly always do; a try where
	// none waited behind it is done again.
	for try = 0; ; try++ {
		slows.Add(1)
		n := try // try outlives the loop
		go func() {
			defer slows.Done()
			slowCodes[n] = serve(fmt.Sprint("/slow?", n))
		}()
		var done atomic.Int32
		for i := range fasts {
			id := fmt.Sprintf("t%d-%d", try, i)
			ids = append(ids, id)
			fwg.Add(1)
			go func() {
				defer fwg.Done()
				code := serve("/fast?" + id)
				mu.Lock()
				codes[id] = code
				mu.Unlock()
				done.Add(1)
			}()
		}
		waitFor(t, 20*time.Second, "the slow request to start", func() bool { return exists(dir, fmt.Sprint("slow-", try)) })
		behind := 0
		waitFor(t, 5*time.Second, "the fast requests to be answered, or to wait", func() bool {
			st := c.Status()
			inflight := 0
			for _, w := range st.Workers {
				inflight += len(w.Requests)
				for _, r := range w.Requests {
					if r.Path == "/slow" {
						behind = len(w.Requests) - 1
					}
				}
			}
			return int(done.Load())+inflight-1+st.Queued == fasts
		})
		if behind > 0 {
			t.Logf("try %d: %d requests waited behind the slow one", try, behind)
			break
		}
		touch(t, dir, fmt.Sprint("release-", try))
		fwg.Wait()
		if try == len(slowCodes)-1 {
			t.Fatalf("%d tries, and no request was prefetched behind the slow one", len(slowCodes))
		}
	}
	fastDone := make(chan struct{})
	go func() {
		fwg.Wait()
		close(fastDone)
	}()
	select {
	case <-fastDone:
	case <-time.After(20 * time.Second):
		t.Fatalf("the requests behind the slow one still wait after 20 s (another worker was free)")
	}
	touch(t, dir, fmt.Sprint("release-", try))
	slows.Wait()
	for i := 0; i <= try; i++ {
		if slowCodes[i] != 200 {
			t.Errorf("/slow?%d: %d, want 200", i, slowCodes[i])
		}
	}
	for _, id := range ids {
		if codes[id] != 200 {
			t.Errorf("/fast?%s: %d, want 200", id, codes[id])
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "ran"))
	if err != nil {
		t.Fatal(err)
	}
	ran := strings.Fields(string(b))
	for _, id := range ids {
		if n := countOf(ran, id); n != 1 {
			t.Errorf("/fast?%s ran %d times, want once", id, n)
		}
	}
	logHas(t, logs, 5*time.Second, "taken back from a worker stuck on a slow request")
}

// countOf counts s in list.
func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}
