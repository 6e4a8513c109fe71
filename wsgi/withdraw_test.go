package wsgi

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
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

// stallRig sends stallapp requests through a Container: /slow ones, which
// the app holds until released, and /fast ones, answered at once. It
// records each request's status and the pid of the worker that answered.
type stallRig struct {
	t   *testing.T
	c   *Container
	dir string

	mu    sync.Mutex
	codes map[string]int // by request id
	pids  map[string]int // by request id: the worker that answered
	n     int            // requests sent, for ids

	reqs  sync.WaitGroup // every request sent
	slows []string       // the /slow ids, released at the end
}

func newStallRig(t *testing.T, cfg Config) (*stallRig, *pythontest.Buffer) {
	cfg.App = "stallapp:app"
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	c, logs := newContainer(t, cfg)
	r := &stallRig{t: t, c: c, dir: t.TempDir(), codes: map[string]int{}, pids: map[string]int{}}
	t.Cleanup(func() {
		r.releaseAll()
		r.reqs.Wait()
	})
	return r, logs
}

// serve sends one request, and records its answer under id.
func (r *stallRig) serve(path, id string) {
	req := httptest.NewRequest(http.MethodGet, path+"?"+id, nil)
	req.Header.Set("X-Dir", r.dir)
	w := httptest.NewRecorder()
	r.c.ServeHTTP(w, req)
	pid := 0
	fmt.Sscan(w.Body.String(), &pid)
	r.mu.Lock()
	r.codes[id], r.pids[id] = w.Code, pid
	r.mu.Unlock()
}

// fast sends n /fast requests, one after the other.
func (r *stallRig) fast(n int) {
	for range n {
		r.n++
		r.serve("/fast", fmt.Sprint("f", r.n))
	}
}

// releaseAll lets every /slow request end.
func (r *stallRig) releaseAll() {
	for _, id := range r.slows {
		if !exists(r.dir, "release-"+id) {
			touch(r.t, r.dir, "release-"+id)
		}
	}
}

// stuck reports whether each of the threads of the worker w describes
// runs a /slow request (a worker begins requests in the order they were
// sent: its oldest ones), and how many requests wait behind them.
func stuck(w WorkerStatus, threads int) (behind int, ok bool) {
	if len(w.Requests) < threads {
		return 0, false
	}
	for _, q := range w.Requests[:threads] { // the oldest first
		if q.Path != "/slow" {
			return 0, false
		}
	}
	return len(w.Requests) - threads, true
}

// stall sends slows /slow requests and fasts /fast ones at once, until the
// workers' state as they settle satisfies want (see stuck), for up to 5
// tries: the fast ones must reach a busy worker's socket while its slow
// ones are young (see prefetchDepth), which sending all at once nearly
// always, but not always, does. It returns the ids of the last try's fast
// requests and a channel closed once they are answered. A try that fails
// is released and waited for.
func (r *stallRig) stall(slows, fasts int, want func(Status) bool) (ids []string, done chan struct{}) {
	t := r.t
	t.Helper()
	for try := range 5 {
		var slowIDs []string
		var swg sync.WaitGroup
		for k := range slows {
			id := fmt.Sprintf("s%d-%d", try, k)
			slowIDs = append(slowIDs, id)
			r.slows = append(r.slows, id)
			r.reqs.Add(1)
			swg.Add(1)
			go func() {
				defer r.reqs.Done()
				defer swg.Done()
				r.serve("/slow", id)
			}()
		}
		// The slow ones first, each to a free thread: sent at once with
		// the fast ones, a slow one could find every thread busy with a
		// fast one and wait behind another slow one (under load, often),
		// to be taken back to a worker that is free.
		for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
			n := 0
			for _, w := range r.c.Status().Workers {
				for _, q := range w.Requests {
					if q.Path == "/slow" {
						n++
					}
				}
			}
			if n == slows {
				break
			}
		}
		ids = ids[:0]
		var fwg sync.WaitGroup
		var answered atomic.Int32
		for i := range fasts {
			id := fmt.Sprintf("t%d-%d", try, i)
			ids = append(ids, id)
			r.reqs.Add(1)
			fwg.Add(1)
			go func() {
				defer r.reqs.Done()
				defer fwg.Done()
				r.serve("/fast", id)
				answered.Add(1)
			}()
		}
		// Settled: every /slow request runs, every /fast one is answered,
		// in a worker or queued.
		settled := false
		var st Status
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			st = r.c.Status()
			inSlow, inFast := 0, 0
			for _, w := range st.Workers {
				for _, q := range w.Requests {
					if q.Path == "/slow" {
						inSlow++
					} else {
						inFast++
					}
				}
			}
			running := 0
			for _, id := range slowIDs {
				if exists(r.dir, "slow-"+id) {
					running++
				}
			}
			if running == slows && inSlow == slows && int(answered.Load())+inFast+st.Queued == fasts {
				settled = true
				break
			}
		}
		if settled && want(st) {
			t.Logf("try %d: workers settled as wanted: %+v", try, st.Workers)
			done = make(chan struct{})
			go func() {
				fwg.Wait()
				close(done)
			}()
			return ids, done
		}
		var got []string
		for _, w := range st.Workers {
			var paths []string
			for _, q := range w.Requests {
				paths = append(paths, q.Path)
			}
			got = append(got, strings.Join(paths, " "))
		}
		t.Logf("try %d: settled %v, not as wanted: %q", try, settled, got)
		for _, id := range slowIDs {
			touch(t, r.dir, "release-"+id)
		}
		fwg.Wait()
		swg.Wait() // the next try starts with every thread free
	}
	t.Fatalf("5 tries, and the workers never settled with requests waiting behind stuck threads")
	return nil, nil
}

