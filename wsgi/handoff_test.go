package wsgi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// blockEnv is the environ of a GET of path on the dispatch test app.
func blockEnv(path, query string) []string {
	return []string{"REQUEST_METHOD", "GET", "PATH_INFO", path, "QUERY_STRING", query,
		"SERVER_NAME", "test", "SERVER_PORT", "80", "SERVER_PROTOCOL", "HTTP/1.1", "wsgi.url_scheme", "http"}
}

// startNow calls pl.Start and fails the test if it does not return within
// a few seconds: a request that finds every worker busy must be queued
// without its goroutine waiting for a slot.
func startNow(t *testing.T, pl *pool, req *Request) Exchange {
	t.Helper()
	type result struct {
		ex  Exchange
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ex, err := pl.Start(context.Background(), req)
		ch <- result{ex, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Start %s: %v", req.Path, r.err)
		}
		return r.ex
	case <-time.After(5 * time.Second):
		t.Fatalf("Start %s waited for a worker; want it queued at once", req.Path)
		return nil
	}
}

// body reads an exchange to its end and returns the body and final error.
func body(t *testing.T, ex Exchange) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	for {
		p, err := ex.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		b.Write(p.Data)
		if p.Kind == PartResponse {
			return b.String(), nil
		}
		if p.Kind == PartEnd {
			return b.String(), p.Err
		}
	}
}

// busyWorker starts the dispatch app on one worker without prefetch and
// keeps that worker busy with request A (/block?tok=A), so that the next
// requests wait in the pool's queue.
func busyWorker(t *testing.T, cfg Config) (*appEnv, *pool, Exchange) {
	t.Helper()
	cfg.Workers, cfg.Prefetch = 1, -1
	a := startApp(t, "dispatch", cfg, nil)
	releaseAll(t, a)
	pl := a.c.tr.(*pool)
	first := startNow(t, pl, &Request{Env: blockEnv("/block", "tok=A"), Method: "GET", Path: "/block"})
	waitFor(t, 5*time.Second, "A to start", func() bool { return exists(a.dir, "A-started") })
	return a, pl, first
}

// TestQueuedRequestsSentByHandOff: with the only worker busy, Start queues
// requests with their frames and returns at once; the goroutine that frees
// the slot sends them, in order, and each reports how long it waited and
// which worker ran it.
func TestQueuedRequestsSentByHandOff(t *testing.T) {
	a, pl, first := busyWorker(t, Config{})
	var queued []Exchange
	for _, tok := range []string{"B", "C"} {
		ex := startNow(t, pl, &Request{Env: blockEnv("/block", "tok="+tok), Method: "GET", Path: "/block"})
		if ex.Worker() != 0 {
			t.Errorf("%s: Worker() = %d while queued, want 0", tok, ex.Worker())
		}
		queued = append(queued, ex)
	}
	if st := pl.Status(); st.Queued != 2 {
		t.Errorf("Status().Queued = %d, want 2", st.Queued)
	}
	time.Sleep(50 * time.Millisecond) // so that the wait is measurable
	touch(t, a.dir, "A-go")
	touch(t, a.dir, "B-go")
	touch(t, a.dir, "C-go")
	if got, err := body(t, first); err != nil || !strings.HasPrefix(got, "released A") {
		t.Fatalf("A: %q, %v", got, err)
	}
	for i, tok := range []string{"B", "C"} {
		ex := queued[i]
		if got, err := body(t, ex); err != nil || !strings.HasPrefix(got, "released "+tok) {
			t.Fatalf("%s: %q, %v", tok, got, err)
		}
		if ex.Worker() != first.Worker() {
			t.Errorf("%s: Worker() = %d, want %d", tok, ex.Worker(), first.Worker())
		}
		if w := ex.(QueueWaiter).QueueWait(); w <= 0 {
			t.Errorf("%s: QueueWait() = %v, want > 0", tok, w)
		}
	}
	if calls := readFile(t, a.dir, "calls"); calls != "A\nB\nC\n" {
		t.Errorf("app calls %q, want A, B, C in order", calls)
	}
}

