package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// serve has side (handler h) serve r alone. window says whether the
// request counts in the rollback window.
func (m *Migrator) serve(w http.ResponseWriter, r *http.Request, rs *routeState, side Side, h http.Handler, window bool) {
	rs.stats.served(side)
	var trace *wsgi.Trace
	if side == SidePython {
		r, trace = withPythonTrace(r)
		defer rs.stats.refusedBy(trace)
	}
	if !window || !rs.rollbackable() {
		start := time.Now()
		h.ServeHTTP(w, r)
		rs.stats.latency(side, time.Since(start))
		return
	}
	sw, ww := newServedWriter(w, nil)
	start := time.Now()
	completed := false
	defer func() {
		status := sw.status
		if !completed { // a panic counts as a 5xx of its side
			status = http.StatusInternalServerError
		}
		rs.stats.latency(side, time.Since(start))
		if trace == nil || !trace.Refused {
			m.window(rs, side, status)
		}
	}()
	h.ServeHTTP(ww, r)
	completed = true
}

// withPythonTrace returns r with the *wsgi.Trace Python's container fills
// in: the one the middleware (the access log) put in its context, else a
// new one. Its Refused says whether the container refused r without
// running the app (shut down, queue full, ...): whatever status its error
// handler answered with, that is not an answer of Python's, and it counts
// neither in the rollback window nor in a comparison.
func withPythonTrace(r *http.Request) (*http.Request, *wsgi.Trace) {
	if trace := wsgi.TraceFrom(r.Context()); trace != nil {
		return r, trace
	}
	trace := &wsgi.Trace{}
	return r.WithContext(wsgi.WithTrace(r.Context(), trace)), trace
}

// safeMethod reports whether method may be shadowed by default.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// admitShadow counts a shadow run in jobs unless Shutdown has closed the
// Migrator: the check and the count are one step under m.admit, so that a
// run is either refused or waited for by Shutdown, even when its request
// passed the unlocked closed check before Shutdown began.
func (m *Migrator) admitShadow() bool {
	m.admit.RLock()
	defer m.admit.RUnlock()
	if m.closed.Load() {
		return false
	}
	m.jobs.Add(1)
	return true
}

// releaseSlot ends a shadow run: it frees its slot of the semaphore.
func (m *Migrator) releaseSlot() {
	<-m.sem
	m.jobs.Done()
}

// result is what a run of one side produced.
type result struct {
	resp  *Response
	dur   time.Duration
	panic any
	stack []byte
	// refused: a wsgi.Container refused the run without running the app
	// (it is shut down, its queue is full: wsgi.Trace.Refused), whatever
	// status its error handler answered with: not an answer of the app.
	refused bool
}

