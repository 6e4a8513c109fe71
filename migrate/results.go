package migrate

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/wsgi"
)

// Comparison outcomes, as counted in metrics.
const (
	outcomeMatch    = "match"
	outcomeMismatch = "mismatch"
	outcomeError    = "candidate_error"
	outcomePanic    = "candidate_panic"
	outcomeTimeout  = "candidate_timeout"
	outcomeDropped  = "dropped"
	outcomeSkipped  = "skipped"
)

// maxNoise caps the noise pointers learned per route.
const maxNoise = 1000

// maxPointers caps the distinct mismatch pointers counted per route.
const maxPointers = 1000

// latencySamples is how many recent durations per side feed p50/p99.
const latencySamples = 1024

// noiseWarmup is how many comparisons of a route always learn noise.
const noiseWarmup = 20

// routeStats are the results of one route, kept across configuration
// changes.
type routeStats struct {
	key string

	python, goCount                                        atomic.Int64
	refused                                                atomic.Int64 // of python: the container refused them
	compared, matched, mismatched, noise                   atomic.Int64
	candidateErrors, candidatePanics, candidateTimeouts    atomic.Int64
	dropped, skipped, overrides, overridesRejected, learns atomic.Int64
	overdue                                                atomic.Int64 // shadow runs past their timeout, still running

	servedPy, servedGo prometheus.Counter
	refusedPy          prometheus.Counter
	durPy, durGo       prometheus.Observer
	outcomes           map[string]prometheus.Counter
	stageGauge         *prometheus.GaugeVec
	overdueGauge       prometheus.Gauge

	mu       sync.Mutex
	pointers map[string]int64
	noiseSet map[string]bool
	// unordered are the patterns of the JSON arrays learned to come in
	// any order (see unordered.go).
	unordered map[string]bool
	recent    []Mismatch // ring
	next      int
	recentMax int
	win       window
	// epoch counts the decisions of a person that restarted the rollback
	// window (clearRollbackLocked); a request counts in the window only if
	// its snapshot was published in the current epoch.
	epoch uint64
	// rules are the comparison rules (ignore, headers) the results were
	// judged by, and since when, if they changed (nil: since start): see
	// setRules.
	rules      string
	rulesKnown bool
	since      *time.Time

	latPy, latGo latencyRing

	redact *redactor // how NoisePointers are shown
}

func newRouteStats(key string, recent int, met *metrics, redact *redactor) *routeStats {
	s := &routeStats{
		key: key, recentMax: recent, redact: redact,
		servedPy:  met.requests.WithLabelValues(key, string(SidePython)),
		servedGo:  met.requests.WithLabelValues(key, string(SideGo)),
		refusedPy: met.refused.WithLabelValues(key),
		durPy:     met.duration.WithLabelValues(key, string(SidePython)),
		durGo:     met.duration.WithLabelValues(key, string(SideGo)),
		outcomes:  map[string]prometheus.Counter{}, stageGauge: met.stage, overdueGauge: met.overdue.WithLabelValues(key),
		pointers: map[string]int64{}, noiseSet: map[string]bool{}, unordered: map[string]bool{},
	}
	for _, o := range []string{outcomeMatch, outcomeMismatch, outcomeError, outcomePanic, outcomeTimeout, outcomeDropped, outcomeSkipped} {
		s.outcomes[o] = met.comparisons.WithLabelValues(key, o)
	}
	return s
}

func (s *routeStats) setStage(st Stage) {
	for _, x := range []Stage{StagePython, StageShadow, StageCanary, StageGo} {
		v := 0.0
		if x == st {
			v = 1
		}
		s.stageGauge.WithLabelValues(s.key, string(x)).Set(v)
	}
}

func (s *routeStats) outcome(o string) { s.outcomes[o].Inc() }

// overdueRun counts a shadow run that passed its timeout (d 1) or, later,
// returned (d -1).
func (s *routeStats) overdueRun(d int64) {
	s.overdue.Add(d)
	s.overdueGauge.Add(float64(d))
}

