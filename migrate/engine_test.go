package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// pair builds a router whose Go route and scripted fallback answer with
// goH and pyH, and a Migrator with o and cfg (none if cfg.Route is "").
func pair(t testing.TB, goH, pyH http.HandlerFunc, o Options, cfg RouteConfig) (*router.Router, *Migrator, *env) {
	t.Helper()
	r := router.New()
	r.Get("/x", goH)
	r.Fallback(pyH)
	e := &env{r: r, reg: prometheus.NewRegistry(), logs: &pythontest.Buffer{}}
	o.Registerer = e.reg
	o.Logger = newTextLogger(e.logs)
	if cfg.Route != "" {
		o.Routes = []RouteConfig{cfg}
	}
	m, err := New(r, o)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	return r, m, e
}

func hit(r http.Handler, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/x", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

func TestMismatchRedaction(t *testing.T) {
	r, m, e := pair(t,
		func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "go-secret"})
			io.WriteString(w, "go body")
		},
		func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "py-secret"})
			io.WriteString(w, "python body")
		},
		Options{NoiseSample: -1}, RouteConfig{Route: "GET /x", Stage: StageShadow})
	hit(r, "Cookie", "sid=client-secret", "Authorization", "Bearer token-secret", "X-Other", "kept")
	m.jobs.Wait()
	st, _ := m.Route("GET /x")
	if len(st.RecentMismatches) != 1 {
		t.Fatalf("%+v", st.Counts)
	}
	mm := st.RecentMismatches[0]
	all := mm.RequestHeader.Get("Cookie") + mm.RequestHeader.Get("Authorization") + mm.Python.Header.Get("Set-Cookie") + mm.Go.Header.Get("Set-Cookie")
	if strings.Contains(all, "secret") || mm.RequestHeader.Get("Cookie") != redacted || mm.Go.Header.Get("Set-Cookie") != redacted {
		t.Fatalf("secrets not redacted: %+v", mm)
	}
	if mm.RequestHeader.Get("X-Other") != "kept" || mm.Python.Body != "python body" || mm.Go.Body != "go body" {
		t.Fatalf("%+v", mm)
	}
	if got := e.metric(t, "graft_migrate_comparisons_total", "route", "GET /x", "outcome", "mismatch"); got != 1 {
		t.Fatalf("mismatch metric = %v", got)
	}
}

func TestNormalizeHook(t *testing.T) {
	r, m, _ := pair(t,
		func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Location", "https://new.example/a") },
		func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Location", "https://old.example/a") },
		Options{NoiseSample: -1, Normalize: func(route string, side Side, resp *Response) {
			if route != "GET /x" {
				panic(route)
			}
			resp.Header.Set("Location", strings.Replace(resp.Header.Get("Location"), "old.example", "new.example", 1))
		}}, RouteConfig{Route: "GET /x", Stage: StageShadow})
	hit(r)
	m.jobs.Wait()
	if st, _ := m.Route("GET /x"); st.Counts.Matched != 1 {
		t.Fatalf("%+v %v", st.Counts, st.MismatchPointers)
	}
}

func TestMismatchRollback(t *testing.T) {
	r, m, e := pair(t,
		func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go") },
		func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python") },
		Options{NoiseSample: -1}, RouteConfig{Route: "GET /x", Stage: StageGo, ShadowSample: 1})
	for i := 0; i < 50; i++ {
		if got := hit(r).Body.String(); got != "go" {
			t.Fatalf("request %d served %q before the rollback", i, got)
		}
		m.jobs.Wait()
	}
	st, _ := m.Route("GET /x")
	if st.Rollback == nil || !strings.Contains(st.Rollback.Reason, "go mismatch rate 100.0% (50 of 50 reverse-shadow comparisons") {
		t.Fatalf("rollback %+v, counts %+v", st.Rollback, st.Counts)
	}
	if got := hit(r).Body.String(); got != "python" {
		t.Fatalf("after the rollback: %q", got)
	}
	if !strings.Contains(e.logs.String(), "level=ERROR") {
		t.Fatal(e.logs)
	}
}

