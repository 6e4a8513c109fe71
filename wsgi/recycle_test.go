package wsgi

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
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

// TestRecycleRetriesIdle: a worker past its request limit whose
// replacement failed to start keeps serving, and the start is tried again
// on its own, with no request: once the cause is gone, the replacement
// goes into service and the old worker leaves, on an idle server. The
// failure streak is logged once at ERROR, and the recovery with how many
// starts failed. Before, the start was tried again only by a request
// handed to the worker 5 s after the failure: an idle server stayed with
// the old worker past its limit (and, for the fd starvation of
// TestUlimitNoFile, the first requests after paid for the start). The
// failure is a fork the preload process cannot make (EAGAIN, see
// TestZygoteForkFails), or, with preload off, code on disk that no longer
// imports. Shutdown (or a reload) during the streak ends the retries: no
// supervisor goroutine and no process is left.
func TestRecycleRetriesIdle(t *testing.T) {
	type variant struct {
		name string
		app  string
		cfg  Config
		fail string // the file in $GRAFT_TEST_DIR that makes a start fail
	}
	variants := []variant{
		{"preload/fork fails", "apps:pid", Config{Env: []string{"PYTHONPATH=" + filepath.Join(testdataDir(t), "forkfail")}}, "forkfail"},
		{"no preload/import fails", "brokendeploy:app", Config{NoPreload: true}, "broken"},
	}
	// failing starts the app with one worker and MaxRequests 2, makes
	// starts fail, and sends the requests that bring the worker past its
	// limit; it returns a second after the replacement's start failed.
	failing := func(t *testing.T, v variant) (*appEnv, int) {
		cfg := v.cfg
		cfg.Workers, cfg.MaxRequests = 1, 2
		a := startApp(t, v.app, cfg, nil)
		old := pidOf(t, a.srv.URL)
		touch(t, a.dir, v.fail)
		if got := pidOf(t, a.srv.URL); got != old {
			t.Fatalf("the request that reached the limit was answered by %d; want %d", got, old)
		}
		logHas(t, a.logs, 30*time.Second, "could not start a replacement to recycle a worker; it keeps serving")
		// Past its limit, the worker serves on.
		if got := pidOf(t, a.srv.URL); got != old {
			t.Fatalf("a request after the failed start was answered by %d; want the old worker %d", got, old)
		}
		// No request from here on. The start is tried again within 0.1,
		// 0.3 and 0.7 s of the failure (the backoff doubles from 100 ms):
		// a second of failing starts.
		time.Sleep(time.Second)
		return a, old
	}
	for _, v := range variants {
		t.Run(v.name+"/recovers idle", func(t *testing.T) {
			a, old := failing(t, v)
			if err := os.Remove(filepath.Join(a.dir, v.fail)); err != nil {
				t.Fatal(err)
			}
			pl := poolOf(a.c)
			waitFor(t, 30*time.Second, "the replacement in service and the old worker gone, with no request", func() bool {
				pids := pl.pids()
				return len(pids) == 1 && pids[0] != old && !pidAlive(old)
			})
			logs := a.logs.String()
			if n := strings.Count(logs, "level=ERROR msg=\"wsgi: could not start a replacement"); n != 1 {
				t.Errorf("%d ERROR lines for the failed starts; want 1 for the streak", n)
			}
			l := logLine(a.logs, "wsgi: recycling worker")
			if !strings.Contains(l, "graft.reason=max-requests") || !regexp.MustCompile(`graft\.failed_starts=([2-9]|\d\d)`).MatchString(l) {
				t.Errorf("the recovery's line %q; want graft.reason=max-requests and graft.failed_starts of 2 or more", l)
			}
			if got := pidOf(t, a.srv.URL); got == old {
				t.Errorf("served by the old worker %d after the recycle", old)
			}
			if st := a.c.Status(); st.Restarts["max-requests"] != 1 {
				t.Errorf("Restarts %v; want max-requests 1", st.Restarts)
			}
		})
		t.Run(v.name+"/shutdown", func(t *testing.T) {
			a, old := failing(t, v)
			var zyg int
			if z := poolOf(a.c).current().zygote(); z != nil {
				zyg = z.pid
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := a.c.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown during the failure streak: %v", err)
			}
			if n := goroutinesIn("recycleFor"); n > 0 {
				t.Errorf("%d recycleFor goroutines left after Shutdown", n)
			}
			for _, pid := range []int{old, zyg} {
				if pid != 0 && pidAlive(pid) {
					t.Errorf("process %d still running after Shutdown", pid)
				}
			}
		})
		t.Run(v.name+"/reload", func(t *testing.T) {
			a, old := failing(t, v)
			if err := os.Remove(filepath.Join(a.dir, v.fail)); err != nil {
				t.Fatal(err)
			}
			// The reload and the retry race: either the retry recycles
			// the old worker and the reload replaces its replacement, or
			// the reload retires it and the retry stops. Either way the
			// pool ends with one worker, the reload's.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.c.Reload(ctx); err != nil {
				t.Fatalf("Reload: %v", err)
			}
			waitFor(t, 30*time.Second, "the retries to end", func() bool { return goroutinesIn("recycleFor") == 0 })
			waitFor(t, 10*time.Second, fmt.Sprintf("the old worker %d to exit", old), func() bool { return !pidAlive(old) })
			// A retry started no worker behind the reload's back.
			time.Sleep(500 * time.Millisecond)
			if st := a.c.Status(); len(st.Workers) != 1 || st.Workers[0].Generation != st.Generation {
				t.Errorf("workers %+v after the reload (generation %d); want 1, of that generation", st.Workers, st.Generation)
			}
		})
	}
}

