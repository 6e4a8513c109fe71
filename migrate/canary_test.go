package migrate

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// sideRouter has a Go route answering "go" and a scripted fallback
// answering "python": a fast in-process pair for the bucketing tests.
func sideRouter(t testing.TB, cfg RouteConfig, o Options) (*router.Router, *Migrator) {
	t.Helper()
	r := router.New()
	r.Get("/api/side", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
	r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python\n") }))
	o.Registerer = prometheus.NewRegistry()
	o.Logger = discardLogger()
	o.Routes = []RouteConfig{cfg}
	m, err := New(r, o)
	if err != nil {
		t.Fatal(err)
	}
	return r, m
}

func sideOf(t testing.TB, h http.Handler, hdr ...string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/side", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return strings.TrimSpace(rec.Body.String())
}

func TestCanarySticky(t *testing.T) {
	r, m := sideRouter(t, RouteConfig{Route: "GET /api/side", Stage: StageCanary, Percent: 25, Sticky: "header:X-User"}, Options{})

	t.Run("a key stays on its side for 1000 requests", func(t *testing.T) {
		for k := 0; k < 10; k++ {
			key := fmt.Sprintf("user-%d", k)
			first := sideOf(t, r, "X-User", key)
			for i := 0; i < 1000; i++ {
				if got := sideOf(t, r, "X-User", key); got != first {
					t.Fatalf("%s: request %d went to %s, the first to %s", key, i, got, first)
				}
			}
		}
	})

	onGo := map[string]bool{}
	t.Run("the split is within 2 points of the target over 10,000 keys", func(t *testing.T) {
		for _, pct := range []float64{25, 1, 50, 99.5} {
			if pct != 25 {
				if _, err := m.SetRoute("test", RouteConfig{Route: "GET /api/side", Stage: StageCanary, Percent: pct, Sticky: "header:X-User"}); err != nil {
					t.Fatal(err)
				}
			}
			n := 0
			for k := 0; k < 10000; k++ {
				key := fmt.Sprintf("user-%d", k)
				if sideOf(t, r, "X-User", key) == "go" {
					n++
					if pct == 25 {
						onGo[key] = true
					}
				}
			}
			if got := float64(n) / 100; got < pct-2 || got > pct+2 {
				t.Errorf("at %g%%, %.2f%% of keys went to Go", pct, got)
			}
		}
	})

	t.Run("raising the percentage keeps earlier users on Go", func(t *testing.T) {
		for _, pct := range []float64{25.01, 30, 60, 100} {
			if _, err := m.SetRoute("test", RouteConfig{Route: "GET /api/side", Stage: StageCanary, Percent: pct, Sticky: "header:X-User"}); err != nil {
				t.Fatal(err)
			}
			for key := range onGo {
				if got := sideOf(t, r, "X-User", key); got != "go" {
					t.Fatalf("at %g%%, %s (on Go at 25%%) went to %s", pct, key, got)
				}
			}
		}
	})

	t.Run("requests without the key fall back to the address", func(t *testing.T) {
		first := sideOf(t, r)
		for i := 0; i < 100; i++ {
			if got := sideOf(t, r); got != first {
				t.Fatalf("request %d without key went to %s, the first to %s", i, got, first)
			}
		}
	})
}

func TestBucketSaltedByRoute(t *testing.T) {
	same := 0
	for k := 0; k < 1000; k++ {
		key := fmt.Sprint(k)
		if (Bucket("GET /a", key) < 1000) == (Bucket("GET /b", key) < 1000) {
			same++
		}
	}
	// With independent buckets about 82% agree at 10%; identical ones 100%.
	if same > 900 {
		t.Fatalf("%d of 1000 keys on the same side of two routes: buckets are not salted by route", same)
	}
}

func TestOverride(t *testing.T) {
	secret := []byte("tester-secret")
	r, m := sideRouter(t, RouteConfig{Route: "GET /api/side", Stage: StagePython}, Options{OverrideSecret: secret})
	future := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name, header, cookie, want string
		rejected                   int64
	}{
		{"none", "", "", "python", 0},
		{"signed header", SignOverride(secret, SideGo, future), "", "go", 0},
		{"signed cookie", "", SignOverride(secret, SideGo, future), "go", 0},
		{"unsigned", "go", "", "python", 1},
		{"bad signature", SignOverride([]byte("other"), SideGo, future), "", "python", 1},
		{"expired", SignOverride(secret, SideGo, time.Now().Add(-time.Minute)), "", "python", 1},
		{"tampered side", strings.Replace(SignOverride(secret, SidePython, future), "python", "go", 1), "", "python", 1},
		{"tampered expiry", func() string {
			v := SignOverride(secret, SideGo, time.Now().Add(-time.Minute))
			side, rest, _ := strings.Cut(v, ".")
			_, sig, _ := strings.Cut(rest, ".")
			return side + "." + fmt.Sprint(future.Unix()) + "." + sig
		}(), "", "python", 1},
		{"the header wins over the cookie", "go", SignOverride(secret, SideGo, future), "python", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := m.Route("GET /api/side")
			var hdr []string
			if tc.header != "" {
				hdr = append(hdr, DefaultOverrideHeader, tc.header)
			}
			if tc.cookie != "" {
				hdr = append(hdr, "Cookie", "a=b; "+DefaultOverrideCookie+"="+tc.cookie)
			}
			if got := sideOf(t, r, hdr...); got != tc.want {
				t.Fatalf("served by %s, want %s", got, tc.want)
			}
			after, _ := m.Route("GET /api/side")
			if d := after.Counts.OverridesRejected - before.Counts.OverridesRejected; d != tc.rejected {
				t.Fatalf("rejected +%d, want +%d", d, tc.rejected)
			}
		})
	}
	t.Run("the kill switch wins over an override", func(t *testing.T) {
		if err := m.SetForcePython("test", "", true); err != nil {
			t.Fatal(err)
		}
		defer m.SetForcePython("test", "", false)
		if got := sideOf(t, r, DefaultOverrideHeader, SignOverride(secret, SideGo, future)); got != "python" {
			t.Fatalf("served by %s", got)
		}
	})
}

