package wsgi

import (
	"fmt"
	"testing"
	"time"
)

// TestMaxRequestsBound: under concurrent load, a worker takes no new
// request once it has been handed its MaxRequests (plus its jitter), so no
// worker answers more than that; no request fails while workers are
// swapped: the other workers take the load, and with one worker, or with
// no queue, requests wait for the replacement. Workers served hundreds of
// requests past their limit: one stayed in the pick until its replacement
// was ready.
func TestMaxRequestsBound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		clients int
	}{
		{"2 workers", Config{Workers: 2, MaxRequests: 50}, 32},
		{"2 workers/jitter", Config{Workers: 2, MaxRequests: 40, MaxRequestsJitter: 20}, 32},
		{"2 workers/4 threads/no prefetch", Config{Workers: 2, Threads: 4, Prefetch: -1, MaxRequests: 50}, 32},
		{"1 worker", Config{Workers: 1, MaxRequests: 30}, 16},
		// No queue: as many clients as threads, none is ever refused,
		// the swap included.
		{"1 worker/no queue", Config{Workers: 1, Threads: 4, MaxQueue: -1, MaxRequests: 30}, 4},
		{"2 workers/no preload", Config{Workers: 2, MaxRequests: 50, NoPreload: true}, 32},
		{"2 workers/jitter/no preload", Config{Workers: 2, MaxRequests: 40, MaxRequestsJitter: 20, NoPreload: true}, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.App = "opsapp:app"
			c, _ := newContainer(t, cfg)
			srv := newServer(t, c)
			lg := startLoad(t, srv.URL+"/pid", tc.clients)
			recycles := 4
			deadline := time.Now().Add(90 * time.Second)
			for time.Now().Before(deadline) && len(pidSet(lg.snapshot())) < cfg.Workers+recycles {
				time.Sleep(50 * time.Millisecond)
			}
			answers := lg.checkNoFailures(t, 1)
			per := map[int]int{}
			for _, a := range answers {
				per[a.pid]++
			}
			if len(per) < cfg.Workers+recycles {
				t.Errorf("%d requests were answered by %d pids; want at least %d (%d recycles)",
					len(answers), len(per), cfg.Workers+recycles, recycles)
			}
			most := cfg.MaxRequests + cfg.MaxRequestsJitter
			for pid, n := range per {
				if n > most {
					t.Errorf("worker %d answered %d requests; want at most %d (MaxRequests %d + MaxRequestsJitter %d)",
						pid, n, most, cfg.MaxRequests, cfg.MaxRequestsJitter)
				}
			}
			if t.Failed() {
				t.Logf("requests per worker: %v", per)
			}
			st := c.Status()
			for reason, n := range st.Restarts {
				if reason != "max-requests" && n > 0 {
					t.Errorf("Restarts = %v; want only max-requests", st.Restarts)
				}
			}
			waitFor(t, 10*time.Second, fmt.Sprintf("%d workers, none draining, once the load stops", cfg.Workers), func() bool {
				st := c.Status()
				if len(st.Workers) != cfg.Workers {
					return false
				}
				for _, w := range st.Workers {
					if w.State == "draining" {
						return false
					}
				}
				return true
			})
		})
	}
}

// TestRequestLimitPick: the request that reaches a worker's limit is the
// last one it is handed, while it has threads free; control calls do not
// count, and a worker at its limit gets none either; the queue makes room
// for the threads of a worker at its limit, with no queue (MaxQueue
// negative) too. (Its replacement is taken as starting: recycling is set,
// so no process is started.)
func TestRequestLimitPick(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxQueue int
		room     int // queueCapLocked once the worker is at its limit
	}{
		{"queue", 10, 10 + 4},
		{"no queue", -1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := idlePool(t)
			pl.cfg.Threads, pl.cfg.MaxQueue, pl.cfg.Prefetch = 4, tc.maxQueue, -1
			cfg, err := pl.cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			pl.cfg = cfg
			p := pl.list[0]
			p.limit = 2
			p.recycling.Store(true)
			pl.mu.Lock()
			if pl.pickLocked(false) != p || pl.pickLocked(true) != p {
				t.Fatal("a control call and a request were not handed to the idle worker")
			}
			if p.atLimit || p.handed != 1 {
				t.Fatalf("after one request and a call: handed %d, at limit %v; want 1, false", p.handed, p.atLimit)
			}
			if pl.pickLocked(true) != p || !p.atLimit {
				t.Fatalf("the second request: at limit %v; want it handed, and the worker at its limit", p.atLimit)
			}
			if q := pl.pickLocked(true); q != nil {
				t.Errorf("a request was handed to the worker at its limit (%d of 4 threads busy)", p.inflight)
			}
			if q := pl.pickLocked(false); q != nil {
				t.Errorf("a control call was handed to the worker at its limit")
			}
			if got := pl.queueCapLocked(); got != tc.room {
				t.Errorf("queue room %d; want %d", got, tc.room)
			}
			pl.mu.Unlock()
			if pl.QueueFull() {
				t.Error("QueueFull while the worker at its limit waits for its replacement; want the request to wait")
			}
		})
	}
}
