package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graft-dev/graft/router"
)

// Migrator holds the stage of every staged Go route of a Router and
// serves their requests accordingly: it is the Router's [router.Stager].
// Make one with [New] once the routes and the fallback are registered.
//
// Stages live in an immutable snapshot swapped atomically; each request
// reads it once, so a change (admin API, stages file, kill switch,
// rollback) takes effect on the next request.
type Migrator struct {
	o       Options
	r       *router.Router
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time
	redact  *redactor

	snap atomic.Pointer[snapshot]

	mu        sync.Mutex // serialises changes to the fields below and to the file
	cfg       map[string]RouteConfig
	forceAll  bool
	rollbacks map[string]*Rollback
	stats     map[string]*routeStats
	fileSum   [32]byte // of the stages file last loaded or written
	fileOK    bool
	// fileRollbacks are the routes whose rollback the stages file held
	// when last loaded or written: one a person then removes from the
	// file is cleared at the next load.
	fileRollbacks map[string]bool
	fileErr       error // why the stages file last read is not applied, or nil
	// fileBad is the sum of the stages file content (or, for a file
	// that cannot be read, of the error) last found not to apply, zero
	// since one applied: the poll reports it once, until it changes.
	fileBad [32]byte

	sem  chan struct{} // shadow runs in flight
	jobs sync.WaitGroup
	// closed is set by Shutdown: no new shadow runs. A run is admitted
	// (closed checked, jobs.Add) under a read hold of admit, and Shutdown
	// sets closed under a write hold, so that every run Shutdown does not
	// refuse is counted before it waits for jobs (see admitShadow).
	admit  sync.RWMutex
	closed atomic.Bool

	// passedClosed, nil but in tests, is called by a request that has
	// found the Migrator open, before it starts its shadow run.
	passedClosed func()

	stop     chan struct{}
	stopOnce sync.Once
	watching sync.WaitGroup
}

var _ router.Stager = (*Migrator)(nil)

// Rollback records an automatic rollback of a route.
type Rollback struct {
	// Reason says which rate exceeded the threshold.
	Reason string `json:"reason"`
	// At is when the route was rolled back.
	At time.Time `json:"at"`
}

// routeKey identifies a staged route without building its string.
type routeKey struct{ method, pattern string }

// snapshot is the immutable state requests read.
type snapshot struct {
	forceAll bool
	routes   map[routeKey]*routeState
}

// routeState is one route's configuration, ready for requests.
type routeState struct {
	key        string
	cfg        RouteConfig
	configured bool
	followsGet bool   // a HEAD route without configuration, with its GET route's
	bucket     string // what Bucket hashes with the sticky key: the GET route's key for a HEAD on a GET's pattern
	bp         int    // canary percentage in basis points
	sticky     sticky
	headers    []string
	covered    bool
	rollback   *Rollback
	stats      *routeStats
	epoch      uint64 // stats.epoch when published: see routeStats.epoch
	rules      string // the comparison rules (rulesOf): see routeStats.setRules
	// line is the key of the stages-file line the route follows: its own,
	// or its GET route's for a HEAD that follows it (followsGet), which an
	// automatic rollback of the HEAD rolls back.
	line string
}