// TestCanaryFlask rolls a route out against a real Flask app.
func TestCanaryFlask(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	e := newEnv(t, py, Options{Routes: []RouteConfig{{Route: "GET /api/side", Stage: StageCanary, Percent: 50, Sticky: "cookie:session"}}}, func(r *router.Router) {
		r.Get("/api/side", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
	})
	sides := map[string]int{}
	for k := 0; k < 30; k++ {
		cookie := fmt.Sprintf("session=s%d", k)
		_, first := e.get(t, "/api/side", "Cookie", cookie)
		for i := 0; i < 5; i++ {
			if _, got := e.get(t, "/api/side", "Cookie", cookie); got != first {
				t.Fatalf("%s: %q then %q", cookie, first, got)
			}
		}
		sides[first]++
	}
	if sides["go\n"] == 0 || sides["python\n"] == 0 {
		t.Fatalf("sides %v: want both at 50%%", sides)
	}
	st := e.status(t, "GET /api/side")
	if st.Counts.Go+st.Counts.Python != 180 || st.Counts.Go != int64(6*sides["go\n"]) {
		t.Fatalf("counts %+v, sides %v", st.Counts, sides)
	}
}

// TestKillSwitch flips the kill switches through the admin API. The
// global one acts on the configured routes only: a Go-only route with no
// configuration (a health check Flask does not know) stays in Go, also
// after its own switch was turned on and off again.
func TestKillSwitch(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	e := newEnv(t, py, Options{Routes: []RouteConfig{{Route: "GET /api/side", Stage: StageGo}}}, func(r *router.Router) {
		r.Get("/api/side", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
		r.Get("/api/health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	})
	served := func(path string) string {
		code, body := e.get(t, path)
		if code != http.StatusOK {
			return fmt.Sprint(code)
		}
		return body
	}
	for _, s := range []struct {
		body, side, health string
	}{
		{"", "go\n", "ok\n"},
		{`{"all": true, "on": true}`, "python\n", "ok\n"},
		{`{"all": true, "on": false}`, "go\n", "ok\n"},
		{`{"route": "GET /api/side", "on": true}`, "python\n", "ok\n"},
		{`{"route": "GET /api/side", "on": false}`, "go\n", "ok\n"},
		{`{"route": "GET /api/health", "on": true}`, "go\n", "404"}, // Flask has no /api/health
		{`{"route": "GET /api/health", "on": false}`, "go\n", "ok\n"},
		{`{"all": true, "on": true}`, "python\n", "ok\n"}, // /api/health is unconfigured again
		{`{"all": true, "on": false}`, "go\n", "ok\n"},
	} {
		t.Run(s.body, func(t *testing.T) {
			if s.body != "" {
				if code, out := e.post(t, "/force-python", s.body); code != 200 {
					t.Fatalf("POST /force-python %s: %d %v", s.body, code, out)
				}
			}
			if side, health := served("/api/side"), served("/api/health"); side != s.side || health != s.health {
				t.Fatalf("/api/side served %q, /api/health %q; want %q and %q", side, health, s.side, s.health)
			}
		})
	}
	if !strings.Contains(e.logs.String(), "graft.force_python=true user.name=admin") {
		t.Fatalf("change not logged with who:\n%s", e.logs)
	}
	if st := e.status(t, "GET /api/side"); st.Config.ForcePython || st.Stage != StageGo {
		t.Fatalf("/api/side: %+v", st.Config)
	}
}

// TestRollback makes a failing Go route roll back by itself.
func TestRollback(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	e := newEnv(t, py, Options{Routes: []RouteConfig{{Route: "GET /api/side", Stage: StageCanary, Percent: 100}}}, func(r *router.Router) {
		r.Get("/api/side", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "broken", http.StatusBadGateway)
		})
	})
	for i := 0; i < 50; i++ {
		if code, _ := e.get(t, "/api/side"); code != http.StatusBadGateway {
			t.Fatalf("request %d: status %d before the rollback", i, code)
		}
	}
	// The 50th failure crossed the threshold: the next request is Python's.
	if code, body := e.get(t, "/api/side"); code != 200 || body != "python\n" {
		t.Fatalf("after 50 failures: %d %q", code, body)
	}
	st := e.status(t, "GET /api/side")
	if st.Rollback == nil || !strings.Contains(st.Rollback.Reason, "go 5xx rate 100.0% (50 of 50 requests") || st.Effective != StagePython || st.Stage != StageCanary {
		t.Fatalf("status %+v, rollback %+v", st, st.Rollback)
	}
	if !strings.Contains(e.logs.String(), "level=ERROR msg=\"migrate: route rolled back to python\"") {
		t.Fatalf("no ERROR log:\n%s", e.logs)
	}
	if n := e.metric(t, "graft_migrate_rollbacks_total", "route", "GET /api/side"); n != 1 {
		t.Fatalf("rollbacks metric %v", n)
	}
	// It sticks until a person sets the route again.
	if err := e.m.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, body := e.get(t, "/api/side"); body != "python\n" {
		t.Fatalf("rollback did not stick: %q", body)
	}
	if code, out := e.post(t, "/routes", `{"route": "GET /api/side", "percent": 100}`); code != 200 || out["rollback"] != nil {
		t.Fatalf("re-enable: %d %v", code, out)
	}
	if code, _ := e.get(t, "/api/side"); code != http.StatusBadGateway {
		t.Fatalf("after re-enabling, status %d", code)
	}
}

// TestRollbackCleared re-enables a rolled-back route, through the API and
// through the stages file: the failures from before that decision no
// longer count, so one new failure among many good requests does not roll
// it back again.
func TestRollbackCleared(t *testing.T) {
	for _, how := range []string{"SetRoute", "stages file"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stages.json")
			writeFile(t, path, `{"routes": [{"route": "GET /x", "stage": "go"}]}`)
			var fail atomic.Bool
			fail.Store(true)
			py := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python\n") })
			e := newEnv(t, py, Options{StagesFile: path, PollInterval: time.Hour}, func(r *router.Router) {
				r.Get("/x", func(w http.ResponseWriter, r *http.Request) {
					if fail.Load() {
						http.Error(w, "boom", http.StatusInternalServerError)
						return
					}
					io.WriteString(w, "go\n")
				})
			})
			for range 60 {
				e.get(t, "/x")
			}
			if e.status(t, "GET /x").Rollback == nil {
				t.Fatal("60 failures: no rollback")
			}
			fail.Store(false)
			if how == "SetRoute" {
				if _, err := e.m.SetRoute("ops", RouteConfig{Route: "GET /x", Stage: StageGo}); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, path, `{"routes": [{"route": "GET /x", "stage": "go", "percent": 100}]}`)
				if err := e.m.Reload(); err != nil {
					t.Fatal(err)
				}
			}
			if st := e.status(t, "GET /x"); st.Rollback != nil {
				t.Fatalf("rollback not cleared: %+v", st.Rollback)
			}
			for range 200 {
				if _, body := e.get(t, "/x"); body != "go\n" {
					t.Fatalf("re-enabled route served %q", body)
				}
			}
			fail.Store(true)
			e.get(t, "/x")
			if rb := e.status(t, "GET /x").Rollback; rb != nil {
				t.Errorf("one failure in 201 requests after re-enabling rolled the route back: %s", rb.Reason)
			}
		})
	}
}