// served counts a request served by side; it is called before the side
// serves, so that the count is there when the client has its answer.
func (s *routeStats) served(side Side) {
	if side == SidePython {
		s.python.Add(1)
		s.servedPy.Inc()
	} else {
		s.goCount.Add(1)
		s.servedGo.Inc()
	}
}

// refusedBy counts a request Python served whose container refused it
// without running the app, as trace (nil: not Python's) says.
func (s *routeStats) refusedBy(trace *wsgi.Trace) {
	if trace != nil && trace.Refused {
		s.refused.Add(1)
		s.refusedPy.Inc()
	}
}

// latency records one duration of side, served or shadow.
func (s *routeStats) latency(side Side, d time.Duration) {
	if side == SidePython {
		s.durPy.Observe(d.Seconds())
		s.latPy.add(d)
	} else {
		s.durGo.Observe(d.Seconds())
		s.latGo.add(d)
	}
}

// latencyRing keeps the last latencySamples durations without a lock:
// a writer claims a slot with an atomic counter.
type latencyRing struct {
	n     atomic.Uint64
	slots [latencySamples]atomic.Int64
}

func (l *latencyRing) add(d time.Duration) {
	i := l.n.Add(1) - 1
	l.slots[i%latencySamples].Store(int64(d))
}

// ms returns the recorded durations in milliseconds.
func (l *latencyRing) ms() []float64 {
	n := min(l.n.Load(), latencySamples)
	out := make([]float64, 0, n)
	for i := uint64(0); i < n; i++ {
		out = append(out, float64(l.slots[i].Load())/float64(time.Millisecond))
	}
	return out
}

// Percentiles are two percentiles of recent durations, in milliseconds;
// both 0 with no sample.
type Percentiles struct {
	// P50 is the median.
	P50 float64 `json:"p50"`
	// P99 is the 99th percentile (nearest rank).
	P99 float64 `json:"p99"`
}

func percentiles(buf []float64) Percentiles {
	if len(buf) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(buf)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return math.Round(s[i]*1000) / 1000
	}
	return Percentiles{P50: at(0.50), P99: at(0.99)}
}

// Counts are a route's counters since start; those of the comparisons'
// results (Compared, Matched, Mismatched, Noise) since the route's
// comparison rules last changed ([RouteStatus].ComparedSince).
type Counts struct {
	// Python and Go count the requests each side served.
	Python int64 `json:"python"`
	Go     int64 `json:"go"`
	// Refused counts, of the requests in Python, those its container
	// refused without running the app (shut down, queue full, no worker
	// free within QueueTimeout, body not spooled: wsgi.Trace.Refused),
	// whatever status its error handler answered with. They are left out
	// of the automatic rollback's window and of the comparisons.
	Refused int64 `json:"refused"`
	// Compared counts the comparisons made; Matched + Mismatched ==
	// Compared. Noise counts the matched comparisons whose only
	// differences were noise (learned or ignored).
	Compared   int64 `json:"compared"`
	Matched    int64 `json:"matched"`
	Mismatched int64 `json:"mismatched"`
	Noise      int64 `json:"noise"`
	// CandidateErrors counts shadow runs that failed: panics, timeouts
	// and other errors, also counted on their own.
	CandidateErrors int64 `json:"candidate_errors"`
	// CandidatePanics counts the shadow runs that panicked.
	CandidatePanics int64 `json:"candidate_panics"`
	// CandidateTimeouts counts the shadow runs that ran past
	// Options.Timeout (their answer is ignored).
	CandidateTimeouts int64 `json:"candidate_timeouts"`
	// Dropped counts requests not shadowed because MaxConcurrent shadow
	// runs were in flight (a run past its timeout is among them until its
	// handler returns: see RouteStatus.OverdueRuns); Skipped, those not
	// shadowed because their body was bigger than MaxBodyBytes or could not
	// be read, or not compared because the client went away before its
	// answer was complete or because the comparison panicked (in
	// Options.Normalize: logged at ERROR).
	Dropped int64 `json:"dropped"`
	Skipped int64 `json:"skipped"`
	// NoiseRuns counts Python's second calls, made to learn noise.
	NoiseRuns int64 `json:"noise_runs"`
	// Overrides counts requests steered by a valid tester override;
	// OverridesRejected, overrides ignored (unsigned, badly signed,
	// expired).
	Overrides         int64 `json:"overrides"`
	OverridesRejected int64 `json:"overrides_rejected"`
}