// New returns a Migrator for the staged routes of r (see
// [router.Router.StagedRoutes]) and makes it r's Stager. It loads
// o.StagesFile (and starts watching it) or o.Routes, and fails with a
// "migrate: " error if a route is unknown, if a python, shadow or canary
// stage is set on a route that no fallback covers, or if the metrics
// cannot be registered, or if o.Rollback.Window is shorter than a second.
// Call [Migrator.Shutdown] to stop watching the file.
func New(r *router.Router, o Options) (*Migrator, error) {
	if r == nil {
		return nil, fmt.Errorf("migrate: New: nil router")
	}
	// The window is cut into slots of Window/12: a window of a few
	// nanoseconds (a count of seconds written as a Duration) would divide
	// by zero on every request of a canary or go route.
	if w := o.Rollback.Window; w > 0 && w < time.Second {
		return nil, fmt.Errorf("migrate: New: Rollback.Window %v is shorter than a second (it is a time.Duration: write 30*time.Second, not 30)", w)
	}
	o.defaults()
	met, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	m := &Migrator{
		o: o, r: r, log: o.Logger, metrics: met, now: time.Now, redact: newRedactor(o.Redact, o.OverrideHeader),
		cfg: map[string]RouteConfig{}, rollbacks: map[string]*Rollback{}, stats: map[string]*routeStats{},
		sem: make(chan struct{}, o.MaxConcurrent), stop: make(chan struct{}),
	}
	if o.StagesFile != "" {
		if err := m.loadFile("file"); err != nil {
			met.unregister(o.Registerer)
			return nil, err
		}
		m.watching.Add(1)
		go m.watch()
	} else {
		f := &File{ForcePython: o.ForcePython, Routes: o.Routes}
		for i := range f.Routes {
			if err := f.Routes[i].Check(); err != nil {
				met.unregister(o.Registerer)
				return nil, err
			}
		}
		m.mu.Lock()
		err := m.applyLocked(f, "code")
		m.mu.Unlock()
		if err != nil {
			met.unregister(o.Registerer)
			return nil, err
		}
	}
	r.SetStager(m)
	return m, nil
}

// Shutdown stops watching the stages file and starting shadow runs (the
// stages still apply: requests are served as before, without comparison),
// and waits for the shadow runs in flight, or for ctx.
func (m *Migrator) Shutdown(ctx context.Context) error {
	m.admit.Lock()
	m.closed.Store(true)
	m.admit.Unlock()
	m.stopOnce.Do(func() { close(m.stop) })
	m.watching.Wait()
	done := make(chan struct{})
	go func() { m.jobs.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("migrate: shutdown: %w", ctx.Err())
	}
}

// routes returns the staged routes of the router by key.
func (m *Migrator) routes() (map[string]router.StagedRoute, []string) {
	list := m.r.StagedRoutes()
	byKey := make(map[string]router.StagedRoute, len(list))
	order := make([]string, 0, len(list))
	for _, sr := range list {
		k := sr.Key()
		if _, dup := byKey[k]; !dup {
			order = append(order, k)
		}
		byKey[k] = sr
	}
	return byKey, order
}

// validate checks a route configuration against the router.
func validate(c RouteConfig, routes map[string]router.StagedRoute) error {
	sr, ok := routes[c.Route]
	if !ok {
		return unknownRoute(c.Route, routes)
	}
	if c.Stage.needsFallback() && sr.Fallback == nil {
		return fmt.Errorf("migrate: route %q: stage %s needs Python, but no fallback covers the route", c.Route, c.Stage)
	}
	if c.ForcePython && sr.Fallback == nil { // a kill switch that would do nothing
		return forceNeedsFallback(c.Route)
	}
	return nil
}

func forceNeedsFallback(route string) error {
	return fmt.Errorf("migrate: route %q: force_python needs Python, but no fallback covers the route", route)
}

// applyLocked validates f and makes it the configuration, logging every
// change as made by who. Rollbacks of routes whose configuration did not
// change stay.
func (m *Migrator) applyLocked(f *File, who string) error {
	routes, _ := m.routes()
	next := make(map[string]RouteConfig, len(f.Routes))
	for _, c := range f.Routes {
		if err := validate(c, routes); err != nil {
			if c.line > 0 {
				return fmt.Errorf("migrate: stages file line %d: %s", c.line, err.Error()[len("migrate: "):])
			}
			return err
		}
		c.line = 0
		next[c.Route] = c
	}
	if f.ForcePython != m.forceAll {
		m.logChange(who, "all", f.ForcePython)
	}
	m.forceAll = f.ForcePython
	for k, old := range m.cfg {
		if _, ok := next[k]; !ok {
			m.logRoute(who, k, old, RouteConfig{Route: k})
			m.clearRollbackLocked(k)
		}
	}
	for k, c := range next {
		old, ok := m.cfg[k]
		if !ok {
			old = RouteConfig{Route: k}
		}
		if !equalConfig(old, c) {
			m.logRoute(who, k, old, c)
			m.clearRollbackLocked(k)
		}
	}
	// The rollbacks the file holds (written by this process before a
	// restart, or by another replica) are in effect; one that the file held
	// and a person removed is cleared.
	for k := range m.rollbacks {
		if _, ok := f.Rollbacks[k]; !ok && m.fileRollbacks[k] {
			m.log.Info("migrate: rollback cleared", slog.String("graft.route", k), slog.String("user.name", who))
			m.clearRollbackLocked(k)
		}
	}
	for k, rb := range f.Rollbacks {
		c, ok := next[k]
		if s := stageOf(c); !ok || s != StageCanary && s != StageGo || routes[k].Fallback == nil || m.rollbacks[k] != nil {
			continue
		}
		m.rollbacks[k] = &rb
		m.log.Warn("migrate: route rolled back to python, as the stages file says",
			slog.String("graft.route", k), slog.String("graft.reason", rb.Reason), slog.Time("graft.at", rb.At))
	}
	m.cfg = next
	m.publishLocked()
	return nil
}

