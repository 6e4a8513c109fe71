package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// serve has side (handler h) serve r alone. window says whether the
// request counts in the rollback window.
func (m *Migrator) serve(w http.ResponseWriter, r *http.Request, rs *routeState, side Side, h http.Handler, window bool) {
	if !window || !rs.rollbackable() {
		start := time.Now()
		h.ServeHTTP(w, r)
		rs.stats.served(side, time.Since(start))
		return
	}
	ww := chimw.NewWrapResponseWriter(w, r.ProtoMajor)
	start := time.Now()
	completed := false
	defer func() {
		status := ww.Status()
		if !completed { // a panic counts as a 5xx of its side
			status = http.StatusInternalServerError
		}
		rs.stats.served(side, time.Since(start))
		m.window(rs, side, status)
	}()
	h.ServeHTTP(ww, r)
	completed = true
}

// safeMethod reports whether method may be shadowed by default.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// job is one shadow run: it holds a slot of the semaphore until both the
// candidate and the comparison are done.
type job struct {
	m    *Migrator
	refs atomic.Int32
}

func (j *job) release() {
	if j.refs.Add(-1) == 0 {
		<-j.m.sem
		j.m.jobs.Done()
	}
}

// result is what a run of one side produced.
type result struct {
	resp  *Response
	dur   time.Duration
	panic any
}