// serveCompared has primary serve r, and, when r is eligible, runs the
// other side on a copy of r and compares both responses in the
// background. sample is the share of requests compared.
func (m *Migrator) serveCompared(w http.ResponseWriter, r *http.Request, rs *routeState, sr router.StagedRoute, primary Side, sample float64, window bool) {
	ph, ch := sr.Fallback, sr.Go
	if primary == SideGo {
		ph, ch = sr.Go, sr.Fallback
	}
	if sr.Fallback == nil || sample <= 0 || m.closed.Load() || (!safeMethod(r.Method) && !rs.cfg.ShadowUnsafe) ||
		(sample < 1 && rand.Float64() >= sample) {
		m.serve(w, r, rs, primary, ph, window)
		return
	}
	if m.passedClosed != nil {
		m.passedClosed()
	}
	select {
	case m.sem <- struct{}{}:
	default:
		rs.stats.dropped.Add(1)
		rs.stats.outcome(outcomeDropped)
		m.serve(w, r, rs, primary, ph, window)
		return
	}
	if !m.admitShadow() {
		<-m.sem // Shutdown closed the Migrator meanwhile: served alone
		m.serve(w, r, rs, primary, ph, window)
		return
	}
	body, ok := m.bufferBody(r)
	if !ok {
		m.releaseSlot()
		rs.stats.skipped.Add(1)
		rs.stats.outcome(outcomeSkipped)
		m.serve(w, r, rs, primary, ph, window)
		return
	}
	// The copy is made now, while chi's route context is the request's.
	cand := m.shadowRequest(r, body)
	// What the middleware put in the response header before the route's
	// handler runs is in the primary's response: the other side's runs
	// start with it too, or it would look like a difference between them.
	var pre http.Header
	if len(w.Header()) > 0 {
		pre = w.Header().Clone()
	}

	// The primary serves the client through a tee; the other side runs
	// once it is done, so that it never competes with the client's request.
	rs.stats.served(primary)
	// Python's trace (the middleware's, else one of our own) says whether
	// its container ran the app, as for a shadow run (see run).
	var trace *wsgi.Trace
	if primary == SidePython {
		r, trace = withPythonTrace(r)
	}
	capt := newCapture(m.o.MaxResponseBytes)
	sw, ww := newServedWriter(w, capt)
	start := time.Now()
	completed := false
	defer func() {
		dur := time.Since(start)
		status := sw.status
		if !completed {
			status = http.StatusInternalServerError
		}
		rs.stats.latency(primary, dur)
		rs.stats.refusedBy(trace)
		if window && rs.rollbackable() && (trace == nil || !trace.Refused) {
			// A refusal is not Python's answer: out of the window.
			m.window(rs, primary, status)
		}
		if !completed || r.Context().Err() != nil {
			// The primary panicked, or the client went away (its answer
			// may be cut short): nothing to compare.
			if completed {
				rs.stats.skipped.Add(1)
				rs.stats.outcome(outcomeSkipped)
			}
			m.releaseSlot()
			return
		}
		if status == 0 {
			status = http.StatusOK
		}
		if trace != nil && trace.Refused {
			// Python's container refused the request without running
			// the app (queue full, shut down): no answer to compare.
			rs.stats.skipped.Add(1)
			rs.stats.outcome(outcomeSkipped)
			m.releaseSlot()
			return
		}
		at := sw.sentAt
		if at.IsZero() { // the handler wrote nothing: net/http sends the header now
			at = time.Now()
		}
		presp := capt.response(status, sw.header(), at) // the header the client got
		go m.finish(rs, sr, primary, ch, presp, cand, body, pre)
	}()
	ph.ServeHTTP(ww, r)
	completed = true
}

// bufferBody reads r's body (up to MaxBodyBytes) so that both sides can
// read it, and puts it back on r; ok is false when the body is too big or
// cannot be read (r then gets what was read and the rest).
func (m *Migrator) bufferBody(r *http.Request) (body []byte, ok bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	if r.ContentLength > m.o.MaxBodyBytes {
		return nil, false
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, m.o.MaxBodyBytes+1))
	orig := r.Body
	switch {
	case err != nil:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), errReader{err}), orig}
		return nil, false
	case int64(len(buf)) > m.o.MaxBodyBytes:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), orig), orig}
		return nil, false
	}
	r.Body = readCloser{bytes.NewReader(buf), orig}
	return buf, true
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (rc readCloser) Close() error { return rc.c.Close() }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// shadowRequest makes the copy of r a shadow run serves: its own body,
// headers and chi route context, marked as a shadow run, not canceled with
// the client, and without the hooks (router.Dispatch, wsgi.Trace) that
// only the request's goroutine may write.
func (m *Migrator) shadowRequest(r *http.Request, body []byte) *http.Request {
	ctx := context.WithoutCancel(r.Context())
	ctx = context.WithValue(ctx, shadowCtxKey, true)
	ctx = router.WithDispatch(ctx, nil)
	ctx = wsgi.WithTrace(ctx, nil)
	ctx = wsgi.WithEnviron(ctx, "graft.shadow", "1")
	return copyRequest(r.WithContext(ctx), body)
}

// again makes another copy of a shadow request, for Python's second call.
func again(r *http.Request, body []byte) *http.Request {
	return copyRequest(r, body)
}

// copyRequest returns a copy of r in r's context with a chi route context
// and a body of its own, so that two handlers can serve r and the copy
// at the same time.
func copyRequest(r *http.Request, body []byte) *http.Request {
	ctx := r.Context()
	if rctx := chi.RouteContext(ctx); rctx != nil {
		ctx = context.WithValue(ctx, chi.RouteCtxKey, rctx.Clone())
	}
	c := r.Clone(ctx)
	if body != nil {
		c.Body = io.NopCloser(bytes.NewReader(body))
	} else {
		c.Body = http.NoBody
	}
	return c
}