// clone returns a copy of c that shares no slice with it: the snapshot's
// configurations are read by requests and must never change.
func (c RouteConfig) clone() RouteConfig {
	c.Ignore, c.Headers = slices.Clone(c.Ignore), slices.Clone(c.Headers)
	return c
}

func equalConfig(a, b RouteConfig) bool {
	a.line, b.line = 0, 0
	return a.Route == b.Route && a.Stage == b.Stage && a.Percent == b.Percent && a.Sticky == b.Sticky &&
		a.ShadowSample == b.ShadowSample && a.NoiseSample == b.NoiseSample &&
		slices.Equal(a.Ignore, b.Ignore) && slices.Equal(a.Headers, b.Headers) &&
		a.ShadowUnsafe == b.ShadowUnsafe && a.ForcePython == b.ForcePython
}

func stageOf(c RouteConfig) Stage {
	if c.Stage == "" {
		return StageGo
	}
	return c.Stage
}

func (m *Migrator) logRoute(who, key string, old, c RouteConfig) {
	m.log.Info("migrate: route changed",
		slog.String("graft.route", key),
		slog.String("graft.from", describe(old)),
		slog.String("graft.to", describe(c)),
		slog.String("user.name", who),
		slog.Time("graft.at", m.now().UTC()))
}

func (m *Migrator) logChange(who, what string, on bool) {
	m.log.Info("migrate: kill switch changed",
		slog.String("graft.route", what),
		slog.Bool("graft.force_python", on),
		slog.String("user.name", who),
		slog.Time("graft.at", m.now().UTC()))
}

// describe shows a configuration in a log line.
func describe(c RouteConfig) string {
	s := string(stageOf(c))
	if stageOf(c) == StageCanary {
		s += fmt.Sprintf(" %g%%", c.Percent)
	}
	if c.ForcePython {
		s += " force_python"
	}
	if c.ShadowSample > 0 {
		s += fmt.Sprintf(" shadow_sample=%g", c.ShadowSample)
	}
	return s
}