// recycleFirst sends requests one at a time until the first workers (pids
// in first) have both been recycled for max-requests, then checks that
// every request was answered 200 and that each of them served exactly its
// budget, limit.
func (r *stallRig) recycleFirst(first map[int]bool, limit int) {
	t := r.t
	t.Helper()
	for i := 0; r.c.Status().Restarts["max-requests"] < 2; i++ {
		if i == 3*limit {
			t.Fatalf("%d more requests, and the first workers were not both recycled: %v", i, r.c.Status().Restarts)
		}
		r.fast(1)
	}
	served := map[int]int{}
	r.mu.Lock()
	for id, pid := range r.pids {
		if r.codes[id] != 200 {
			t.Errorf("%s: %d, want 200", id, r.codes[id])
		}
		served[pid]++
	}
	r.mu.Unlock()
	for pid := range first {
		if served[pid] != limit {
			t.Errorf("worker %d answered %d requests before it was recycled, want MaxRequests (%d)", pid, served[pid], limit)
		}
	}
}

// checkRanOnce fails unless each of ids was answered 200 and ran once.
func (r *stallRig) checkRanOnce(ids []string) {
	t := r.t
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, "ran"))
	if err != nil {
		t.Fatal(err)
	}
	ran := strings.Fields(string(b))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if r.codes[id] != 200 {
			t.Errorf("/fast?%s: %d, want 200", id, r.codes[id])
		}
		if n := countOf(ran, id); n != 1 {
			t.Errorf("/fast?%s ran %d times, want once", id, n)
		}
	}
}

// stuckWithOther reports whether a worker of st is stuck (see stuck) with
// requests behind its threads, while another is not stuck.
func stuckWithOther(threads int) func(Status) bool {
	return func(st Status) bool {
		behind, free := false, false
		for _, w := range st.Workers {
			if n, ok := stuck(w, threads); ok {
				behind = behind || n > 0
			} else {
				free = true
			}
		}
		return behind && free
	}
}

// TestThreadedWithdrawnFromStalledWorker: a worker with 2 threads, both
// held by /slow requests, with requests prefetched behind them, while the
// other worker has a thread free. They must be taken back and answered by
// the other worker while the slow ones still run, each run exactly once.
// Before, withdrawal covered single-threaded workers only: they waited for
// a slow one to end, or for Timeout.
func TestThreadedWithdrawnFromStalledWorker(t *testing.T) {
	const threads = 2
	r, logs := newStallRig(t, Config{Workers: 2, Threads: threads})
	r.fast(20) // so the workers count as fast: they get prefetch
	// 3 slow requests over 2 workers: one runs 2 of them.
	ids, done := r.stall(3, 8, stuckWithOther(threads))
	held := time.Now()
	select {
	case <-done:
		t.Logf("the requests behind the slow ones were answered %v after they settled there", time.Since(held).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatalf("the requests behind the slow ones still wait after 20 s (another worker had a free thread); status: %+v", r.c.Status().Workers)
	}
	r.releaseAll()
	r.reqs.Wait()
	r.checkRanOnce(ids)
	for _, id := range r.slows {
		if r.codes[id] != 200 {
			t.Errorf("/slow?%s: %d, want 200", id, r.codes[id])
		}
	}
	logHas(t, logs, 5*time.Second, "taken back from a worker stuck on a slow request")
}

// TestWithdrawnNotCountedAgainstMaxRequests: requests a stuck worker gave
// back were never served there, so they must not count against its
// MaxRequests. Each of the two workers must answer exactly MaxRequests
// requests before it is recycled; before, the stuck one was recycled
// after MaxRequests less the ones it gave back.
func TestWithdrawnNotCountedAgainstMaxRequests(t *testing.T) {
	const limit = 100
	r, logs := newStallRig(t, Config{Workers: 2, MaxRequests: limit})
	st := r.c.Status()
	first := map[int]bool{}
	for _, w := range st.Workers {
		first[w.PID] = true
	}
	r.fast(20) // so the workers count as fast: they get prefetch
	_, done := r.stall(1, 8, stuckWithOther(1))
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the requests behind the slow one still wait after 20 s")
	}
	logHas(t, logs, 5*time.Second, "taken back from a worker stuck on a slow request")
	r.releaseAll()
	r.reqs.Wait()
	// One request at a time goes to the first worker in service with a
	// free thread: the first until its limit, then the other.
	r.recycleFirst(first, limit)
}