// run runs h on the shadow request r under the timeout, recovering a
// panic, with a response header that starts as a copy of pre. It returns
// when h does, however long that takes.
func (m *Migrator) run(h http.Handler, r *http.Request, pre http.Header) (res result) {
	ctx, cancel := context.WithTimeout(r.Context(), m.o.Timeout)
	defer cancel()
	hdr := http.Header{}
	if len(pre) > 0 {
		hdr = pre.Clone()
	}
	cw := &captureWriter{hdr: hdr, body: newCapture(m.o.MaxResponseBytes)}
	// The run's own trace (shadowRequest drops the client's) says whether
	// a wsgi.Container ran the app.
	trace := &wsgi.Trace{}
	ctx = wsgi.WithTrace(ctx, trace)
	start := time.Now()
	defer func() {
		res.dur = time.Since(start)
		if p := recover(); p != nil {
			res.panic, res.stack = p, debug.Stack()
			return
		}
		status, hdr, at := cw.status, cw.sent, cw.sentAt
		if status == 0 {
			status, hdr, at = http.StatusOK, cw.hdr, time.Now()
		}
		res.resp = cw.body.response(status, hdr, at)
		res.refused = trace.Refused
	}()
	h.ServeHTTP(cw, r.WithContext(ctx))
	return res
}

// runTimed runs h, side's handler of route rs, on the shadow request r
// like run, and reports false if it took longer than the timeout. As soon
// as the timeout passes, onTimeout (if not nil) is called, on another
// goroutine, and the run counts as overdue until h returns: Go cannot stop
// a handler, so the run keeps its shadow slot until then. An overdue run
// that returns is logged at WARN.
func (m *Migrator) runTimed(rs *routeState, side Side, h http.Handler, r *http.Request, pre http.Header, onTimeout func()) (result, bool) {
	fired := make(chan struct{})
	t := time.AfterFunc(m.o.Timeout, func() {
		defer close(fired)
		rs.stats.overdueRun(1)
		if onTimeout != nil {
			onTimeout()
		}
	})
	res := m.run(h, r, pre)
	if t.Stop() {
		return res, true
	}
	<-fired
	rs.stats.overdueRun(-1)
	m.log.Warn("migrate: shadow run returned after its timeout; it held a shadow slot until now",
		slog.String("graft.route", rs.key), slog.String("graft.side", string(side)),
		slog.Duration("graft.duration", res.dur), slog.Duration("graft.timeout", m.o.Timeout))
	return res, false
}