// TestQueueExpiresOldestFirst: one timer serves the queue; it fails each
// request when that request has waited QueueTimeout, not before, and the
// ones still queued get a worker afterwards.
func TestQueueExpiresOldestFirst(t *testing.T) {
	const limit = 2 * time.Second // C, queued at half of it, has a second to spare
	a, pl, first := busyWorker(t, Config{QueueTimeout: limit})
	b := startNow(t, pl, &Request{Env: blockEnv("/block", "tok=B"), Method: "GET", Path: "/block"})
	time.Sleep(limit / 2)
	c := startNow(t, pl, &Request{Env: blockEnv("/block", "tok=C"), Method: "GET", Path: "/block"})
	if _, err := body(t, b); !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("B: %v, want ErrQueueTimeout", err)
	}
	if w := b.(QueueWaiter).QueueWait(); w < limit {
		t.Errorf("B failed after waiting %v, before the limit %v", w, limit)
	}
	// C has waited about half the limit: still queued. Free the worker.
	touch(t, a.dir, "A-go")
	touch(t, a.dir, "C-go")
	if got, err := body(t, first); err != nil || !strings.HasPrefix(got, "released A") {
		t.Fatalf("A: %q, %v", got, err)
	}
	if got, err := body(t, c); err != nil || !strings.HasPrefix(got, "released C") {
		t.Fatalf("C: %q, %v (want it served: it had not waited the limit)", got, err)
	}
	if calls := readFile(t, a.dir, "calls"); calls != "A\nC\n" {
		t.Errorf("app calls %q, want A and C only", calls)
	}
}

