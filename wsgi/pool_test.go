package wsgi

import (
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// socketPair returns the two ends of a Unix stream socketpair.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// idlePool is a pool with one worker slot on a socket no process reads:
// enough to test acquire and send without Python.
func idlePool(t *testing.T) *pool {
	t.Helper()
	cfg, err := Config{App: "x:app", Workers: 1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	pl := &pool{cfg: cfg, log: cfg.Logger, procs: map[*proc]bool{}, zygotes: map[*zygote]bool{},
		stopped: make(chan struct{}), restarts: map[string]int64{}, maxRequest: maxFrame}
	ours, _ := socketPair(t)
	raw, err := ours.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{pool: pl, conn: ours, raw: raw, streams: map[uint16]*stream{}, dead: make(chan struct{}),
		exited: make(chan struct{}), log: cfg.Logger}
	pl.procs[p] = true
	pl.list = append(pl.list, p)
	return pl
}

// TestStartFailedSendIsNil: a request that cannot be sent gives a nil
// Exchange (not a typed nil *stream) and its slot back.
func TestStartFailedSendIsNil(t *testing.T) {
	pl := idlePool(t)
	pl.maxRequest = 100
	ex, err := pl.Start(context.Background(), &Request{Env: []string{"PATH_INFO", strings.Repeat("x", 200)}})
	if err == nil {
		t.Fatal("Start succeeded; want a too-large error")
	}
	if ex != nil {
		t.Fatalf("Start returned Exchange %#v with error %v; want nil", ex, err)
	}
	if n := pl.list[0].inflight; n != 0 {
		t.Errorf("%d slots still held", n)
	}
}

// TestPrefetchDepth: a busy worker gets as many prefetched requests as
// take less than prefetchBudget at its smoothed request time, up to
// Config.Prefetch, and none while one of its requests has been running for
// half the budget. Requests that ended are not looked at, even when their
// stream id is in use again.
func TestPrefetchDepth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		avg     time.Duration // the worker's smoothed request time
		running time.Duration // how long its oldest request has run; 0: none
		ended   time.Duration // a request sent this long ago and ended; 0: none
		reused  bool          // the ended request's id is in use again (by the running one)
		max     int
		want    int
	}{
		{"no request yet", 0, 0, 0, false, 8, 8},
		{"hello", 50 * time.Microsecond, 0, 0, false, 8, 8},
		{"flask", 300 * time.Microsecond, time.Millisecond, 0, false, 8, 8},
		{"1ms", time.Millisecond, 0, 0, false, 16, 9},
		{"3ms", 3 * time.Millisecond, 0, 0, false, 8, 3},
		{"just under the budget", prefetchBudget - 1, 0, 0, false, 8, 1},
		{"at the budget", prefetchBudget, 0, 0, false, 8, 0},
		{"slow app", time.Second, 0, 0, false, 8, 0},
		{"a request running for half the budget", 50 * time.Microsecond, prefetchBudget / 2, 0, false, 8, 0},
		{"a young request", 50 * time.Microsecond, prefetchBudget/2 - time.Millisecond, 0, false, 8, 8},
		{"an old request that ended", 50 * time.Microsecond, 0, time.Second, false, 8, 8},
		{"an old request that ended, behind a young one", 50 * time.Microsecond, time.Millisecond, time.Second, false, 8, 8},
		{"an old request that ended, its id reused", 50 * time.Microsecond, time.Millisecond, time.Second, true, 8, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &proc{streams: map[uint16]*stream{}}
			p.ewma.Store(int64(tc.avg))
			if tc.ended > 0 {
				p.sent = append(p.sent, &stream{id: 1, start: time.Now().Add(-tc.ended)})
			}
			if tc.running > 0 {
				s := &stream{id: 2, start: time.Now().Add(-tc.running)}
				if tc.reused {
					s.id = 1
				}
				p.streams[s.id] = s
				p.sent = append(p.sent, s)
			}
			if got := p.prefetchDepth(tc.max); got != tc.want {
				t.Errorf("prefetchDepth(%d) with %v average, oldest running %v = %d, want %d", tc.max, tc.avg, tc.running, got, tc.want)
			}
		})
	}
}

// TestPickPrefetch: with its thread taken, the pool's one worker takes
// Config.Prefetch more requests while its requests are fast, fewer as they
// get slower, and none with prefetching off.
func TestPickPrefetch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		prefetch int
		avg      time.Duration
		want     int // slots taken before pickLocked returns nil
	}{
		{"default", 0, 100 * time.Microsecond, 1 + 8},
		{"slower", 0, 4 * time.Millisecond, 1 + 2},
		{"slow", 0, 20 * time.Millisecond, 1},
		{"off", -1, 100 * time.Microsecond, 1},
		{"deeper", 32, 100 * time.Microsecond, 1 + 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := idlePool(t)
			pl.cfg.Prefetch = tc.prefetch
			cfg, err := pl.cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			pl.cfg = cfg
			pl.list[0].ewma.Store(int64(tc.avg))
			got := 0
			pl.mu.Lock()
			for pl.pickLocked(true) != nil {
				got++
			}
			pl.mu.Unlock()
			if got != tc.want {
				t.Errorf("took %d slots, want %d", got, tc.want)
			}
		})
	}
}