// finish runs the other side ch on cand (with pre, the header the
// primary's response started with), learns noise if sampled,
// compares and records. It runs on its own goroutine and holds the shadow
// run's slot until the other side returns, however long that takes; past
// the timeout it is counted as a timeout and its answer ignored. A panic
// while comparing (in Options.Normalize, typically) skips the comparison
// and is logged: on this goroutine it would end the process.
func (m *Migrator) finish(rs *routeState, sr router.StagedRoute, primary Side, ch http.Handler, presp *Response, cand *http.Request, body []byte, pre http.Header) {
	defer m.releaseSlot()
	st := rs.stats
	defer func() {
		if p := recover(); p != nil {
			st.skipped.Add(1)
			st.outcome(outcomeSkipped)
			m.log.Error("migrate: comparison panicked (in Options.Normalize?); not compared",
				slog.String("graft.route", rs.key), slog.String("error", fmt.Sprint(p)),
				slog.String("error.stack_trace", string(debug.Stack())))
		}
	}()
	candSide := SideGo
	if primary == SideGo {
		candSide = SidePython
	}
	cr, ok := m.runTimed(rs, candSide, ch, cand, pre, func() {
		st.candidateErrors.Add(1)
		st.candidateTimeouts.Add(1)
		st.outcome(outcomeTimeout)
	})
	switch {
	case !ok:
		return
	case cr.panic != nil:
		st.latency(candSide, cr.dur)
		st.candidateErrors.Add(1)
		st.candidatePanics.Add(1)
		st.outcome(outcomePanic)
		m.log.Warn("migrate: shadow run panicked",
			slog.String("graft.route", rs.key), slog.String("graft.side", string(candSide)),
			slog.String("error", fmt.Sprint(cr.panic)), slog.String("error.stack_trace", string(cr.stack)))
		return
	}
	if cr.refused {
		// The container refused the run without running the app: it is
		// shut down (wsgi.Serve stops it before the program's deferred
		// Migrator.Shutdown runs), or its queue is full. Nothing to compare.
		st.skipped.Add(1)
		st.outcome(outcomeSkipped)
		return
	}
	st.latency(candSide, cr.dur)
	py, gr := presp, cr.resp
	if primary == SideGo {
		py, gr = cr.resp, presp
	}
	py, gr = m.prepare(rs, cand, SidePython, py), m.prepare(rs, cand, SideGo, gr)
	copts := CompareOptions{Headers: rs.headers, Base: requestBase(cand), IgnoreVary: varyIgnored(rs.cfg.Ignore), unordered: st.isUnordered,
		noise: func(p string) bool { return ignored(rs.cfg.Ignore, p) || st.isNoise(p) }}

	c := compare(py, gr, copts)
	reordered := c.reordered
	// A conditional request answered 304 by one side and 200 by the
	// other, each by its own validators: compared on the whole answers.
	// second makes the request of Python's second call (noise).
	second := func() *http.Request { return again(cand, body) }
	if len(c.diffs) > 0 && validatorsOnly(cand.Method, cand.Header, py, gr) {
		if wp, wg, ok := m.wholeAnswers(rs, sr, cand, body, pre, py, gr); ok {
			py, gr = wp, wg
			c = compare(py, gr, copts)
			reordered = c.reordered
			second = func() *http.Request { return whole(cand, body) }
		}
	}
	kept, noisy := m.unexplained(rs, c)

	// Learn noise, Python against itself: on a route's first comparisons,
	// then on a sample of those with differences not yet explained. Never
	// for a method that is not safe (shadow_unsafe): Python would run the
	// request a second time, with its side effects.
	noiseRate := rs.cfg.NoiseSample
	if noiseRate == 0 {
		noiseRate = m.o.NoiseSample
	}
	if noiseRate > 0 && safeMethod(cand.Method) && (st.learns.Load() < noiseWarmup || len(kept) > 0 && rand.Float64() < noiseRate) {
		// Two runs with different statuses (an error, a rate limit) are not
		// comparable: learning from them would hide real mismatches.
		if r2, ok := m.runTimed(rs, SidePython, sr.Fallback, second(), pre, nil); ok && r2.panic == nil && !r2.refused && r2.resp.Status == py.Status {
			noise, permuted := compareLearning(py, m.prepare(rs, cand, SidePython, r2.resp), copts)
			if st.learn(noise, permuted) {
				// Arrays newly learned as unordered: Go's answer
				// is compared again, with them sorted.
				c = compare(py, gr, copts)
				reordered = reordered || c.reordered
			}
			kept, noisy = m.unexplained(rs, c)
		}
	}
	noisy = noisy || reordered

	if primary == SideGo && rs.rollbackable() {
		m.windowCompare(rs, len(kept) > 0)
	}
	if len(kept) == 0 {
		st.record(rs.rules, nil, noisy)
		return
	}
	st.record(rs.rules, m.newMismatch(cand, py, gr, kept), noisy)
}

// prepare makes side's response to r (a shadow copy) ready to compare:
// without its body for a HEAD (net/http drops HEAD bodies: only headers
// count), decoded (see decoded), then through Options.Normalize.
func (m *Migrator) prepare(rs *routeState, r *http.Request, side Side, resp *Response) *Response {
	if r.Method == http.MethodHead {
		resp = withoutBody(resp)
	}
	resp = decoded(resp, m.o.MaxResponseBytes)
	if m.o.Normalize != nil {
		m.o.Normalize(rs.key, side, resp)
	}
	return resp
}

// whole returns a copy of the shadow request r without the headers that
// ask for less than the whole answer (wholeRequestHeaders).
func whole(r *http.Request, body []byte) *http.Request {
	c := copyRequest(r, body)
	for _, h := range wholeRequestHeaders {
		c.Header.Del(h)
	}
	return c
}