// Latency holds the recent percentiles of each side.
type Latency struct {
	// Python is the Python side's, served and shadow runs alike.
	Python Percentiles `json:"python"`
	// Go is the Go side's, served and shadow runs alike.
	Go Percentiles `json:"go"`
}

// Mismatch is one recorded mismatch, with secrets redacted.
type Mismatch struct {
	// At is when the comparison was made.
	At time.Time `json:"at"`
	// Request is the request line ("GET /api/users/1?x=y HTTP/1.1"),
	// secret query parameters redacted, the target cut at 2 KiB.
	Request string `json:"request"`
	// RequestHeader holds the request headers. Here and in the rest of
	// the Mismatch, secret values are "[redacted]": those of headers,
	// query parameters, and JSON and form fields whose names contain a
	// word of [DefaultRedact] or [Options].Redact. Names and values are
	// cut at 1 KiB, and at most 16 KiB of them are kept (see
	// RequestHeaderOmitted).
	RequestHeader http.Header `json:"request_header"`
	// RequestHeaderOmitted counts the request header values left out of
	// RequestHeader to keep it within 16 KiB.
	RequestHeaderOmitted int `json:"request_header_omitted,omitempty"`
	// Python and Go are the two responses.
	Python Sample `json:"python"`
	Go     Sample `json:"go"`
	// Diffs are the differences that made the mismatch (noise excluded),
	// secret values redacted.
	Diffs []Diff `json:"diffs"`
	// Diff is Diffs as readable text: per pointer, "- python" and "+ go".
	Diff string `json:"diff"`
	// Hints say what a difference a framework's middleware usually
	// causes (Vary, Content-Language) means, with the Go line to add and
	// the exact ignore entry for when Go's answer is right without it;
	// the console shows them under the mismatch. Other differences have
	// none.
	Hints []string `json:"hints,omitempty"`
}

// Sample is one side's response in a Mismatch.
type Sample struct {
	// Status is the status code.
	Status int `json:"status"`
	// Header holds the response headers, secret values redacted, bounded
	// like Mismatch.RequestHeader.
	Header http.Header `json:"header"`
	// HeaderOmitted counts the header values left out of Header.
	HeaderOmitted int `json:"header_omitted,omitempty"`
	// Body is the body, truncated to 4 KiB; in a JSON or a URL-encoded
	// form body, the values of secret fields are redacted (other bodies
	// are shown as they are).
	Body string `json:"body"`
	// Size is the length of the whole body.
	Size int64 `json:"size"`
}

// What a Mismatch keeps, so that the recent mismatches of a route take
// bounded memory whatever the requests and responses hold.
const (
	// maxSampleBody is the longest body kept.
	maxSampleBody = 4 << 10
	// maxRecordedURI is the longest request target kept in the request line.
	maxRecordedURI = 2 << 10
	// maxRecordedValue is the longest header value (or name) kept.
	maxRecordedValue = 1 << 10
	// maxRecordedHeader caps the bytes of the header values (and names)
	// kept of one request or response.
	maxRecordedHeader = 16 << 10
)