// TestRollbackWindowTooShort checks that a rollback window of a few
// nanoseconds (seconds written as a bare number) is refused by New: it
// made every request of a canary or go route panic (integer divide by
// zero) when the window was cut into slots.
func TestRollbackWindowTooShort(t *testing.T) {
	r := router.New()
	r.Get("/x", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go") })
	r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python") }))
	m, err := New(r, Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger(), Rollback: RollbackPolicy{Window: 5},
		Routes: []RouteConfig{{Route: "GET /x", Stage: StageCanary, Percent: 100}}})
	if err == nil {
		defer m.Shutdown(t.Context())
		rec := func() (rec *httptest.ResponseRecorder) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("New accepted Rollback.Window 5ns, and a request panicked: %v", p)
				}
			}()
			return hit(r)
		}()
		t.Fatalf("New accepted Rollback.Window 5ns (the request got %d)", rec.Code)
	}
	if want := "migrate: New: Rollback.Window 5ns is shorter than a second"; !strings.Contains(err.Error(), want) {
		t.Fatalf("New() = %v, want %q", err, want)
	}
}

// TestRollbackSurvivesRestart checks that an automatic rollback is
// written to the stages file, so that a restarted process (or another
// replica reading the file) starts with the route rolled back, saying so
// in its log, until a person removes the entry (or sets the route); and
// that an unrelated edit of the file keeps it.
func TestRollbackSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stages.json")
	writeFile(t, path, `{"routes": [{"route": "GET /x", "stage": "canary", "percent": 100}, {"route": "GET /y", "stage": "python"}]}`)
	start := func() *env {
		py := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python\n") })
		return newEnv(t, py, Options{StagesFile: path, PollInterval: time.Hour}, func(r *router.Router) {
			r.Get("/x", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
			r.Get("/y", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
		})
	}
	first := start()
	for range 50 {
		first.get(t, "/x")
	}
	rb := first.status(t, "GET /x").Rollback
	if rb == nil {
		t.Fatal("50 failures: no rollback")
	}
	if _, body := first.get(t, "/x"); body != "python\n" {
		t.Fatalf("after the rollback: %q", body)
	}

	// A restart: a new Migrator on the same file.
	second := start()
	if _, body := second.get(t, "/x"); body != "python\n" {
		data, _ := os.ReadFile(path)
		t.Fatalf("after a restart the rolled-back route served %q; stages file:\n%s", body, data)
	}
	st := second.status(t, "GET /x")
	if st.Rollback == nil || st.Rollback.Reason != rb.Reason || !st.Rollback.At.Equal(rb.At) || st.Effective != StagePython {
		t.Fatalf("after a restart: rollback %+v, effective %s; want %+v", st.Rollback, st.Effective, rb)
	}
	if !strings.Contains(second.logs.String(), "rolled back") || !strings.Contains(second.logs.String(), "stages file") {
		t.Errorf("the restarted process does not log the rollback it took from the file:\n%s", second.logs)
	}

	// An edit of another route keeps it.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, strings.Replace(string(data), `"python"`, `"shadow"`, 1))
	if err := second.m.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, body := second.get(t, "/x"); body != "python\n" {
		t.Fatalf("an edit of another route re-enabled the rolled-back one: %q", body)
	}

	// A person removes the entry: Go serves again.
	writeFile(t, path, `{"routes": [{"route": "GET /x", "stage": "canary", "percent": 100}, {"route": "GET /y", "stage": "shadow"}]}`)
	if err := second.m.Reload(); err != nil {
		t.Fatal(err)
	}
	if st := second.status(t, "GET /x"); st.Rollback != nil {
		t.Fatalf("the entry was removed from the file, the rollback stays: %+v", st.Rollback)
	}
	if code, _ := second.get(t, "/x"); code != http.StatusInternalServerError {
		t.Fatalf("re-enabled route: status %d, want Go's 500", code)
	}

	// Rolled back again, then re-enabled through the API: the entry goes.
	for range 50 {
		second.get(t, "/x")
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), `"rollbacks"`) {
		t.Fatalf("a second rollback is not in the file:\n%s", data)
	}
	if code, out := second.post(t, "/routes", `{"route": "GET /x", "percent": 50}`); code != 200 || out["rollback"] != nil {
		t.Fatalf("re-enable: %d %v", code, out)
	}
	if data, _ := os.ReadFile(path); strings.Contains(string(data), `"rollbacks"`) {
		t.Fatalf("re-enabled through the API, the rollback stays in the file:\n%s", data)
	}
}

