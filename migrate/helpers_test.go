package migrate

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// appRoutes asks c's app for its route map, failing the test if it cannot
// within 30 s.
func appRoutes(t testing.TB, c *wsgi.Container) *wsgi.AppRouteMap {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	py, err := c.AppRoutes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return py
}

// startPython starts the container for app ("flaskmig:app",
// "djangomig.wsgi:application") from testdata/; a Django app's settings
// are its package's ("djangostatic.wsgi:application" has
// djangostatic.settings); an app whose module starts with bottle, falcon
// or pyramid needs that framework ("falconmig:app").
func startPython(t testing.TB, app string, env ...string) *wsgi.Container {
	t.Helper()
	mod := "flask"
	for _, fw := range []string{"bottle", "falcon", "pyramid"} {
		if strings.HasPrefix(app, fw) {
			mod = fw
		}
	}
	if strings.HasPrefix(app, "django") {
		mod = "django"
		pkg, _, _ := strings.Cut(app, ".")
		env = append(env, "DJANGO_SETTINGS_MODULE="+pkg+".settings")
	}
	pythontest.Python(t, mod)
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	c, err := wsgi.New(wsgi.Config{
		App: app, Python: pythontest.Python(t), Dir: dir, Workers: 2, Env: env,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("wsgi.New(%s): %v", app, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Shutdown(ctx)
	})
	return c
}

// env is a router with a Migrator, served.
type env struct {
	r     *router.Router
	m     *Migrator
	srv   *httptest.Server
	admin *httptest.Server
	logs  *pythontest.Buffer
	reg   *prometheus.Registry
}

// newEnv registers routes (with fb as the fallback, unless nil), makes a
// Migrator with o and serves both the app and the admin API.
func newEnv(t testing.TB, fb http.Handler, o Options, routes func(r *router.Router)) *env {
	t.Helper()
	r := router.New()
	routes(r)
	if fb != nil {
		r.Fallback(fb)
	}
	e := &env{r: r, logs: &pythontest.Buffer{}, reg: prometheus.NewRegistry()}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	}
	o.Registerer = e.reg
	m, err := New(r, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.m = m
	e.srv = httptest.NewServer(r)
	e.admin = httptest.NewServer(m.Handler(AdminOptions{}))
	t.Cleanup(func() {
		e.srv.Close()
		e.admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return e
}

// get fetches path, with optional header pairs, and returns status and body.
func (e *env) get(t testing.TB, path string, hdr ...string) (int, string) {
	t.Helper()
	return e.do(t, http.MethodGet, path, "", hdr...)
}

func (e *env) do(t testing.TB, method, path, body string, hdr ...string) (int, string) {
	t.Helper()
	code, _, b := e.exchange(t, method, path, body, hdr...)
	return code, b
}

// exchange sends method path with body and optional header pairs, and
// returns the response's status, header and body.
func (e *env) exchange(t testing.TB, method, path, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, string(b)
}

// settle waits for the comparisons in flight.
func (e *env) settle() { e.m.jobs.Wait() }

// status returns the route's status through GET /routes of the admin API.
func (e *env) status(t testing.TB, route string) RouteStatus {
	t.Helper()
	res, err := http.Get(e.admin.URL + "/routes")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list []RouteStatus
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, st := range list {
		if st.Route == route {
			return st
		}
	}
	t.Fatalf("route %q not in GET /routes", route)
	return RouteStatus{}
}

// post sends a JSON body to the admin API.
func (e *env) post(t testing.TB, path, body string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(e.admin.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, out
}

// eventually polls cond until it holds or 10s pass (a deadline for
// background work, not a timing assertion).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeJSONHandler answers v as JSON.
func writeJSONBody(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// metric returns the value of the counter or gauge name with the label
// pairs given, from the env's registry.
func (e *env) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func newServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// wantOne fails t unless the route's one comparison (st) matched, for
// pointer "", or mismatched at pointer alone.
func wantOne(t testing.TB, st RouteStatus, pointer string) {
	t.Helper()
	if pointer == "" {
		if st.Counts.Matched != 1 {
			t.Fatalf("counts %+v, pointers %v, diffs %v: want a match", st.Counts, st.MismatchPointers, st.RecentMismatches)
		}
		return
	}
	if st.Counts.Mismatched != 1 || st.MismatchPointers[pointer] != 1 || len(st.MismatchPointers) != 1 {
		t.Fatalf("counts %+v, pointers %v: want one mismatch at %s", st.Counts, st.MismatchPointers, pointer)
	}
}