// TestShutdownEndsQueued: requests queued when the pool shuts down end with
// ErrClosed; the one running finishes.
func TestShutdownEndsQueued(t *testing.T) {
	a, pl, first := busyWorker(t, Config{})
	b := startNow(t, pl, &Request{Env: blockEnv("/block", "tok=B"), Method: "GET", Path: "/block"})
	done := make(chan error, 1)
	go func() { done <- pl.Shutdown(context.Background()) }()
	if _, err := body(t, b); !errors.Is(err, ErrClosed) {
		t.Fatalf("B: %v, want ErrClosed", err)
	}
	touch(t, a.dir, "A-go")
	if got, err := body(t, first); err != nil || !strings.HasPrefix(got, "released A") {
		t.Fatalf("A: %q, %v", got, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestKickNeverWaits: the reader goroutine sends queued frames with kick,
// which must not wait for a worker that does not read (it may be blocked
// writing to Go, whose reader would then never read it: a deadlock), and
// neither may a request whose client left, sending its CANCEL. What the
// socket does not take at once is written in the background, whole and in
// order.
func TestKickNeverWaits(t *testing.T) {
	frames := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: more than a socket buffer
	var cancel7 [frameHeaderSize]byte
	putFrameHeader(cancel7[:], frameHeader{kind: frameCancel, stream: 7})
	for _, tc := range []struct {
		name string
		send func(p *proc)
		want []byte
	}{
		{"kick", (*proc).kick, frames},
		{"cancel", func(p *proc) { p.cancel(7) }, append(append([]byte(nil), frames...), cancel7[:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := idlePool(t)
			p := pl.list[0]
			ours, theirs := socketPair(t) // theirs: the worker's end, read late
			raw, err := ours.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			p.conn, p.raw = ours, raw
			p.mu.Lock()
			p.queued = append(p.queued, frames...)
			p.mu.Unlock()
			sent := make(chan struct{})
			go func() {
				tc.send(p)
				close(sent)
			}()
			select {
			case <-sent:
			case <-time.After(5 * time.Second):
				t.Fatal("waited for a worker that does not read")
			}
			got := make([]byte, len(tc.want))
			theirs.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(theirs, got); err != nil {
				t.Fatalf("reading what was sent: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatal("the frames arrived changed or out of order")
			}
			waitFor(t, 5*time.Second, "the background writer to release the socket", func() bool {
				if p.wmu.TryLock() {
					p.wmu.Unlock()
					return true
				}
				return false
			})
		})
	}
}

// TestRegisterOnDeadWorker: a request handed to a worker whose reader has
// stopped is not sent and ends with ErrNotStarted (safe to send again).
func TestRegisterOnDeadWorker(t *testing.T) {
	pl := idlePool(t)
	p := pl.list[0]
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	s := pl.newStream("GET", "/", "", 4)
	buf, flags, err := pl.encode(&Request{Env: blockEnv("/", "")})
	if err != nil {
		t.Fatal(err)
	}
	p.post(s, frameReq, flags, *buf, nil, 0, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	part, err := s.Next(ctx)
	if err != nil || part.Kind != PartEnd || !errors.Is(part.Err, ErrNotStarted) {
		t.Fatalf("Next: %+v, %v; want PartEnd with ErrNotStarted", part, err)
	}
	if len(p.queued) != 0 || len(p.streams) != 0 {
		t.Errorf("the request was queued (%d bytes) or registered (%d streams)", len(p.queued), len(p.streams))
	}
}

// TestTimeoutEarlierDeadline: one timer per worker serves its requests'
// timeouts; a request registered after another but with an earlier
// deadline still times out at its own deadline.
func TestTimeoutEarlierDeadline(t *testing.T) {
	a := startApp(t, "dispatch", Config{Workers: 1, Threads: 2, Timeout: time.Minute}, nil)
	releaseAll(t, a)
	pl := a.c.tr.(*pool)
	long := startNow(t, pl, &Request{Env: blockEnv("/block", "tok=A"), Method: "GET", Path: "/block", Timeout: 20 * time.Second})
	waitFor(t, 5*time.Second, "A to start", func() bool { return exists(a.dir, "A-started") })
	short := startNow(t, pl, &Request{Env: blockEnv("/block", "tok=B"), Method: "GET", Path: "/block", Timeout: 500 * time.Millisecond})
	if _, err := body(t, short); !errors.Is(err, ErrTimeout) {
		t.Fatalf("B: %v, want ErrTimeout at its own deadline", err)
	}
	// The worker was killed for B: A, still running on it, ends too.
	if _, err := body(t, long); !errors.Is(err, ErrWorkerDied) {
		t.Fatalf("A: %v, want ErrWorkerDied", err)
	}
}

// TestOneBlockResponse: a body that an iterable (not a list) yields in one
// block holding the whole declared Content-Length, as Flask's and Django's
// responses do, reaches Go in one frame, as a list's does: one
// PartResponse instead of a head, data and an end. Any other body is
// streamed. close() is called either way.
func TestOneBlockResponse(t *testing.T) {
	a := startApp(t, "dispatch", Config{Workers: 1}, nil)
	pl := a.c.tr.(*pool)
	for _, tc := range []struct {
		name, query string
		kinds       []PartKind
		body        string
	}{
		{"one block, declared length", "blocks=hello&length=5", []PartKind{PartResponse}, "hello"},
		{"generator starting late", "blocks=hello&length=5&gen=1", []PartKind{PartResponse}, "hello"},
		{"block longer than declared", "blocks=hello!!&length=5", []PartKind{PartResponse}, "hello"},
		{"empty first block", "blocks=,hello&length=5", []PartKind{PartResponse}, "hello"},
		{"declared zero", "blocks=&length=0", []PartKind{PartResponse}, ""},
		{"first block short", "blocks=hel,lo&length=5", []PartKind{PartHead, PartData, PartEnd}, "hello"},
		{"no declared length", "blocks=hello", []PartKind{PartHead, PartData, PartEnd}, "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(filepath.Join(a.dir, "one-block-closed"))
			ex := startNow(t, pl, &Request{Env: blockEnv("/one_block", tc.query), Method: "GET", Path: "/one_block"})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var kinds []PartKind
			var b strings.Builder
			for {
				p, err := ex.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				kinds = append(kinds, p.Kind)
				b.Write(p.Data)
				if p.Kind == PartResponse || p.Kind == PartEnd {
					if p.Err != nil {
						t.Fatalf("ended with %v", p.Err)
					}
					break
				}
			}
			// DATA frames that reach Go in one read may come as one part.
			kinds = slices.Compact(kinds)
			if !slices.Equal(kinds, tc.kinds) || b.String() != tc.body {
				t.Errorf("parts %v, body %q; want %v, %q", kinds, b.String(), tc.kinds, tc.body)
			}
			if !strings.Contains(tc.query, "gen=1") {
				waitFor(t, 5*time.Second, "close()", func() bool { return exists(a.dir, "one-block-closed") })
			}
		})
	}
}

// TestGivenBackNotRefusedByFullQueue: a request a worker gave back before
// beginning it (front: see errWithdrawn) was accepted already, so a full
// queue must not refuse it with ErrQueueFull; it waits at the front of the
// queue. Before, it was refused: a 503 for a request that had waited. With
// a spooled body too, whose Start waits for its slot (acquire).
func TestGivenBackNotRefusedByFullQueue(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spooled bool
	}{
		{"inline body", false},
		{"spooled body", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, pl, first := busyWorker(t, Config{MaxQueue: 1})
			b := startNow(t, pl, &Request{Env: blockEnv("/block", "tok=B"), Method: "GET", Path: "/block"})
			if _, err := pl.Start(context.Background(), &Request{Env: blockEnv("/block", "tok=X"), Method: "GET", Path: "/block"}); !errors.Is(err, ErrQueueFull) {
				t.Fatalf("a new request with the queue full: %v, want ErrQueueFull", err)
			}
			req := &Request{Env: blockEnv("/block", "tok=C"), Method: "GET", Path: "/block", front: true}
			if tc.spooled {
				f, err := os.CreateTemp(t.TempDir(), "body")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				req.BodyFile = f
			}
			type result struct {
				ex  Exchange
				err error
			}
			started := make(chan result, 1)
			go func() {
				ex, err := pl.Start(context.Background(), req)
				started <- result{ex, err}
			}()
			var c Exchange
			if !tc.spooled {
				r := <-started
				if r.err != nil {
					t.Fatalf("the given-back request: %v, want it queued", r.err)
				}
				c = r.ex
			} else {
				select {
				case r := <-started:
					t.Fatalf("the given-back request with a spooled body: Start returned %v before a slot was free, want it queued", r.err)
				case <-time.After(500 * time.Millisecond): // waiting in acquire, or refused soon
				}
			}
			if st := pl.Status(); st.Queued != 2 {
				t.Errorf("Status().Queued = %d, want 2", st.Queued)
			}
			for _, tok := range []string{"A", "B", "C"} {
				touch(t, a.dir, tok+"-go")
			}
			if got, err := body(t, first); err != nil || !strings.HasPrefix(got, "released A") {
				t.Fatalf("A: %q, %v", got, err)
			}
			if tc.spooled {
				r := <-started
				if r.err != nil {
					t.Fatalf("the given-back request with a spooled body: %v", r.err)
				}
				c = r.ex
			}
			for tok, ex := range map[string]Exchange{"B": b, "C": c} {
				if got, err := body(t, ex); err != nil || !strings.HasPrefix(got, "released "+tok) {
					t.Fatalf("%s: %q, %v", tok, got, err)
				}
			}
			if calls := readFile(t, a.dir, "calls"); calls != "A\nC\nB\n" {
				t.Errorf("app calls %q, want A, C (given back: the front of the queue), B", calls)
			}
		})
	}
}