// TestRollbackPythonRefused serves a canary whose Python container is shut
// down, so that it refuses Python's requests without running the app.
// Those refusals were counted in the rollback window as Python's answers:
// the default 503 as Python's 5xx, which held back the rollback Go's own
// 5xx called for, and a custom error handler's 429 as a Python request.
// They are now left out of the window, whatever the status, and counted
// as refused.
func TestRollbackPythonRefused(t *testing.T) {
	pythontest.Python(t, "flask")
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	// One user on each side of a 50% canary.
	users := map[bool]string{} // Go's side → user
	for i := 0; len(users) < 2; i++ {
		k := fmt.Sprint("user", i)
		users[Bucket("GET /api/side", k) < 50*100] = k
	}
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, err error) // nil: wsgi.DefaultErrorHandler
		status  int
	}{
		{"refused with the default 503", nil, http.StatusServiceUnavailable},
		{"refused with a custom 429", func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "not now", http.StatusTooManyRequests)
		}, http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			py, err := wsgi.New(wsgi.Config{App: "flaskmig:app", Python: pythontest.Python(t), Dir: dir, Workers: 1,
				Logger: discardLogger(), ErrorHandler: tc.handler})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := py.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, py, Options{Rollback: RollbackPolicy{MinRequests: 4},
				Routes: []RouteConfig{{Route: "GET /api/side", Stage: StageCanary, Percent: 50, Sticky: "header:X-User"}}}, func(r *router.Router) {
				r.Get("/api/side", func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, "broken", http.StatusBadGateway)
				})
			})
			const refused = 10
			for range refused {
				if code, _ := e.get(t, "/api/side", "X-User", users[false]); code != tc.status {
					t.Fatalf("python's user: status %d, want the refusal's %d", code, tc.status)
				}
			}
			for i := range 4 {
				if code, _ := e.get(t, "/api/side", "X-User", users[true]); code != http.StatusBadGateway {
					t.Fatalf("go's user, request %d: status %d before the rollback", i, code)
				}
			}
			st := e.status(t, "GET /api/side")
			if st.Rollback == nil || !strings.Contains(st.Rollback.Reason, "go 5xx rate 100.0% (4 of 4 requests") ||
				!strings.Contains(st.Rollback.Reason, "python's is 0.0% (0 of 0)") {
				t.Fatalf("rollback %+v: want one for go's 4 failures, python's refusals left out", st.Rollback)
			}
			if c := st.Counts; c.Python != refused || c.Refused != refused || c.Go != 4 {
				t.Fatalf("counts %+v: want %d python, all refused, 4 go", c, refused)
			}
			if n := e.metric(t, "graft_migrate_refused_total", "route", "GET /api/side"); n != refused {
				t.Fatalf("graft_migrate_refused_total %v, want %d", n, refused)
			}
			page := serve(e.m.Console(ConsoleOptions{}), http.MethodGet, "127.0.0.1", "/", "", "").Body.String()
			if !strings.Contains(page, fmt.Sprintf("Python %d (%d refused by its container", refused, refused)) {
				t.Fatalf("the console does not tell the refusals:\n%s", page)
			}
		})
	}
}