// publishLocked builds and swaps in a new snapshot.
func (m *Migrator) publishLocked() {
	routes, order := m.routes()
	s := &snapshot{forceAll: m.forceAll, routes: make(map[routeKey]*routeState, len(routes))}
	for _, k := range order {
		sr := routes[k]
		st := m.stats[k]
		if st == nil {
			st = newRouteStats(k, m.o.RecentMismatches, m.metrics, m.redact)
			m.stats[k] = st
		}
		c, configured := m.cfg[k]
		if !configured {
			c = RouteConfig{Route: k}
		}
		stk, _ := parseSticky(c.Sticky)
		headers := m.o.CompareHeaders
		if len(c.Headers) > 0 {
			headers = canonicalHeaders(c.Headers)
		}
		rs := &routeState{
			key: k, line: k, cfg: c, configured: configured, bucket: k, bp: int(c.Percent*100 + 0.5), sticky: stk,
			headers: headers, covered: sr.Fallback != nil, rollback: m.rollbacks[k], stats: st,
		}
		st.mu.Lock()
		rs.epoch = st.epoch
		st.mu.Unlock()
		s.routes[routeKey{sr.Method, sr.Pattern}] = rs
		st.setStage(effectiveStage(s, rs))
	}
	// HEAD follows GET: a HEAD route with no configuration of its own takes
	// the GET route's, so that a GET in python or shadow does not have Go
	// answer its HEAD requests, and buckets like it, so that a canary user
	// gets GET and HEAD from the same side.
	// A HEAD with a line of its own keeps its stage and percentage but
	// buckets with the GET route's key too: at the same percentage and
	// sticky key its users are the GET's, and at a lower one some of them.
	for k, rs := range s.routes {
		if k.method == http.MethodHead && rs.configured {
			if get := s.routes[routeKey{http.MethodGet, k.pattern}]; get != nil {
				rs.bucket = get.key
			}
		}
	}
	for k, rs := range s.routes {
		if k.method == http.MethodHead && !rs.configured {
			if get := s.routes[routeKey{http.MethodGet, k.pattern}]; get != nil && get.configured {
				head := *get
				head.key, head.stats, head.epoch, head.covered, head.configured, head.followsGet = rs.key, rs.stats, rs.epoch, rs.covered, false, true
				head.cfg.Route = rs.key
				s.routes[k] = &head
				rs.stats.setStage(effectiveStage(s, &head))
			}
		}
	}
	// A HEAD that follows its GET is judged by the GET's rules, with its
	// own results.
	now := m.now()
	for _, rs := range s.routes {
		rs.rules = rulesOf(rs.cfg.Ignore, rs.headers)
		rs.stats.setRules(rs.rules, now)
	}
	m.snap.Store(s)
}

// killed reports whether a kill switch makes Python serve the route: its
// own, or the global one, which acts on the routes being migrated (those
// with a configuration, and a HEAD that follows its GET's) and leaves the
// others (a health check never migrated) to Go.
func killed(s *snapshot, rs *routeState) bool {
	return rs.covered && (rs.cfg.ForcePython || s.forceAll && (rs.configured || rs.followsGet))
}

// effectiveStage is the stage a route's requests see, after the kill
// switches and rollbacks.
func effectiveStage(s *snapshot, rs *routeState) Stage {
	if killed(s, rs) || rs.covered && rs.rollback != nil {
		return StagePython
	}
	return stageOf(rs.cfg)
}