func TestNoRollbackWithoutConfig(t *testing.T) {
	// An unconfigured route keeps today's behaviour: Go serves, failing or not.
	r, m, _ := pair(t,
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) },
		func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python") },
		Options{}, RouteConfig{})
	for i := 0; i < 100; i++ {
		if code := hit(r).Code; code != 500 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	if st, _ := m.Route("GET /x"); st.Rollback != nil {
		t.Fatal(st.Rollback)
	}
}

func TestStickyKeys(t *testing.T) {
	req := func(ctx context.Context, hdr ...string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
		r.RemoteAddr = "192.0.2.7:4321"
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}
	bg := context.Background()
	user := wsgi.WithEnviron(bg, "REMOTE_USER", "ada")
	ident := func(*http.Request) string { return "id-42" }
	for _, tc := range []struct {
		sticky string
		r      *http.Request
		ident  func(*http.Request) string
		want   string
	}{
		{"", req(bg), nil, "192.0.2.7"},
		{"addr", req(bg, "X-User", "u"), nil, "192.0.2.7"},
		{"cookie:session", req(bg, "Cookie", "a=1; session=s1"), nil, "s1"},
		{"cookie:session", req(bg), nil, "192.0.2.7"},
		{"cookie:session", req(bg, "Cookie", "session=; a=1"), nil, "192.0.2.7"},
		{"cookie:session", req(bg, "Cookie", "session=s1; session=s2"), nil, "s1"},
		{"header:x-user", req(bg, "X-User", ""), nil, "192.0.2.7"},
		{"header:x-user", req(bg, "X-User", "u9"), nil, "u9"},
		{"remote_user", req(user), nil, "ada"},
		{"remote_user", req(bg), nil, "192.0.2.7"},
		{"identity", req(user), nil, "ada"},
		{"identity", req(user), ident, "id-42"},
	} {
		s, err := parseSticky(tc.sticky)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.key(tc.r, tc.ident); got != tc.want {
			t.Errorf("%q: key %q, want %q", tc.sticky, got, tc.want)
		}
	}
	for _, bad := range []string{"cookie", "cookie:", "header:a b", "session", "addr:x", "remote_user:x"} {
		if _, err := parseSticky(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestHeadFollowsGet checks that an explicit HEAD route with no
// configuration of its own follows its GET route's: its stage, its kill
// switches, and its canary buckets, so that a user gets GET and HEAD from
// the same side.
func TestHeadFollowsGet(t *testing.T) {
	setup := func(t *testing.T, get RouteConfig) (*router.Router, *Migrator) {
		r := router.New()
		r.Get("/x", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Side", "go") })
		r.Head("/x", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Side", "go") })
		r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Side", "python") }))
		m, err := New(r, Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger(), Routes: []RouteConfig{get}})
		if err != nil {
			t.Fatal(err)
		}
		return r, m
	}
	side := func(r http.Handler, method, uid string) string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, "/x", nil)
		req.Header.Set("Cookie", "uid="+uid)
		r.ServeHTTP(rec, req)
		return rec.Header().Get("X-Side")
	}

	t.Run("stage", func(t *testing.T) {
		r, m := setup(t, RouteConfig{Route: "GET /x", Stage: StagePython})
		if got := side(r, "HEAD", "u"); got != "python" {
			t.Fatalf("HEAD of a GET in stage python served by %s", got)
		}
		if st, _ := m.Route("HEAD /x"); st.Stage != StagePython || st.Counts.Python != 1 {
			t.Fatalf("HEAD status %+v", st)
		}
		if _, err := m.SetRoute("test", RouteConfig{Route: "HEAD /x", Stage: StageGo}); err != nil {
			t.Fatal(err)
		}
		if got := side(r, "HEAD", "u"); got != "go" {
			t.Fatalf("HEAD configured go served by %s", got)
		}
	})

	t.Run("canary buckets HEAD as GET", func(t *testing.T) {
		r, _ := setup(t, RouteConfig{Route: "GET /x", Stage: StageCanary, Percent: 50, Sticky: "cookie:uid"})
		sides := map[string]int{}
		for i := range 200 {
			uid := fmt.Sprint("user-", i)
			get, head := side(r, "GET", uid), side(r, "HEAD", uid)
			if get != head {
				t.Fatalf("%s: GET served by %s, HEAD by %s", uid, get, head)
			}
			sides[get]++
		}
		if sides["go"] == 0 || sides["python"] == 0 {
			t.Fatalf("sides %v at 50%%", sides)
		}
	})

	// A HEAD with its own canary line buckets with the GET route's key
	// too: at the same percentage and sticky key a user gets GET and HEAD
	// from the same side, and at a lower one the HEAD's Go users are some
	// of the GET's.
	t.Run("a configured HEAD canary buckets as GET", func(t *testing.T) {
		for _, pct := range []float64{50, 20} {
			r, m := setup(t, RouteConfig{Route: "GET /x", Stage: StageCanary, Percent: 50, Sticky: "cookie:uid"})
			if _, err := m.SetRoute("test", RouteConfig{Route: "HEAD /x", Stage: StageCanary, Percent: pct, Sticky: "cookie:uid"}); err != nil {
				t.Fatal(err)
			}
			heads := 0
			for i := range 200 {
				uid := fmt.Sprint("user-", i)
				get, head := side(r, "GET", uid), side(r, "HEAD", uid)
				if head == "go" {
					heads++
				}
				if pct == 50 && get != head || head == "go" && get != "go" {
					t.Fatalf("HEAD at %g%%, GET at 50%%: %s: GET served by %s, HEAD by %s", pct, uid, get, head)
				}
			}
			if heads == 0 {
				t.Fatalf("HEAD at %g%%: no user on Go", pct)
			}
		}
	})

	t.Run("the global kill switch", func(t *testing.T) {
		r, m := setup(t, RouteConfig{Route: "GET /x", Stage: StageGo})
		if err := m.SetForcePython("test", "", true); err != nil {
			t.Fatal(err)
		}
		if get, head := side(r, "GET", "u"), side(r, "HEAD", "u"); get != "python" || head != "python" {
			t.Fatalf("with the global kill switch, GET served by %s, HEAD by %s", get, head)
		}
	})
}

// TestConcurrentChanges serves requests while stages and kill switches
// change; -race checks that each request reads one snapshot.
func TestConcurrentChanges(t *testing.T) {
	r, m, _ := pair(t,
		func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go") },
		func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python") },
		Options{}, RouteConfig{Route: "GET /x", Stage: StageShadow})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if b := hit(r, "X-User", "u").Body.String(); b != "go" && b != "python" {
					t.Errorf("body %q", b)
					return
				}
			}
		}()
	}
	stages := []RouteConfig{
		{Route: "GET /x", Stage: StageShadow},
		{Route: "GET /x", Stage: StageCanary, Percent: 50, Sticky: "header:X-User", ShadowSample: 0.5},
		{Route: "GET /x", Stage: StageGo, ShadowSample: 1},
		{Route: "GET /x", Stage: StagePython},
	}
	for i := 0; i < 200; i++ {
		if _, err := m.SetRoute("test", stages[i%len(stages)]); err != nil {
			t.Fatal(err)
		}
		m.SetForcePython("test", "", i%3 == 0)
		m.Routes()
	}
	close(done)
	wg.Wait()
	if err := m.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// An admin answer carries "warning" exactly when its change was made in