// goroutinesIn counts the goroutines whose stack has fn in it.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "."+fn+"(") {
			n++
		}
	}
	return n
}

// TestLastOfBudgetPick: the request that completes a worker's budget is
// handed to it only while a thread of it is free and no withdrawal of it
// is unanswered, so that it cannot be given back after it has started the
// replacement (see countLocked); the ones before it may be prefetched.
// After a failed replacement start (past its limit) the rule no longer
// applies. (recycling is set, so no process is started.)
func TestLastOfBudgetPick(t *testing.T) {
	for _, tc := range []struct {
		name        string
		inflight    int32 // threads busy before the last request (of 2)
		withdrawing int32
		pastLimit   bool
		want        bool // the last request is handed
	}{
		{"a thread free", 1, 0, false, true},
		{"every thread busy", 2, 0, false, false},
		{"a thread free, a withdrawal unanswered", 0, 1, false, false},
		{"past its limit, every thread busy", 2, 0, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := idlePool(t)
			pl.cfg.Threads = 2
			p := pl.list[0]
			p.limit, p.handed, p.pastLimit = 10, 9, tc.pastLimit
			p.inflight = int(tc.inflight)
			p.withdrawing.Store(tc.withdrawing)
			p.recycling.Store(true)
			pl.mu.Lock()
			defer pl.mu.Unlock()
			pl.active.Add(int(tc.inflight))
			got := pl.pickLocked(true) == p
			if got != tc.want {
				t.Fatalf("the last request handed: %v, want %v", got, tc.want)
			}
			if got && p.atLimit == tc.pastLimit {
				t.Errorf("at limit %v after the last request; want %v", p.atLimit, !tc.pastLimit)
			}
			if p.handed != 9+int64(btoi(got)) {
				t.Errorf("handed %d", p.handed)
			}
		})
	}
	// Before it, a request may wait behind busy threads (prefetch).
	pl := idlePool(t)
	pl.cfg.Threads = 2
	p := pl.list[0]
	p.limit, p.handed, p.inflight = 10, 8, 2
	pl.active.Add(2)
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.pickLocked(true) != p {
		t.Fatal("the request before the last was not prefetched")
	}
	if pl.pickLocked(true) != nil {
		t.Fatal("the last request was prefetched")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