// Config returns the configuration of route ("GET /api/users/{id}"), the
// default one for a staged route with none; ok is false for an unknown
// route.
func (m *Migrator) Config(route string) (c RouteConfig, ok bool) {
	key, err := normalizeRoute(route)
	if err != nil {
		return RouteConfig{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.configLocked(key)
}

// configLocked is Config for a normalised key, under m.mu.
func (m *Migrator) configLocked(key string) (c RouteConfig, ok bool) {
	if c, ok := m.cfg[key]; ok {
		return c.clone(), true
	}
	routes, _ := m.routes()
	if _, ok := routes[key]; !ok {
		return RouteConfig{}, false
	}
	return RouteConfig{Route: key}, true
}

// SetRoute replaces the configuration of c.Route, logging the change as
// made by who, writes the stages file back if there is one, and returns
// the route's new status. It clears the route's automatic rollback: this
// is how a person re-enables a rolled-back route. The error says what is
// wrong with c (an unknown route, an invalid field, a stage that needs a
// fallback on a route no fallback covers); the change is then not made.
// A failure to write the stages file is returned too, but the change is
// made (in memory) all the same, so that a kill switch always works.
func (m *Migrator) SetRoute(who string, c RouteConfig) (RouteStatus, error) {
	if err := c.Check(); err != nil {
		return RouteStatus{}, err
	}
	m.mu.Lock()
	m.syncFileLocked()
	return m.setRouteLocked(who, c)
}

// updateRoute changes the configuration of route with edit, which gets
// the configuration in effect (after an edit of the stages file not picked
// up yet), as SetRoute would set the result. The read and the change are
// one step under m.mu, so that two changes of different fields made at
// once (the admin API's POST /routes, the console's form) both take
// effect: built from a configuration read before, the last one undid the
// other's field.
func (m *Migrator) updateRoute(who, route string, edit func(c *RouteConfig) error) (RouteStatus, error) {
	key, err := normalizeRoute(route)
	if err != nil {
		return RouteStatus{}, err
	}
	m.mu.Lock()
	m.syncFileLocked()
	c, ok := m.configLocked(key)
	if !ok {
		m.mu.Unlock()
		return RouteStatus{}, m.unknownRoute(route)
	}
	if err := edit(&c); err != nil {
		m.mu.Unlock()
		return RouteStatus{}, err
	}
	if err := c.Check(); err != nil {
		m.mu.Unlock()
		return RouteStatus{}, err
	}
	return m.setRouteLocked(who, c)
}

// setRouteLocked is SetRoute for a checked c, under m.mu, which it
// unlocks.
func (m *Migrator) setRouteLocked(who string, c RouteConfig) (RouteStatus, error) {
	routes, _ := m.routes()
	if err := validate(c, routes); err != nil {
		m.mu.Unlock()
		return RouteStatus{}, err
	}
	old, ok := m.cfg[c.Route]
	if !ok {
		old = RouteConfig{Route: c.Route}
	}
	m.logRoute(who, c.Route, old, c)
	if m.rollbacks[c.Route] != nil {
		m.log.Info("migrate: rollback cleared", slog.String("graft.route", c.Route), slog.String("user.name", who))
	}
	m.clearRollbackLocked(c.Route)
	c.line = 0
	m.cfg[c.Route] = c.clone()
	m.publishLocked()
	werr := m.writeBackLocked()
	m.mu.Unlock()
	st, _ := m.Route(c.Route)
	return st, werr
}

// SetForcePython turns the kill switch of route on or off, or the global
// one when route is "", logging the change as made by who. It takes effect
// on the next request. The global switch sends the configured routes to
// Python (see [File].ForcePython); a route's own switch sends that route,
// configured or not. Turning a route's switch off removes its
// configuration when the switch was all it held, so that a route that was
// not configured before is not configured after (no automatic rollback,
// no global switch). Like SetRoute, it writes the stages file back and
// makes the change even if that fails (returning the error).
func (m *Migrator) SetForcePython(who, route string, on bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncFileLocked()
	if route == "" {
		if m.forceAll != on {
			m.logChange(who, "all", on)
		}
		m.forceAll = on
		m.publishLocked()
		return m.writeBackLocked()
	}
	key, err := normalizeRoute(route)
	if err != nil {
		return err
	}
	routes, _ := m.routes()
	sr, ok := routes[key]
	if !ok {
		return unknownRoute(route, routes)
	}
	if on && sr.Fallback == nil {
		return forceNeedsFallback(key)
	}
	c, ok := m.cfg[key]
	if !ok {
		c = RouteConfig{Route: key}
	}
	if c.ForcePython != on {
		m.logChange(who, key, on)
	}
	c.ForcePython = on
	if !on && equalConfig(c, RouteConfig{Route: key}) {
		// The switch was all the route's configuration: it goes back to
		// none, and with it the automatic rollback, as when the stages
		// file stops listing a route.
		delete(m.cfg, key)
		m.clearRollbackLocked(key)
	} else {
		m.cfg[key] = c
	}
	m.publishLocked()
	return m.writeBackLocked()
}

// ForcePython reports whether the global kill switch is on.
func (m *Migrator) ForcePython() bool { return m.snap.Load().forceAll }

// fileLocked returns the configuration as a File, routes in registration
// order.
func (m *Migrator) fileLocked() *File {
	f := &File{ForcePython: m.forceAll, Routes: []RouteConfig{}}
	_, order := m.routes()
	seen := map[string]bool{}
	for _, k := range order {
		if c, ok := m.cfg[k]; ok {
			f.Routes = append(f.Routes, c)
			seen[k] = true
		}
	}
	for k, c := range m.cfg { // routes that disappeared from the router
		if !seen[k] {
			f.Routes = append(f.Routes, c)
		}
	}
	for k, rb := range m.rollbacks {
		if _, ok := m.cfg[k]; ok {
			if f.Rollbacks == nil {
				f.Rollbacks = map[string]Rollback{}
			}
			f.Rollbacks[k] = *rb
		}
	}
	return f
}

// clearRollbackLocked forgets the automatic rollback of route key, if
// any, and the requests that led to it: a person's decision starts the
// rollback window afresh, so that the failures from before it do not roll
// the route back again at the first new one. The requests still in
// flight then (read from an older snapshot) are not counted when they
// finish: their epoch is past (see routeStats.epoch).
func (m *Migrator) clearRollbackLocked(key string) {
	if m.rollbacks[key] == nil {
		return
	}
	delete(m.rollbacks, key)
	keys := []string{key}
	// A HEAD route without a line of its own follows its GET route's, and
	// rolls it back (rollbackLine): its window starts afresh too.
	if pattern, ok := strings.CutPrefix(key, http.MethodGet+" "); ok {
		if head := http.MethodHead + " " + pattern; m.cfg[head].Route == "" {
			keys = append(keys, head)
		}
	}
	for _, k := range keys {
		if st := m.stats[k]; st != nil {
			st.mu.Lock()
			st.win = window{}
			st.epoch++
			st.mu.Unlock()
		}
	}
}

// rollback drops route to python after an automatic decision, taken
// from the window of the given epoch, and writes it to the stages file,
// if any, so that it outlasts a restart. A decision of a person made
// since (a newer epoch) wins.
func (m *Migrator) rollback(key, reason string, epoch uint64) {
	m.rollbackLine(key, key, reason, epoch)
}

// rollbackLine rolls back the stages-file line of route key (line), after
// an automatic decision taken from the window of route from's stats in
// the given epoch: from is key itself, or a HEAD route that follows its
// GET route's line.
func (m *Migrator) rollbackLine(key, from, reason string, epoch uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncFileLocked() // an edit not picked up yet goes first
	if m.rollbacks[key] != nil {
		return
	}
	if st := m.stats[from]; st != nil {
		st.mu.Lock()
		stale := st.epoch != epoch
		st.mu.Unlock()
		if stale {
			return
		}
	}
	c := m.cfg[key]
	if s := stageOf(c); s != StageCanary && s != StageGo {
		return
	}
	rb := &Rollback{Reason: reason, At: m.now().UTC()}
	m.rollbacks[key] = rb
	m.log.Error("migrate: route rolled back to python",
		slog.String("graft.route", key), slog.String("graft.reason", reason), slog.Time("graft.at", rb.At))
	m.metrics.rollbacks.WithLabelValues(key).Inc()
	m.publishLocked()
	m.writeBackLocked() // a failure is logged; the rollback is in effect all the same
}

// ServeStaged serves a request of a staged route by its stage; it
// implements [router.Stager].
func (m *Migrator) ServeStaged(w http.ResponseWriter, r *http.Request, sr router.StagedRoute) {
	s := m.snap.Load()
	rs := s.routes[routeKey{sr.Method, sr.Pattern}]
	if rs == nil { // registered after New
		sr.Go.ServeHTTP(w, r)
		return
	}
	fb := sr.Fallback
	if fb != nil && (killed(s, rs) || rs.rollback != nil) {
		m.serve(w, r, rs, SidePython, fb, false)
		return
	}
	if side, present, ok := m.override(r); present {
		if ok && (side == SideGo || fb != nil) {
			rs.stats.overrides.Add(1)
			m.metrics.overrides.WithLabelValues("accepted").Inc()
			h := sr.Go
			if side == SidePython {
				h = fb
			}
			m.serve(w, r, rs, side, h, false)
			return
		}
		rs.stats.overridesRejected.Add(1)
		m.metrics.overrides.WithLabelValues("rejected").Inc()
	}
	stage := stageOf(rs.cfg)
	if fb == nil {
		stage = StageGo
	}
	switch stage {
	case StagePython:
		m.serve(w, r, rs, SidePython, fb, false)
	case StageShadow:
		sample := rs.cfg.ShadowSample
		if sample == 0 {
			sample = 1
		}
		m.serveCompared(w, r, rs, sr, SidePython, sample, false)
	case StageCanary:
		if Bucket(rs.bucket, rs.sticky.key(r, m.o.Identity)) < rs.bp {
			m.serveCompared(w, r, rs, sr, SideGo, rs.cfg.ShadowSample, true)
		} else {
			m.serve(w, r, rs, SidePython, fb, true)
		}
	default:
		m.serveCompared(w, r, rs, sr, SideGo, rs.cfg.ShadowSample, true)
	}
}