// newMismatch returns the record of a mismatch of request req (the shadow
// copy), redacted and bounded.
func (m *Migrator) newMismatch(req *http.Request, py, gr *Response, kept []Diff) *Mismatch {
	diffs := m.redact.diffs(kept, py)
	hdr, omitted := boundHeader(m.redact.header(req.Header))
	return &Mismatch{
		At:            m.now().UTC(),
		Request:       req.Method + " " + shortenTo(m.redact.url(req.URL.RequestURI()), maxRecordedURI) + " " + req.Proto,
		RequestHeader: hdr, RequestHeaderOmitted: omitted,
		Python: m.sample(py), Go: m.sample(gr),
		Diffs: diffs, Diff: readableDiff(diffs), Hints: diffHints(diffs),
	}
}

// sample returns what a Mismatch shows of resp: its headers and body
// redacted, the body cut to maxSampleBody, the headers bounded.
func (m *Migrator) sample(resp *Response) Sample {
	body := string(m.redact.body(resp.Header, resp.Body))
	if len(body) > maxSampleBody {
		body = cutUTF8(body, maxSampleBody) + "…"
	}
	hdr, omitted := boundHeader(m.redact.header(resp.Header))
	return Sample{Status: resp.Status, Header: hdr, HeaderOmitted: omitted, Body: body, Size: resp.Size}
}

// boundHeader returns h with each name and value cut to maxRecordedValue,
// and, by name in order, values only while their total stays within
// maxRecordedHeader; omitted counts the values left out.
func boundHeader(h http.Header) (out http.Header, omitted int) {
	out = make(http.Header, min(len(h), 64))
	budget := maxRecordedHeader
	for _, k := range sortedKeys(h) {
		name := shortenTo(k, maxRecordedValue)
		for _, v := range h[k] {
			v = shortenTo(v, maxRecordedValue)
			if budget -= len(name) + len(v); budget < 0 {
				omitted++
				continue
			}
			out[name] = append(out[name], v)
		}
	}
	return out, omitted
}

// readableDiff renders diffs for people.
func readableDiff(diffs []Diff) string {
	var b strings.Builder
	for _, d := range diffs {
		fmt.Fprintf(&b, "%s\n- python: %s\n+ go:     %s\n", d.Pointer, d.Python, d.Go)
	}
	return b.String()
}

// isNoise reports whether p was learned as noise.
func (s *routeStats) isNoise(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.noiseSet[p]
}

// isUnordered reports whether the JSON array at pointer p was learned to
// come in any order.
func (s *routeStats) isUnordered(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unordered[p]
}

// learn adds the pointers where Python differed from itself to the noise,
// and the arrays it answered in another order to the unordered ones. It
// reports whether an array was added.
func (s *routeStats) learn(noise, permuted []string) (added bool) {
	s.learns.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range permuted {
		if !s.unordered[p] && len(s.unordered) < maxNoise {
			s.unordered[p], added = true, true
		}
	}
	for _, p := range noise {
		if len(s.noiseSet) >= maxNoise {
			return added
		}
		s.noiseSet[p] = true
	}
	return added
}

// setRules sets the comparison rules (rulesOf) the route's comparisons are
// judged by from now on. When they change (a person edited ignore or
// headers), the results judged by the old ones (compared, matched,
// mismatched, noise, the mismatch pointers and the recent mismatches) are
// dropped and counted afresh from now: otherwise the mismatches that an
// entry just added to ignore explains would keep the match rate down and
// stay listed. The learned noise, the counts of requests served and of
// candidate errors stay: the rules do not change them.
func (s *routeStats) setRules(rules string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rulesKnown && s.rules == rules {
		return
	}
	if s.rulesKnown {
		s.compared.Store(0)
		s.matched.Store(0)
		s.mismatched.Store(0)
		s.noise.Store(0)
		s.pointers = map[string]int64{}
		s.recent, s.next = nil, 0
		s.since = &now
	}
	s.rules, s.rulesKnown = rules, true
}

// rulesOf is the key of the comparison rules of a route: its ignore list
// and the headers it compares.
func rulesOf(ignore, headers []string) string {
	return strings.Join(ignore, "\x00") + "\x01" + strings.Join(headers, "\x00")
}

