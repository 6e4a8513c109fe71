package wsgi

import (
	"context"
	"errors"
	"fmt"
	dto "github.com/prometheus/client_model/go"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// The tests in this file drive the Container through a scripted Transport:
// the HTTP side (respond, retries, HEAD, Content-Length, deadlines, error
// mapping) in milliseconds and without Python. The real-Python tests are in
// the other files.

// fakeTransport answers each Start with the next step of its script; once
// the script is used up it repeats the last step.
type fakeTransport struct {
	mu     sync.Mutex
	script []fakeStep
	starts int
	bodies []string // the request body each Start saw
	closed bool
}

// fakeStep is one Start: an error, a Start that waits for ctx (queued
// forever), or an exchange.
type fakeStep struct {
	err   error
	block bool
	ex    *fakeExchange
}

func (ft *fakeTransport) Start(ctx context.Context, req *Request) (Exchange, error) {
	ft.mu.Lock()
	if ft.closed {
		ft.mu.Unlock()
		return nil, ErrClosed
	}
	step := ft.script[min(ft.starts, len(ft.script)-1)]
	ft.starts++
	body := string(req.Body)
	if req.BodyFile != nil {
		b, _ := io.ReadAll(req.BodyFile)
		body = string(b)
	}
	ft.bodies = append(ft.bodies, body)
	ft.mu.Unlock()
	switch {
	case step.block:
		<-ctx.Done()
		return nil, ctx.Err()
	case step.err != nil:
		return nil, step.err
	}
	return step.ex.clone(), nil
}

func (ft *fakeTransport) Shutdown(ctx context.Context) error {
	ft.mu.Lock()
	ft.closed = true
	ft.mu.Unlock()
	return nil
}

func (ft *fakeTransport) startCount() int {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.starts
}

// fakeExchange returns its parts in order, then waits for ctx (an app
// that never finishes) unless the last part was a PartResponse or PartEnd.
type fakeExchange struct {
	parts     []Part
	cancelled *atomic.Bool
}

func (x *fakeExchange) clone() *fakeExchange {
	return &fakeExchange{parts: append([]Part(nil), x.parts...), cancelled: x.cancelled}
}

func (x *fakeExchange) Next(ctx context.Context) (Part, error) {
	if len(x.parts) > 0 {
		p := x.parts[0]
		x.parts = x.parts[1:]
		return p, nil
	}
	<-ctx.Done()
	return Part{}, ctx.Err()
}

func (x *fakeExchange) Cancel()     { x.cancelled.Store(true) }
func (x *fakeExchange) Worker() int { return 4242 }

// exchange scripts one exchange.
func exchange(parts ...Part) fakeStep {
	return fakeStep{ex: &fakeExchange{parts: parts, cancelled: new(atomic.Bool)}}
}

func response(status string, body string, header ...string) Part {
	return Part{Kind: PartResponse, Status: status, Header: header, Data: []byte(body)}
}

func head(status string, header ...string) Part {
	return Part{Kind: PartHead, Status: status, Header: header}
}

func data(s string) Part              { return Part{Kind: PartData, Data: []byte(s)} }
func end(err error) Part              { return Part{Kind: PartEnd, Err: err} }
func endTB(err error, tb string) Part { return Part{Kind: PartEnd, Err: err, Traceback: tb} }

// fakeContainer serves a Container over ft on a loopback server.
func fakeContainer(t *testing.T, ft *fakeTransport, cfg Config, wrap func(http.Handler) http.Handler) (*Container, *httptest.Server, *pythontest.Buffer) {
	t.Helper()
	logs := &pythontest.Buffer{}
	cfg.App = "fake:app"
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	c, err := NewWithTransport(cfg, ft)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = c
	if wrap != nil {
		h = wrap(c)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return c, srv, logs
}

// TestRespond: how parts become HTTP responses.
func TestRespond(t *testing.T) {
	cases := []struct {
		name   string
		method string
		step   fakeStep
		status int
		body   string
		header map[string]string // "" means absent
		abort  bool              // the client sees a cut response
		log    string
	}{
		{name: "whole response gets Content-Length", step: exchange(response("200 OK", "hello", "Content-Type", "text/plain")),
			status: 200, body: "hello", header: map[string]string{"Content-Length": "5", "Content-Type": "text/plain"}},
		{name: "app's Content-Length kept", step: exchange(response("201 Created", "hi", "Content-Length", "2")),
			status: 201, body: "hi", header: map[string]string{"Content-Length": "2"}},
		{name: "HEAD with the body the app made", method: "HEAD", step: exchange(response("200 OK", "hello")),
			status: 200, header: map[string]string{"Content-Length": "5"}},
		{name: "HEAD with no body invents no length", method: "HEAD", step: exchange(response("200 OK", "")),
			status: 200, header: map[string]string{"Content-Length": ""}},
		{name: "204 drops Content-Length", step: exchange(response("204 No Content", "", "Content-Length", "0")),
			status: 204, header: map[string]string{"Content-Length": ""}},
		{name: "repeated headers", step: exchange(response("200 OK", "", "Set-Cookie", "a=1", "Set-Cookie", "b=2")),
			status: 200, header: map[string]string{"Set-Cookie": "a=1"}},
		{name: "streamed", step: exchange(head("200 OK"), data("ab"), data("cd"), end(nil)),
			status: 200, body: "abcd", header: map[string]string{"Content-Length": ""}},
		{name: "streamed with a known length", step: exchange(Part{Kind: PartHead, Status: "200 OK", Length: 4}, data("ab"), data("cd"), end(nil)),
			status: 200, body: "abcd", header: map[string]string{"Content-Length": "4"}},
		{name: "streamed short of its Content-Length", step: exchange(head("200 OK", "Content-Length", "10"), data("abc"), end(nil)),
			status: 200, abort: true, log: "fewer bytes than its Content-Length"},
		{name: "app error before headers", step: exchange(endTB(ErrAppError, "Traceback: boom")),
			status: 500, body: "Internal Server Error\n", log: "Traceback: boom"},
		{name: "app error after headers", step: exchange(head("200 OK"), data("part"), endTB(ErrAppError, "Traceback: late")),
			status: 200, abort: true, log: "Traceback: late"},
		{name: "worker died", step: exchange(end(ErrWorkerDied)), status: 502},
		{name: "timeout", step: exchange(end(ErrTimeout)), status: 504},
		{name: "protocol error", step: exchange(end(fmt.Errorf("%w: junk", ErrProtocol))), status: 502},
		{name: "bad status line", step: exchange(response("OK", "x")), status: 502, log: "bad status"},
		{name: "bad Content-Length", step: exchange(response("200 OK", "x", "Content-Length", "x1")), status: 502, log: "bad Content-Length"},
		{name: "bad Content-Length drops the app's other headers", step: exchange(response("200 OK", "x", "Set-Cookie", "s=1", "Content-Length", "x1")),
			status: 502, header: map[string]string{"Set-Cookie": ""}, log: "bad Content-Length"},
		{name: "negative Content-Length", step: exchange(response("200 OK", "x", "Content-Length", "-1")), status: 502, log: "bad Content-Length"},
		{name: "queue full", step: fakeStep{err: ErrQueueFull}, status: 503, header: map[string]string{"Retry-After": "1"}},
		{name: "queue timeout", step: fakeStep{err: ErrQueueTimeout}, status: 503},
		{name: "shut down", step: fakeStep{err: ErrClosed}, status: 503},
		{name: "other transport error", step: fakeStep{err: errors.New("no luck")}, status: 502, log: "no luck"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, srv, logs := fakeContainer(t, &fakeTransport{script: []fakeStep{tc.step}}, Config{}, nil)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req, _ := http.NewRequest(method, srv.URL+"/x", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.abort != (err != nil) {
				t.Errorf("body read error %v, want an abort: %v", err, tc.abort)
			}
			if !tc.abort && tc.status < 300 && string(b) != tc.body {
				t.Errorf("body %q, want %q", b, tc.body)
			}
			for k, v := range tc.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if strings.Contains(string(b), "Traceback") {
				t.Errorf("the traceback reached the client: %q", b)
			}
			if tc.log != "" {
				logHas(t, logs, time.Second, tc.log)
			}
		})
	}
}

// TestRetryNotStarted: a request the app never started (ErrNotStarted) is
// sent again, up to three attempts, with its spooled body rewound.
func TestRetryNotStarted(t *testing.T) {
	notStarted := exchange(end(ErrNotStarted))
	ok := exchange(response("200 OK", "done"))
	body := strings.Repeat("b", 100<<10) // over BodyBuffer: spooled to a file
	cases := []struct {
		name   string
		script []fakeStep
		status int
		starts int
		logged string // in the "request failed" line of a 502
	}{
		{"second attempt", []fakeStep{notStarted, ok}, 200, 2, ""},
		{"third attempt", []fakeStep{notStarted, notStarted, ok}, 200, 3, ""},
		{"attempts used up", []fakeStep{notStarted, notStarted, notStarted, ok}, 502, 3,
			`error="wsgi: the worker died before starting the request, 3 times (each time serving another request)"`},
		{"a started request is not retried", []fakeStep{exchange(end(ErrWorkerDied)), ok}, 502, 1,
			`error="wsgi: the worker died while serving the request"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTransport{script: tc.script}
			_, srv, logs := fakeContainer(t, ft, Config{BodyBuffer: 1024}, nil)
			resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if n := ft.startCount(); n != tc.starts {
				t.Errorf("%d attempts, want %d", n, tc.starts)
			}
			// The line says what happened: it read "the worker died while
			// serving the request before starting the request".
			if l := logLine(logs, "request failed"); tc.status == 502 && !strings.Contains(l, tc.logged) {
				t.Errorf("log line %q; want %q in it", l, tc.logged)
			}
			for i, b := range ft.bodies {
				if b != body {
					t.Errorf("attempt %d saw a body of %d bytes, want %d", i+1, len(b), len(body))
				}
			}
		})
	}
}

// TestDeadlineFake: a middleware's deadline gives 504 and cancels the
// exchange; a client that goes away gets nothing written and cancels it too.
func TestDeadlineFake(t *testing.T) {
	cases := []struct {
		name   string
		step   fakeStep
		status int  // 0: the request is expected to fail client-side
		abort  bool // headers out, then cut
	}{
		{"waiting for the app", exchange(), 504, false},
		{"queued", fakeStep{block: true}, 504, false},
		{"streaming", exchange(head("200 OK"), data("part")), 200, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTransport{script: []fakeStep{tc.step}}
			_, srv, logs := fakeContainer(t, ft, Config{}, withDeadline(50*time.Millisecond))
			resp, err := http.Get(srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.abort != (err != nil) {
				t.Errorf("body read error %v, want an abort: %v", err, tc.abort)
			}
			if tc.step.ex != nil {
				waitFor(t, time.Second, "Cancel", tc.step.ex.cancelled.Load)
			}
			logHas(t, logs, time.Second, "request timed out")
		})
	}
	t.Run("client gone", func(t *testing.T) {
		step := exchange()
		var wrote atomic.Int32
		spy := func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(&statusSpy{ResponseWriter: w, wrote: &wrote}, r)
			})
		}
		_, srv, logs := fakeContainer(t, &fakeTransport{script: []fakeStep{step}}, Config{}, spy)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/", nil)
		if _, err := http.DefaultClient.Do(req); err == nil {
			t.Fatal("request succeeded")
		}
		waitFor(t, time.Second, "Cancel", step.ex.cancelled.Load)
		if n := wrote.Load(); n != 0 {
			t.Errorf("%d responses written to a client that went away", n)
		}
		if strings.Contains(logs.String(), "request failed") {
			t.Errorf("logged as a failure:\n%s", logs)
		}
	})
}

// TestContainerOwnsQueueWait: the Container measures the wait in Start
// (Trace.Queued) and says which worker served (Trace.Worker).
func TestContainerOwnsQueueWait(t *testing.T) {
	ft := &fakeTransport{script: []fakeStep{exchange(response("200 OK", "x"))}}
	slow := &slowStart{Transport: ft, wait: 20 * time.Millisecond}
	c, err := NewWithTransport(Config{App: "fake:app", Logger: slog.New(slog.DiscardHandler)}, slow)
	if err != nil {
		t.Fatal(err)
	}
	var tr Trace
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(WithTrace(r.Context(), &tr))
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != 200 || !tr.Served || tr.Worker != 4242 || tr.Queued < slow.wait {
		t.Errorf("code %d, trace %+v; want 200, served by 4242 after >= %v", w.Code, tr, slow.wait)
	}
	st := c.Status()
	if !st.Ready || st.App != "fake:app" {
		t.Errorf("status %+v of a transport without StatusReporter", st)
	}
	if err := c.Reload(context.Background()); !errors.Is(err, ErrNoReload) {
		t.Errorf("Reload: %v, want ErrNoReload", err)
	}
	c.Shutdown(context.Background())
	if c.Ready() {
		t.Error("ready after Shutdown")
	}
	if _, err := NewWithTransport(Config{App: "fake:app", AutoReload: true}, ft); err == nil {
		t.Error("AutoReload accepted with a transport that cannot reload")
	}
}

// slowStart delays Start, like a queue.
type slowStart struct {
	Transport
	wait time.Duration
}

func (s *slowStart) Start(ctx context.Context, req *Request) (Exchange, error) {
	time.Sleep(s.wait)
	return s.Transport.Start(ctx, req)
}

// queuedExchange is an exchange returned while its request still waits
// for a worker (a QueueWaiter), as graft's pool returns one.
type queuedExchange struct {
	*fakeExchange
	wait time.Duration
}

func (x *queuedExchange) QueueWait() time.Duration { return x.wait }

// queuedStart returns every exchange of its transport as a queuedExchange
// that waited wait.
type queuedStart struct {
	Transport
	wait time.Duration
}

func (q *queuedStart) Start(ctx context.Context, req *Request) (Exchange, error) {
	ex, err := q.Transport.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	return &queuedExchange{fakeExchange: ex.(*fakeExchange), wait: q.wait}, nil
}

// TestContainerAddsQueueWait: for an exchange that is a QueueWaiter, the
// Container adds its QueueWait to the time spent in Start, in the Trace and
// the queue-wait metric, whether the response came or the client left
// while it waited.
func TestContainerAddsQueueWait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		step  fakeStep
		leave bool
	}{
		{name: "answered", step: exchange(response("200 OK", "x"))},
		{name: "client left while queued", step: exchange(), leave: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTransport{script: []fakeStep{tc.step}}
			q := &queuedStart{Transport: ft, wait: 3 * time.Second}
			c, err := NewWithTransport(Config{App: "fake:app", Logger: slog.New(slog.DiscardHandler)}, q)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Shutdown(context.Background())
			var tr Trace
			ctx, cancel := context.WithCancel(WithTrace(context.Background(), &tr))
			if tc.leave {
				cancel()
			}
			defer cancel()
			r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
			c.ServeHTTP(httptest.NewRecorder(), r)
			if tr.Queued < q.wait || tr.Worker != 4242 {
				t.Errorf("trace %+v; want Queued >= %v (the exchange's wait) and Worker 4242", tr, q.wait)
			}
			var m dto.Metric
			if err := c.queueWait.Write(&m); err != nil {
				t.Fatal(err)
			}
			if h := m.GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() < q.wait.Seconds() {
				t.Errorf("queue-wait metric: %d samples, sum %vs; want 1 of >= %v", h.GetSampleCount(), h.GetSampleSum(), q.wait)
			}
		})
	}
}

// TestTraceRefused: a request the container refuses without running the
// app (shut down, queue full, queue timeout, also for a queued request
// whose stream ends so) has Trace.Refused set, whatever status the error
// handler answers with; one the app answered or failed has not. Code
// outside the package (migrate's shadow runs) could only guess a refusal
// from the status, a 503, which a custom error handler need not send.
func TestTraceRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		step    fakeStep
		status  int
		refused bool
	}{
		{"served", exchange(response("200 OK", "x")), 200, false},
		{"queue full", fakeStep{err: ErrQueueFull}, 429, true},
		{"queue timeout", fakeStep{err: ErrQueueTimeout}, 429, true},
		{"shut down", fakeStep{err: ErrClosed}, 429, true},
		{"the queued request's stream ends: shut down", exchange(end(ErrClosed)), 429, true},
		{"the app raised", exchange(endTB(ErrAppError, "Traceback")), 429, false},
		{"the worker died", exchange(end(ErrWorkerDied)), 429, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTransport{script: []fakeStep{tc.step}}
			c, err := NewWithTransport(Config{App: "fake:app", Logger: slog.New(slog.DiscardHandler),
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					http.Error(w, "try later", http.StatusTooManyRequests)
				}}, ft)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Shutdown(context.Background())
			var tr Trace
			r := httptest.NewRequest("GET", "/", nil)
			w := httptest.NewRecorder()
			c.ServeHTTP(w, r.WithContext(WithTrace(r.Context(), &tr)))
			if w.Code != tc.status || tr.Refused != tc.refused || !tr.Served {
				t.Fatalf("status %d, trace %+v; want %d, Refused %v", w.Code, tr, tc.status, tc.refused)
			}
		})
	}
}

// completingExchange is a fakeExchange that implements Completer: lets
// says what Complete answers (false: the end has arrived already).
type completingExchange struct {
	*fakeExchange
	lets      bool
	completed atomic.Int32 // calls of Complete
	nexts     atomic.Int32 // calls of Next
}

func (x *completingExchange) Complete() bool { x.completed.Add(1); return x.lets }

func (x *completingExchange) Next(ctx context.Context) (Part, error) {
	x.nexts.Add(1)
	return x.fakeExchange.Next(ctx)
}

type completingTransport struct {
	ex *completingExchange
}

func (t *completingTransport) Start(ctx context.Context, req *Request) (Exchange, error) {
	return t.ex, nil
}
func (t *completingTransport) Shutdown(ctx context.Context) error { return nil }

// TestContainerLeavesCompleteResponse checks that once the client has the
// whole body (the app's Content-Length), the Container asks a Completer
// to let it go and returns without waiting for the end, and that it reads
// the end as usual when the exchange says it has come, or when the body is
// not whole yet.
func TestContainerLeavesCompleteResponse(t *testing.T) {
	for _, tc := range []struct {
		name      string
		method    string
		parts     []Part
		lets      bool
		completes int32 // calls of Complete
		nexts     int32 // calls of Next
	}{
		// No final part where the Container must leave: Next would wait
		// for ctx, and a Container that does not leave when it may hangs
		// until the deadline.
		{"whole body: leaves", "GET", []Part{head("200 OK", "Content-Length", "6"), data("abc"), data("def")}, true, 1, 3},
		{"end already there", "GET", []Part{head("200 OK", "Content-Length", "6"), data("abcdef"), end(nil)}, false, 1, 3},
		{"no Content-Length", "GET", []Part{head("200 OK"), data("abcdef"), end(nil)}, true, 0, 3},
		{"HEAD", "HEAD", []Part{head("200 OK", "Content-Length", "6"), end(nil)}, true, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := &completingExchange{fakeExchange: &fakeExchange{parts: tc.parts, cancelled: new(atomic.Bool)}, lets: tc.lets}
			c, err := NewWithTransport(Config{App: "fake:app", Logger: slog.New(slog.DiscardHandler)}, &completingTransport{x})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Shutdown(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			w := httptest.NewRecorder()
			c.ServeHTTP(w, httptest.NewRequest(tc.method, "/", nil).WithContext(ctx))
			if ctx.Err() != nil {
				t.Fatal("the Container waited for the end")
			}
			if tc.method == "GET" && w.Body.String() != "abcdef" {
				t.Errorf("body %q", w.Body)
			}
			if got := x.completed.Load(); got != tc.completes {
				t.Errorf("Complete called %d times, want %d", got, tc.completes)
			}
			if got := x.nexts.Load(); got != tc.nexts {
				t.Errorf("Next called %d times, want %d", got, tc.nexts)
			}
			if x.cancelled.Load() {
				t.Error("Cancel called on a complete response")
			}
		})
	}
}

// The response's header values are slices of the Part's Header; a value
// added later (by middleware, after the head) must not overwrite the next
// header's value in that shared array.
func TestWriteHeadValuesStayApart(t *testing.T) {
	c := &Container{}
	w := httptest.NewRecorder()
	p := Part{Kind: PartResponse, Status: "200 OK", Header: []string{"X-A", "1", "X-B", "2", "x-a", "3", "X-C", "4"}}
	var declared int64 = -1
	if _, err := c.writeHead(w, p, &declared); err != nil {
		t.Fatal(err)
	}
	h := w.Header()
	h.Add("X-B", "5")
	h["X-C"] = append(h["X-C"], "6")
	for name, want := range map[string][]string{"X-A": {"1", "3"}, "X-B": {"2", "5"}, "X-C": {"4", "6"}} {
		if got := h[name]; !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if !slices.Equal(p.Header, []string{"X-A", "1", "X-B", "2", "x-a", "3", "X-C", "4"}) {
		t.Errorf("the Part's header changed: %q", p.Header)
	}
}

// releasingExchange is a fakeExchange that implements Releaser and
// records any use after Release.
type releasingExchange struct {
	*fakeExchange
	released atomic.Int32
	late     atomic.Bool // a method called after Release
}

func (x *releasingExchange) Release() { x.released.Add(1) }

func (x *releasingExchange) Next(ctx context.Context) (Part, error) {
	x.late.CompareAndSwap(false, x.released.Load() > 0)
	return x.fakeExchange.Next(ctx)
}

func (x *releasingExchange) Cancel() {
	x.late.CompareAndSwap(false, x.released.Load() > 0)
	x.fakeExchange.Cancel()
}

func (x *releasingExchange) Worker() int {
	x.late.CompareAndSwap(false, x.released.Load() > 0)
	return x.fakeExchange.Worker()
}

// releasingTransport answers each Start with the next exchange and notes
// the path of each request (not the Request: it is the Container's).
type releasingTransport struct {
	exs   []*releasingExchange
	paths []string
}

func (t *releasingTransport) Start(ctx context.Context, req *Request) (Exchange, error) {
	t.paths = append(t.paths, req.Path)
	x := t.exs[0]
	t.exs = t.exs[1:]
	return x, nil
}
func (t *releasingTransport) Shutdown(ctx context.Context) error { return nil }

// TestContainerReleases: the Container releases every exchange it started
// once, after its last use of it, however the exchange ended (a retry
// releases the first attempt's too).
func TestContainerReleases(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attempts [][]Part
		leave    time.Duration // the client leaves after this long; 0: never
		status   int
	}{
		{"whole response", [][]Part{{response("200 OK", "hi")}}, 0, 200},
		{"streamed", [][]Part{{head("200 OK"), data("hi"), end(nil)}}, 0, 200},
		{"app error", [][]Part{{end(ErrAppError)}}, 0, 500},
		{"retried", [][]Part{{end(ErrNotStarted)}, {response("200 OK", "hi")}}, 0, 200},
		{"client left", [][]Part{{head("200 OK"), data("h")}}, 50 * time.Millisecond, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &releasingTransport{}
			for _, parts := range tc.attempts {
				tr.exs = append(tr.exs, &releasingExchange{fakeExchange: &fakeExchange{parts: parts, cancelled: new(atomic.Bool)}})
			}
			all := slices.Clone(tr.exs)
			c, err := NewWithTransport(Config{App: "fake:app", Logger: slog.New(slog.DiscardHandler)}, tr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Shutdown(context.Background())
			ctx := context.Background()
			if tc.leave > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.leave)
				defer cancel()
			}
			w := httptest.NewRecorder()
			func() {
				defer func() {
					// Once the head is out, a client that left gets an
					// aborted response: net/http's server recovers it.
					if v := recover(); v != nil && v != http.ErrAbortHandler {
						panic(v)
					}
				}()
				c.ServeHTTP(w, httptest.NewRequest("GET", "/first", nil).WithContext(ctx))
			}()
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			for i, x := range all {
				if n := x.released.Load(); n != 1 {
					t.Errorf("attempt %d: released %d times, want once", i+1, n)
				}
				if x.late.Load() {
					t.Errorf("attempt %d: used after Release", i+1)
				}
			}
			for i, path := range tr.paths {
				if path != "/first" {
					t.Errorf("attempt %d was started with path %q", i+1, path)
				}
			}
		})
	}
}

// graft_wsgi_queue_wait_seconds counts every request that waited for a
// worker: those that got one, and those that gave up (their client left)
// or were given up (QueueTimeout: the longest waits of an overload), not
// those refused without waiting (queue full, shut down).
func TestQueueWaitObserved(t *testing.T) {
	cases := []struct {
		name   string
		step   fakeStep
		leave  bool // the client gives up while queued
		status int
		want   uint64 // samples in the histogram
	}{
		{"served", exchange(response("200 OK", "x")), false, 200, 1},
		{"queue timeout", fakeStep{err: ErrQueueTimeout}, false, 503, 1},
		{"client gone while queued", fakeStep{block: true}, true, 0, 1},
		{"queue full", fakeStep{err: ErrQueueFull}, false, 503, 0},
		{"shut down", fakeStep{err: ErrClosed}, false, 503, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			c, srv, _ := fakeContainer(t, &fakeTransport{script: []fakeStep{tc.step}}, Config{}, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer close(done)
					h.ServeHTTP(w, r)
				})
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/x", nil)
			if tc.leave {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
				}
			} else if !tc.leave {
				t.Fatal(err)
			}
			<-done
			var m dto.Metric
			if err := c.queueWait.Write(&m); err != nil {
				t.Fatal(err)
			}
			if n := m.GetHistogram().GetSampleCount(); n != tc.want {
				t.Errorf("graft_wsgi_queue_wait_seconds has %d samples, want %d", n, tc.want)
			}
		})
	}
}