// TestNoWithdrawalWithoutAnotherWorker: when no other worker could take
// the requests waiting behind stuck threads (a single worker, or every
// worker stuck), they stay where they are: given back, they would only
// wait in the queue, for the same workers. Before, they were taken back
// and queued again.
func TestNoWithdrawalWithoutAnotherWorker(t *testing.T) {
	for _, tc := range []struct {
		name             string
		workers, threads int
	}{
		{"one worker", 1, 1},
		{"one threaded worker", 1, 2},
		{"every worker stuck", 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, logs := newStallRig(t, Config{Workers: tc.workers, Threads: tc.threads})
			pl := r.c.tr.(*pool)
			r.fast(20) // so the workers count as fast: they get prefetch
			// How many requests wait behind the stuck threads.
			behind := func(st Status) int {
				n := 0
				for _, w := range st.Workers {
					b, ok := stuck(w, tc.threads)
					if !ok {
						return -1
					}
					n += b
				}
				return n
			}
			const takenBack = "taken back from a worker"
			var before int
			seen := strings.Count(logs.String(), takenBack)
			r.stall(tc.workers*tc.threads, 8, func(st Status) bool {
				// Nothing taken back while this try settled: until every
				// worker is stuck, one is free, and taking back is right.
				n := strings.Count(logs.String(), takenBack)
				fresh := n == seen
				seen = n
				before = behind(st)
				return fresh && before > 0
			})
			// Once the workers are marked stalled, the decision is made in
			// the same tick; a worker's answer takes milliseconds.
			waitFor(t, 10*time.Second, "the workers to be marked stalled", func() bool {
				pl.mu.Lock()
				defer pl.mu.Unlock()
				for _, p := range pl.list {
					if !p.stalled.Load() {
						return false
					}
				}
				return true
			})
			time.Sleep(4 * withdrawTick)
			if strings.Count(logs.String(), takenBack) > seen {
				t.Errorf("requests were taken back though no other worker could take them")
			}
			if n := behind(r.c.Status()); n != before {
				t.Errorf("%d requests wait behind the stuck threads, want the %d that did before", n, before)
			}
			r.releaseAll()
			r.reqs.Wait()
			r.mu.Lock()
			defer r.mu.Unlock()
			for id, code := range r.codes {
				if code != 200 {
					t.Errorf("%s: %d, want 200", id, code)
				}
			}
		})
	}
}