// memory but not written to the stages file: every kind of POST, saved
// and not saved.
func TestWriteBackFailure(t *testing.T) {
	posts := []struct {
		name, path, body string
		python           bool // whether the change sends GET /x to Python
	}{
		{"route kill switch", "/force-python", `{"route": "GET /x", "on": true}`, true},
		{"global kill switch", "/force-python", `{"all": true, "on": true}`, true},
		{"stage", "/routes", `{"route": "GET /x", "stage": "python"}`, true},
	}
	for _, saved := range []bool{true, false} {
		for _, p := range posts {
			t.Run(fmt.Sprintf("%s saved=%v", p.name, saved), func(t *testing.T) {
				dir := t.TempDir() + "/cfg"
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "stages.json")
				os.WriteFile(path, []byte(`{"routes": [{"route": "GET /x", "stage": "go"}]}`), 0o644)
				r := router.New()
				r.Get("/x", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go") })
				r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python") }))
				m, err := New(r, Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger(), StagesFile: path, PollInterval: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Shutdown(t.Context())
				if !saved {
					os.RemoveAll(dir) // the file cannot be written any more
				}
				admin := httptest.NewServer(m.Handler(AdminOptions{}))
				defer admin.Close()
				res, err := http.Post(admin.URL+p.path, "application/json", strings.NewReader(p.body))
				if err != nil {
					t.Fatal(err)
				}
				var out map[string]any
				json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				warning, hasWarning := out["warning"]
				if res.StatusCode != 200 || hasWarning == saved || !saved && !strings.Contains(fmt.Sprint(warning), "not saved") {
					t.Fatalf("POST %s %s: %d %v; want 200 and a \"warning\" only when the file was not written", p.path, p.body, res.StatusCode, out)
				}
				if got := hit(r).Body.String(); (got == "python") != p.python {
					t.Fatalf("the change did not apply: %q", got)
				}
			})
		}
	}
}

// TestRoutesJSON checks the keys of GET /routes that the issue names.
func TestRoutesJSON(t *testing.T) {
	_, m, _ := pair(t,
		func(w http.ResponseWriter, r *http.Request) {},
		func(w http.ResponseWriter, r *http.Request) {},
		Options{}, RouteConfig{Route: "GET /x", Stage: StageCanary, Percent: 2.5})
	rec := httptest.NewRecorder()
	m.Handler(AdminOptions{}).ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/routes", nil))
	var list []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 1 {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	obj := list[0]
	for _, k := range []string{"route", "stage", "percent", "force_python", "counts", "mismatch_pointers", "noise_pointers", "latency_ms", "rollback", "recent_mismatches"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("missing %q", k)
		}
	}
	counts := obj["counts"].(map[string]any)
	for _, k := range []string{"python", "go", "compared", "matched", "mismatched", "noise", "candidate_errors", "dropped"} {
		if _, ok := counts[k]; !ok {
			t.Errorf("missing counts.%s", k)
		}
	}
	lat := obj["latency_ms"].(map[string]any)
	for _, side := range []string{"python", "go"} {
		p := lat[side].(map[string]any)
		if _, ok := p["p50"]; !ok {
			t.Errorf("missing latency_ms.%s.p50", side)
		}
		if _, ok := p["p99"]; !ok {
			t.Errorf("missing latency_ms.%s.p99", side)
		}
	}
	if obj["route"] != "GET /x" || obj["stage"] != "canary" || obj["percent"] != 2.5 || obj["rollback"] != nil {
		t.Errorf("%v", obj)
	}
	if rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
	}
}