// record counts one comparison judged by rules; m holds the mismatching
// differences (noise removed), nil for a match, and noisy tells whether
// noise was removed. A comparison judged by rules that have changed since
// (it was under way when a person edited them) counts only in the
// metrics.
func (s *routeStats) record(rules string, m *Mismatch, noisy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m == nil {
		s.outcome(outcomeMatch)
	} else {
		s.outcome(outcomeMismatch)
	}
	if rules != s.rules {
		return
	}
	s.compared.Add(1)
	if m == nil {
		s.matched.Add(1)
		if noisy {
			s.noise.Add(1)
		}
		return
	}
	s.mismatched.Add(1)
	for _, d := range m.Diffs {
		if _, ok := s.pointers[d.Pointer]; ok || len(s.pointers) < maxPointers {
			s.pointers[d.Pointer]++
		}
	}
	if len(s.recent) < s.recentMax {
		s.recent = append(s.recent, *m)
	} else {
		s.recent[s.next] = *m
		s.next = (s.next + 1) % s.recentMax
	}
}

// RouteStatus is the state and the results of one staged route, as
// listed by GET /routes.
type RouteStatus struct {
	// Route is "METHOD /pattern".
	Route string `json:"route"`
	// Stage is the configured stage; Effective is the stage requests
	// see, python when a kill switch or a rollback applies.
	Stage     Stage `json:"stage"`
	Effective Stage `json:"effective"`
	// Percent is the canary percentage.
	Percent float64 `json:"percent"`
	// ForcePython is true when a kill switch (the route's or the global
	// one) makes Python serve the route.
	ForcePython bool `json:"force_python"`
	// Fallback is true when a fallback covers the route (so it can be in
	// the python, shadow and canary stages).
	Fallback bool `json:"fallback"`
	// Config is the route's whole configuration.
	Config RouteConfig `json:"config"`
	// Counts are the counters since start, except those of the
	// comparisons' results (Compared, Matched, Mismatched, Noise), which
	// are since ComparedSince.
	Counts Counts `json:"counts"`
	// ComparedSince is when the route's comparison rules (ignore,
	// headers) last changed, nil if they have not since start: the
	// results judged by the old rules (Compared, Matched, Mismatched,
	// Noise, MismatchPointers, RecentMismatches) were then dropped.
	ComparedSince *time.Time `json:"compared_since"`
	// MismatchPointers counts the mismatches per pointer.
	MismatchPointers map[string]int64 `json:"mismatch_pointers"`
	// NoisePointers lists the pointers learned as noise, sorted, shown
	// as in Mismatch.Diffs: cut after a secret key. Under an array
	// learned as unordered, "*" stands for every element's index
	// ("/items/*/seen_at").
	NoisePointers []string `json:"noise_pointers"`
	// UnorderedPointers lists the JSON arrays learned to come in any
	// order (Python answered the same elements in two orders), sorted,
	// shown as NoisePointers ("*" for every element of an unordered
	// array above: "/orders/*/lines"): their elements are compared each
	// with the other side's element that is the same, noise left out, and
	// what is under them is still compared.
	UnorderedPointers []string `json:"unordered_pointers"`
	// Latency has each side's p50 and p99, in milliseconds.
	Latency Latency `json:"latency_ms"`
	// Rollback is the automatic rollback in effect, or nil.
	Rollback *Rollback `json:"rollback"`
	// OverdueRuns counts the route's shadow runs past their timeout
	// (counted in CandidateTimeouts) whose handler has not returned yet.
	// Go cannot stop a handler: each holds one of [Options].MaxConcurrent
	// slots until it returns, and with every slot held, no route is
	// compared (their requests are counted as dropped).
	OverdueRuns int64 `json:"overdue_runs"`
	// RecentMismatches are the last mismatches, oldest first.
	RecentMismatches []Mismatch `json:"recent_mismatches"`
}