// wholeAnswers returns the whole answers of both sides to cand, whose
// answers py and gr (prepared) differ only by the validators each judged
// by its own (validatorsOnly): a side that answered 200 keeps its answer,
// the other is run again on a copy of cand without the conditions
// (whole). ok is false if a run did not complete (timeout, panic,
// refusal): the answers are then compared as they are.
func (m *Migrator) wholeAnswers(rs *routeState, sr router.StagedRoute, cand *http.Request, body []byte, pre http.Header, py, gr *Response) (wp, wg *Response, ok bool) {
	wp, wg = py, gr
	for _, s := range [...]struct {
		side Side
		h    http.Handler
		resp **Response
	}{{SidePython, sr.Fallback, &wp}, {SideGo, sr.Go, &wg}} {
		if (*s.resp).Status == http.StatusOK {
			continue
		}
		res, done := m.runTimed(rs, s.side, s.h, whole(cand, body), pre, nil)
		if !done || res.panic != nil || res.refused {
			return py, gr, false
		}
		*s.resp = m.prepare(rs, cand, s.side, res.resp)
	}
	return wp, wg, true
}

// withoutBody returns a copy of r with an empty body.
func withoutBody(r *Response) *Response {
	c := *r
	c.Body, c.Size, c.Truncated, c.Sum = nil, 0, false, sha256.Sum256(nil)
	return &c
}

// unexplained returns the differences c found that are neither ignored
// nor learned noise (by pointer, or by pattern: see unordered.go), and
// whether any was.
func (m *Migrator) unexplained(rs *routeState, c *comparer) (kept []Diff, noisy bool) {
	for i, d := range c.diffs {
		pat := c.patterns[i]
		if ignored(rs.cfg.Ignore, d.Pointer) || ignored(rs.cfg.Ignore, pat) || rs.stats.isNoise(pat) {
			noisy = true
			continue
		}
		kept = append(kept, d)
	}
	return kept, noisy
}

// ignored reports whether pointer p is covered by the ignore list: a JSON
// pointer covers itself and everything under it, a header name covers
// "header:Name".
func ignored(list []string, p string) bool {
	for _, ig := range list {
		if ig[0] == '/' {
			if p == ig || strings.HasPrefix(p, ig+"/") {
				return true
			}
		} else if strings.HasPrefix(p, "header:") && strings.EqualFold(p[len("header:"):], ig) {
			return true
		}
	}
	return false
}

// captureWriter is the ResponseWriter of a shadow run: nothing reaches
// the client. Like net/http, it takes the header as it is when the status
// is written, and refuses a body after a 204 or a 304: what the handler
// sets or writes then would never be sent, so it is not compared either.
type captureWriter struct {
	hdr    http.Header
	sent   http.Header // hdr when the status was written
	sentAt time.Time   // when it was
	status int
	body   *capture
}

func (c *captureWriter) Header() http.Header { return c.hdr }

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status, c.sent, c.sentAt = code, c.hdr.Clone(), time.Now()
	}
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if c.status == http.StatusNoContent || c.status == http.StatusNotModified {
		return 0, http.ErrBodyNotAllowed // as net/http: the client would get no body
	}
	return c.body.Write(b)
}

// Flush writes the status, as net/http's does, and nothing else: a shadow
// run has nobody to flush to.
func (c *captureWriter) Flush() {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
}

// capture keeps the first max bytes of a body and hashes all of it.
type capture struct {
	buf       []byte
	max       int64
	size      int64
	sum       hash.Hash
	truncated bool
}

func newCapture(max int64) *capture { return &capture{max: max, sum: sha256.New()} }

func (c *capture) Write(b []byte) (int, error) {
	c.sum.Write(b)
	c.size += int64(len(b))
	if room := c.max - int64(len(c.buf)); room > 0 {
		n := min(int64(len(b)), room)
		c.buf = append(c.buf, b[:n]...)
		if n < int64(len(b)) {
			c.truncated = true
		}
	} else if len(b) > 0 {
		c.truncated = true
	}
	return len(b), nil
}

// response returns the response captured, with status and hdr, written
// at received (see Response.Received).
func (c *capture) response(status int, hdr http.Header, received time.Time) *Response {
	r := &Response{Status: status, Header: hdr, Body: c.buf, Size: c.size, Truncated: c.truncated, Received: received}
	c.sum.Sum(r.Sum[:0])
	return r
}