func TestRoutesFilter(t *testing.T) {
	_, m, _ := pair(t, func(http.ResponseWriter, *http.Request) {}, func(http.ResponseWriter, *http.Request) {}, Options{}, RouteConfig{})
	h := m.Handler(AdminOptions{})
	for _, tc := range []struct {
		query string
		code  int
	}{
		{"?route=GET+/x", 200},
		{"?route=get%20/x", 200},
		{"?route=GET+/nope", 400},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/routes"+tc.query, nil))
		if rec.Code != tc.code {
			t.Fatalf("%s: %d %s", tc.query, rec.Code, rec.Body)
		}
		if tc.code == 200 && !strings.Contains(rec.Body.String(), `"route": "GET /x"`) {
			t.Fatalf("%s: %s", tc.query, rec.Body)
		}
	}
}

// TestMiddlewareHeader checks that a response header set by a middleware
// before the route's handler runs reaches both sides' responses alike:
// it is neither a difference between identical sides (which, in a canary
// comparing, rolled the route back) nor learned as noise that then hid a
// real difference in the same header.
func TestMiddlewareHeader(t *testing.T) {
	for _, c := range []struct {
		name     string
		cfg      RouteConfig
		goCache  string // the Go handler's Cache-Control, if it sets one
		mismatch bool
	}{
		{"shadow, same", RouteConfig{Route: "GET /x", Stage: StageShadow}, "", false},
		{"shadow, Go differs", RouteConfig{Route: "GET /x", Stage: StageShadow}, "public, max-age=86400", true},
		{"canary comparing, same", RouteConfig{Route: "GET /x", Stage: StageCanary, Percent: 100, ShadowSample: 1}, "", false},
		{"canary comparing, Go differs", RouteConfig{Route: "GET /x", Stage: StageCanary, Percent: 100, ShadowSample: 1}, "public, max-age=86400", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			py := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, `{"n": 1}`) })
			e := newEnv(t, py, Options{Routes: []RouteConfig{c.cfg}}, func(r *router.Router) {
				r.Use(func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Cache-Control", "private")
						next.ServeHTTP(w, r)
					})
				})
				r.Get("/x", func(w http.ResponseWriter, r *http.Request) {
					if c.goCache != "" {
						w.Header().Set("Cache-Control", c.goCache)
					}
					writeJSONBody(w, `{"n": 1}`)
				})
			})
			for range 60 {
				e.get(t, "/x")
				e.settle()
			}
			st := e.status(t, "GET /x")
			if got := st.Counts.Mismatched > 0; got != c.mismatch {
				t.Errorf("mismatched %d of %d (noise %v), want a mismatch: %v", st.Counts.Mismatched, st.Counts.Compared, st.NoisePointers, c.mismatch)
			}
			if st.Rollback != nil && !c.mismatch {
				t.Errorf("identical sides rolled back: %s", st.Rollback.Reason)
			}
		})
	}
}