func (s *routeStats) status(rs *routeState, snap *snapshot) RouteStatus {
	st := RouteStatus{
		Route: rs.key, Stage: stageOf(rs.cfg), Effective: effectiveStage(snap, rs), Percent: rs.cfg.Percent,
		ForcePython: killed(snap, rs), Fallback: rs.covered,
		Config: rs.cfg.clone(), Rollback: rs.rollback, OverdueRuns: s.overdue.Load(),
		Counts: Counts{
			Python: s.python.Load(), Go: s.goCount.Load(), Refused: s.refused.Load(),
			Compared: s.compared.Load(), Matched: s.matched.Load(), Mismatched: s.mismatched.Load(), Noise: s.noise.Load(),
			CandidateErrors: s.candidateErrors.Load(), CandidatePanics: s.candidatePanics.Load(), CandidateTimeouts: s.candidateTimeouts.Load(),
			Dropped: s.dropped.Load(), Skipped: s.skipped.Load(), NoiseRuns: s.learns.Load(),
			Overrides: s.overrides.Load(), OverridesRejected: s.overridesRejected.Load(),
		},
	}
	if st.Config.Ignore == nil {
		st.Config.Ignore = []string{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.ComparedSince = s.since
	// Read under the lock that setRules resets them under: a reset is
	// seen whole.
	st.Counts.Compared, st.Counts.Matched, st.Counts.Mismatched, st.Counts.Noise = s.compared.Load(), s.matched.Load(), s.mismatched.Load(), s.noise.Load()
	st.MismatchPointers = make(map[string]int64, len(s.pointers))
	for k, v := range s.pointers {
		st.MismatchPointers[k] = v
	}
	st.NoisePointers = make([]string, 0, len(s.noiseSet))
	for k := range s.noiseSet {
		st.NoisePointers = append(st.NoisePointers, s.redact.shownPointer(k))
	}
	sort.Strings(st.NoisePointers)
	st.NoisePointers = slices.Compact(st.NoisePointers) // keys under one secret key
	st.UnorderedPointers = make([]string, 0, len(s.unordered))
	for k := range s.unordered {
		st.UnorderedPointers = append(st.UnorderedPointers, s.redact.shownPointer(k))
	}
	sort.Strings(st.UnorderedPointers)
	st.UnorderedPointers = slices.Compact(st.UnorderedPointers)
	st.Latency = Latency{Python: percentiles(s.latPy.ms()), Go: percentiles(s.latGo.ms())}
	st.RecentMismatches = make([]Mismatch, 0, len(s.recent))
	if len(s.recent) < s.recentMax {
		st.RecentMismatches = append(st.RecentMismatches, s.recent...)
	} else {
		st.RecentMismatches = append(st.RecentMismatches, s.recent[s.next:]...)
		st.RecentMismatches = append(st.RecentMismatches, s.recent[:s.next]...)
	}
	return st
}

// Routes returns the status of every staged route, in registration order.
func (m *Migrator) Routes() []RouteStatus {
	snap := m.snap.Load()
	routes, order := m.routes()
	out := make([]RouteStatus, 0, len(order))
	for _, k := range order {
		sr := routes[k]
		if rs := snap.routes[routeKey{sr.Method, sr.Pattern}]; rs != nil {
			out = append(out, rs.stats.status(rs, snap))
		}
	}
	return out
}

// Route returns the status of one staged route ("GET /api/users/{id}");
// ok is false for an unknown route.
func (m *Migrator) Route(route string) (st RouteStatus, ok bool) {
	key, err := normalizeRoute(route)
	if err != nil {
		return RouteStatus{}, false
	}
	snap := m.snap.Load()
	method, pattern, _ := strings.Cut(key, " ")
	rs := snap.routes[routeKey{method, pattern}]
	if rs == nil {
		return RouteStatus{}, false
	}
	return rs.stats.status(rs, snap), true
}