// serveCompared has primary serve r, and, when r is eligible, runs the
// other side on a copy of r and compares both responses in the
// background. sample is the share of requests compared.
func (m *Migrator) serveCompared(w http.ResponseWriter, r *http.Request, rs *routeState, sr router.StagedRoute, primary Side, sample float64, window bool) {
	ph, ch := sr.Fallback, sr.Go
	if primary == SideGo {
		ph, ch = sr.Go, sr.Fallback
	}
	if sr.Fallback == nil || sample <= 0 || (!safeMethod(r.Method) && !rs.cfg.ShadowUnsafe) ||
		(sample < 1 && rand.Float64() >= sample) {
		m.serve(w, r, rs, primary, ph, window)
		return
	}
	select {
	case m.sem <- struct{}{}:
	default:
		rs.stats.dropped.Add(1)
		rs.stats.outcome(outcomeDropped)
		m.serve(w, r, rs, primary, ph, window)
		return
	}
	m.jobs.Add(1)
	j := &job{m: m}
	j.refs.Store(2)
	body, ok := m.bufferBody(r)
	if !ok {
		j.refs.Store(1)
		j.release()
		rs.stats.skipped.Add(1)
		rs.stats.outcome(outcomeSkipped)
		m.serve(w, r, rs, primary, ph, window)
		return
	}
	cand := m.shadowRequest(r, body)
	res := make(chan result, 1)
	go func() {
		defer j.release()
		res <- m.run(ch, cand)
	}()

	// The primary serves the client through a tee.
	ww := chimw.NewWrapResponseWriter(w, r.ProtoMajor)
	capt := newCapture(m.o.MaxResponseBytes)
	ww.Tee(capt)
	start := time.Now()
	completed := false
	defer func() {
		dur := time.Since(start)
		status := ww.Status()
		if !completed {
			status = http.StatusInternalServerError
		}
		rs.stats.served(primary, dur)
		if window && rs.rollbackable() {
			m.window(rs, primary, status)
		}
		if !completed { // the primary panicked: nothing to compare
			go func() { <-res; j.release() }()
			return
		}
		if status == 0 {
			status = http.StatusOK
		}
		presp := capt.response(status, w.Header().Clone())
		go m.finish(j, rs, sr, primary, presp, res, cand, body)
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
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
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

// again makes another copy of a shadow request, for Python's second call.
func again(r *http.Request, body []byte) *http.Request {
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

// errTimeout marks a shadow run that did not finish in time.
var errTimeout = errors.New("migrate: shadow run timed out")

// run runs h on the shadow request r under the timeout, recovering a
// panic. It returns when h does, however long that takes.
func (m *Migrator) run(h http.Handler, r *http.Request) (res result) {
	ctx, cancel := context.WithTimeout(r.Context(), m.o.Timeout)
	defer cancel()
	cw := &captureWriter{hdr: http.Header{}, body: newCapture(m.o.MaxResponseBytes)}
	start := time.Now()
	defer func() {
		res.dur = time.Since(start)
		if p := recover(); p != nil {
			res.panic = p
			return
		}
		status := cw.status
		if status == 0 {
			status = http.StatusOK
		}
		res.resp = cw.body.response(status, cw.hdr)
	}()
	h.ServeHTTP(cw, r.WithContext(ctx))
	return res
}

// wait waits for a shadow run up to the timeout from now.
func (m *Migrator) wait(res <-chan result) (result, bool) {
	t := time.NewTimer(m.o.Timeout)
	defer t.Stop()
	select {
	case r := <-res:
		return r, true
	case <-t.C:
		select {
		case r := <-res:
			return r, true
		default:
			return result{}, false
		}
	}
}

// finish waits for the candidate, learns noise if sampled, compares and
// records. It runs on its own goroutine.
func (m *Migrator) finish(j *job, rs *routeState, sr router.StagedRoute, primary Side, presp *Response, res <-chan result, cand *http.Request, body []byte) {
	defer j.release()
	st := rs.stats
	cr, ok := m.wait(res)
	candSide := SideGo
	if primary == SideGo {
		candSide = SidePython
	}
	switch {
	case !ok:
		st.candidateErrors.Add(1)
		st.candidateTimeouts.Add(1)
		st.outcome(outcomeTimeout)
		return
	case cr.panic != nil:
		st.latency(candSide, cr.dur)
		st.candidateErrors.Add(1)
		st.candidatePanics.Add(1)
		st.outcome(outcomePanic)
		m.log.Warn("migrate: shadow run panicked", "route", rs.key, "side", string(candSide), "panic", fmt.Sprint(cr.panic))
		return
	}
	st.latency(candSide, cr.dur)
	py, gr := presp, cr.resp
	if primary == SideGo {
		py, gr = cr.resp, presp
	}
	if m.o.Normalize != nil {
		m.o.Normalize(rs.key, SidePython, py)
		m.o.Normalize(rs.key, SideGo, gr)
	}
	copts := CompareOptions{Headers: rs.headers}

	// Learn noise: Python against itself.
	noiseRate := rs.cfg.NoiseSample
	if noiseRate == 0 {
		noiseRate = m.o.NoiseSample
	}
	if noiseRate > 0 && (st.learns.Load() < noiseWarmup || rand.Float64() < noiseRate) {
		second := make(chan result, 1)
		go func() { second <- m.run(sr.Fallback, again(cand, body)) }()
		if r2, ok := m.wait(second); ok && r2.panic == nil {
			if m.o.Normalize != nil {
				m.o.Normalize(rs.key, SidePython, r2.resp)
			}
			st.learn(Compare(py, r2.resp, copts))
		}
	}

	diffs := Compare(py, gr, copts)
	var kept []Diff
	noisy := false
	for _, d := range diffs {
		if ignored(rs.cfg.Ignore, d.Pointer) || st.isNoise(d.Pointer) {
			noisy = true
			continue
		}
		kept = append(kept, d)
	}
	if primary == SideGo && rs.rollbackable() {
		m.windowCompare(rs, len(kept) > 0)
	}
	if len(kept) == 0 {
		st.record(nil, noisy)
		return
	}
	st.record(&Mismatch{
		At:            m.now().UTC(),
		Request:       cand.Method + " " + cand.URL.RequestURI() + " " + cand.Proto,
		RequestHeader: redactHeader(cand.Header),
		Python:        sample(py), Go: sample(gr),
		Diffs: kept, Diff: readableDiff(kept),
	}, noisy)
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
// the client.
type captureWriter struct {
	hdr    http.Header
	status int
	body   *capture
}

func (c *captureWriter) Header() http.Header { return c.hdr }

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// Flush does nothing: a shadow run has nobody to flush to.
func (c *captureWriter) Flush() {}

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

func (c *capture) response(status int, hdr http.Header) *Response {
	r := &Response{Status: status, Header: hdr, Body: c.buf, Size: c.size, Truncated: c.truncated}
	c.sum.Sum(r.Sum[:0])
	return r
}