// TestWithdrawsConfig: every worker that may be given prefetched requests
// gets a control socket, whatever its Threads; with prefetch off
// (-prefetch 0) or no queue (no prefetch either, see pickLocked), none
// does: no request ever waits in a worker's socket then. Before, Threads
// > 1 got none.
func TestWithdrawsConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config // as New leaves it: Prefetch 0 is off
		want bool
	}{
		{"1 thread", Config{Threads: 1, Prefetch: 8, MaxQueue: 1024}, true},
		{"4 threads", Config{Threads: 4, Prefetch: 8, MaxQueue: 1024}, true},
		{"prefetch off", Config{Threads: 4, Prefetch: 0, MaxQueue: 1024}, false},
		{"no queue", Config{Threads: 1, Prefetch: 8, MaxQueue: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (&pool{cfg: tc.cfg}).withdraws(); got != tc.want {
				t.Errorf("withdraws() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLastOfBudgetNotWithdrawn: the request that completes a worker's
// MaxRequests budget starts its replacement, so if it were given back
// afterwards the worker would be recycled one request short of its
// budget. Worker A, first in service, answers limit-2 requests one at a
// time, then a /slow one; /fast ones sent at once with the slow one find
// A busy, and the first queued behind its slow request (prefetch) would be
// its last. Each of the two first workers must still answer exactly limit
// requests, with one replacement each and the pool never short. Before,
// that request was prefetched and, A being stuck, given back: A was
// recycled having answered limit-1.
func TestLastOfBudgetNotWithdrawn(t *testing.T) {
	const limit = 22
	r, _ := newStallRig(t, Config{Workers: 2, MaxRequests: limit})
	first := map[int]bool{}
	for _, w := range r.c.Status().Workers {
		first[w.PID] = true
	}
	r.fast(limit - 2) // to the first worker: one at a time, each finds it free
	_, done := r.stall(1, 8, func(Status) bool { return true })
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the /fast requests still wait after 20 s: %+v", r.c.Status().Workers)
	}
	r.releaseAll()
	r.reqs.Wait()
	r.recycleFirst(first, limit)
	if n := r.c.Status().Restarts["max-requests"]; n != 2 {
		t.Errorf("%d recycles for max-requests, want 2 (one per worker)", n)
	}
	waitFor(t, 10*time.Second, "two workers in service", func() bool {
		n := 0
		for _, w := range r.c.Status().Workers {
			if !first[w.PID] {
				n++
			}
		}
		return n == 2
	})
}

// TestWriteControlWhole: a WITHDRAW frame the control socket does not take
// within its deadline (the worker's thread does not read: its socket is
// full) is not cut: writeControl returns by the deadline, the rest is
// written once the worker reads, and no other frame is written meanwhile
// (ctlMu stays held); the worker reads the frame whole, its answer still
// awaited (withdrawing). A socket that is closed (the worker died) ends
// the write: nothing is awaited. Before, the frame was written with the
// deadline and left cut: the worker would have read the next frame's
// bytes as its rest.
func TestWriteControlWhole(t *testing.T) {
	for _, tc := range []struct {
		name  string
		room  int  // bytes the worker reads before the frame is written
		close bool // the socket is closed while the rest waits
	}{
		{"socket full", 0, false},
		{"room for part of the frame", 8192, false},
		{"socket closed while the rest waits", 8192, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ours, theirs := socketPair(t)
			p := &proc{}
			ctlFree := func() bool { // the control socket's lock is free: the frame is done with
				if !p.ctlMu.TryLock() {
					return false
				}
				p.ctlMu.Unlock()
				return true
			}
			// Fill the socket, as a worker whose thread does not read.
			filler := 0
			chunk := make([]byte, 4096)
			ours.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			for {
				n, err := ours.Write(chunk)
				filler += n
				if err != nil {
					break
				}
			}
			if _, err := io.ReadFull(theirs, make([]byte, tc.room)); err != nil {
				t.Fatal(err)
			}
			frame := make([]byte, frameHeaderSize+8*8192) // 8192 requests: more than the room
			for i := frameHeaderSize; i < len(frame); i += 8 {
				binary.LittleEndian.PutUint64(frame[i:], uint64(i))
			}
			putFrameHeader(frame, frameHeader{kind: frameWithdraw, length: uint32(len(frame) - frameHeaderSize)})
			want := slices.Clone(frame)

			p.ctlMu.Lock()
			p.withdrawing.Add(1)
			start := time.Now()
			p.writeControl(ours, frame, time.Now().Add(20*time.Millisecond))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("writeControl took %v; want about its deadline", d)
			}
			if p.ctlMu.TryLock() {
				t.Fatal("the control socket was free for another frame before this one was written whole")
			}
			if tc.close {
				ours.Close()
				waitFor(t, 10*time.Second, "the control socket to be free", ctlFree)
				if n := p.withdrawing.Load(); n != 0 {
					t.Errorf("withdrawing %d after the socket closed; want 0 (no answer will come)", n)
				}
				return
			}
			got := make([]byte, filler-tc.room+len(want))
			theirs.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(theirs, got); err != nil {
				t.Fatalf("the worker's read: %v", err)
			}
			if !bytes.Equal(got[filler-tc.room:], want) {
				t.Error("the frame the worker read differs from the one written")
			}
			waitFor(t, 10*time.Second, "the control socket to be free", ctlFree)
			if n := p.withdrawing.Load(); n != 1 {
				t.Errorf("withdrawing %d; want 1 (the worker's answer is awaited)", n)
			}
		})
	}
}