// TestNormalizePanic checks that a panic in Options.Normalize, which runs
// on a background goroutine, does not take the process down: the
// comparison is skipped, counted and logged, and requests go on.
func TestNormalizePanic(t *testing.T) {
	r, m, e := pair(t,
		func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go") },
		func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python") },
		Options{NoiseSample: -1, Normalize: func(route string, side Side, resp *Response) {
			_ = resp.Body[100] // a bug in the hook: index out of range
		}}, RouteConfig{Route: "GET /x", Stage: StageShadow})
	for range 2 {
		if got := hit(r).Body.String(); got != "python" {
			t.Fatalf("the client got %q, want Python's answer", got)
		}
		m.jobs.Wait()
	}
	st, _ := m.Route("GET /x")
	if st.Counts.Skipped != 2 || st.Counts.Compared != 0 {
		t.Errorf("counts %+v, want 2 skipped, none compared", st.Counts)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "index out of range") {
		t.Errorf("the panic is not logged at ERROR:\n%s", logs)
	}
}

// TestReenableIgnoresRequestsInFlight: requests that started before a
// person re-enabled a rolled-back route (Go answers still being written,
// reverse-shadow comparisons still running) finish after the decision;
// their failures happened before it and must not count in the fresh
// rollback window, nor roll the route back again.
func TestReenableIgnoresRequestsInFlight(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     RouteConfig
		goFails bool // Go answers 500 (else Go and Python differ)
		pyHolds bool // the held request is held in Python's shadow run (else in Go)
	}{
		{"go 5xx", RouteConfig{Route: "GET /x", Stage: StageGo}, true, false},
		{"reverse-shadow mismatch", RouteConfig{Route: "GET /x", Stage: StageGo, ShadowSample: 1}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entered, release := make(chan struct{}, 2), make(chan struct{})
			hold := func(r *http.Request) {
				if r.Header.Get("X-Hold") != "" {
					entered <- struct{}{}
					<-release
				}
			}
			r, m, _ := pair(t,
				func(w http.ResponseWriter, r *http.Request) {
					if !tc.pyHolds {
						hold(r)
					}
					if tc.goFails {
						w.WriteHeader(500)
					}
					io.WriteString(w, "go")
				},
				func(w http.ResponseWriter, r *http.Request) {
					if tc.pyHolds {
						hold(r)
					}
					io.WriteString(w, "python")
				},
				Options{NoiseSample: -1, Rollback: RollbackPolicy{MinRequests: 2}}, tc.cfg)
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(1)
				go func() { defer wg.Done(); hit(r, "X-Hold", "1") }()
			}
			<-entered
			<-entered
			for range 2 {
				hit(r)
			}
			if !tc.pyHolds {
				m.jobs.Wait()
			}
			deadline := time.Now().Add(10 * time.Second)
			for st, _ := m.Route("GET /x"); st.Rollback == nil; st, _ = m.Route("GET /x") {
				if time.Now().After(deadline) {
					t.Fatalf("not rolled back: %+v", st.Counts)
				}
				time.Sleep(time.Millisecond)
			}
			if _, err := m.SetRoute("test", tc.cfg); err != nil {
				t.Fatal(err)
			}
			close(release)
			wg.Wait()
			m.jobs.Wait()
			if st, _ := m.Route("GET /x"); st.Rollback != nil {
				t.Fatalf("re-enabled route rolled back again by requests from before the decision: %s", st.Rollback.Reason)
			}
		})
	}
}
