package migrate

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/graft-dev/graft/router"
)

// goAuth is the route middleware of a Go port: it refuses a request
// without "Authorization: Bearer ok" with a 401 that Flask never sends,
// and records each request it sees (and whether it was a shadow run).
type goAuth struct {
	mu   sync.Mutex
	seen []bool // IsShadow of each request, in order
}

func (a *goAuth) mw(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, IsShadow(r.Context()))
		a.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer ok" {
			http.Error(w, "go auth refused", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *goAuth) take() []bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.seen
	a.seen = nil
	return out
}

// TestRouteMiddlewaresFollowTheStage checks, against a real Flask app,
// that the stage is decided before a staged route's own middlewares
// (router With, a Group's Use) run: Python's share of the route (stage
// python, the kill switches, a rollback, canary's Python users, shadow's
// answer, reverse shadow's copy) is Flask's answer as if Go had no such
// route, while Go's share (go, canary's Go users, the shadow run) passes
// through them. The server-wide Use stack applies to both.
func TestRouteMiddlewaresFollowTheStage(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	setupFile := func(t *testing.T, stagesFile string, cfg ...RouteConfig) (*env, *goAuth) {
		auth := &goAuth{}
		e := newEnv(t, py, Options{Routes: cfg, StagesFile: stagesFile, NoiseSample: -1}, func(r *router.Router) {
			r.Use(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Server", "graft") // the server-wide stack
					next.ServeHTTP(w, r)
				})
			})
			r.With(auth.mw).Get("/api/side", func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("go\n"))
			})
			r.Group(func(g *router.Router) {
				g.Use(auth.mw)
				g.Post("/api/items", func(w http.ResponseWriter, r *http.Request) {
					writeJSONBody(w, `{"ok": true, "method": "POST", "go": true}`)
				})
			})
		})
		return e, auth
	}
	setup := func(t *testing.T, cfg ...RouteConfig) (*env, *goAuth) { return setupFile(t, "", cfg...) }
	// fetch sends method path, with optional header pairs, and checks the
	// answer and that the server-wide middleware ran.
	fetch := func(t *testing.T, e *env, method, path, wantBody string, wantCode int, hdr ...string) {
		t.Helper()
		code, header, b := e.exchange(t, method, path, "", hdr...)
		if code != wantCode || b != wantBody {
			t.Errorf("%s %s: %d %q, want %d %q", method, path, code, b, wantCode, wantBody)
		}
		if header.Get("X-Server") != "graft" {
			t.Errorf("%s %s: the server-wide middleware did not run", method, path)
		}
	}
	const pySide, goRefused = "python\n", "go auth refused\n"
	pyItems := `{"method":"POST","ok":true}` + "\n"

	t.Run("python", func(t *testing.T) {
		e, auth := setup(t, RouteConfig{Route: "GET /api/side", Stage: StagePython}, RouteConfig{Route: "POST /api/items", Stage: StagePython})
		fetch(t, e, "GET", "/api/side", pySide, 200)
		fetch(t, e, "HEAD", "/api/side", "", 200)
		fetch(t, e, "POST", "/api/items", pyItems, 200)
		if seen := auth.take(); len(seen) != 0 {
			t.Fatalf("the route middleware ran %d times for Python's answers", len(seen))
		}
	})

	t.Run("go", func(t *testing.T) {
		e, auth := setup(t, RouteConfig{Route: "GET /api/side", Stage: StageGo}, RouteConfig{Route: "POST /api/items", Stage: StageGo})
		fetch(t, e, "GET", "/api/side", goRefused, 401)
		fetch(t, e, "GET", "/api/side", "go\n", 200, "Authorization", "Bearer ok")
		fetch(t, e, "POST", "/api/items", goRefused, 401)
		if seen := auth.take(); len(seen) != 3 {
			t.Fatalf("the route middleware ran %d times for Go's 3 answers", len(seen))
		}
	})

	t.Run("go, reverse shadow", func(t *testing.T) {
		e, auth := setup(t, RouteConfig{Route: "GET /api/side", Stage: StageGo, ShadowSample: 1})
		fetch(t, e, "GET", "/api/side", goRefused, 401)
		e.settle()
		if seen := auth.take(); len(seen) != 1 || seen[0] {
			t.Fatalf("route middleware runs (IsShadow of each): %v, want one, Go's answer (not Python's copy)", seen)
		}
		if st := e.status(t, "GET /api/side"); st.Counts.Mismatched != 1 || st.MismatchPointers["status"] != 1 {
			t.Fatalf("counts %+v, pointers %v: want one mismatch, at the status among others", st.Counts, st.MismatchPointers)
		}
	})

	for _, kill := range []string{"global", "route"} {
		t.Run("go, "+kill+" kill switch", func(t *testing.T) {
			e, auth := setup(t, RouteConfig{Route: "GET /api/side", Stage: StageGo}, RouteConfig{Route: "POST /api/items", Stage: StageGo})
			for _, route := range []string{"GET /api/side", "POST /api/items"} {
				if kill == "global" {
					route = ""
				}
				if err := e.m.SetForcePython("test", route, true); err != nil {
					t.Fatal(err)
				}
			}
			fetch(t, e, "GET", "/api/side", pySide, 200)
			fetch(t, e, "HEAD", "/api/side", "", 200)
			fetch(t, e, "POST", "/api/items", pyItems, 200)
			if seen := auth.take(); len(seen) != 0 {
				t.Fatalf("with the kill switch, the route middleware ran %d times", len(seen))
			}
			if err := e.m.SetForcePython("test", "", false); err != nil {
				t.Fatal(err)
			}
			for _, route := range []string{"GET /api/side", "POST /api/items"} {
				if err := e.m.SetForcePython("test", route, false); err != nil {
					t.Fatal(err)
				}
			}
			fetch(t, e, "GET", "/api/side", goRefused, 401)
			if seen := auth.take(); len(seen) != 1 {
				t.Fatalf("switch off: the route middleware ran %d times", len(seen))
			}
		})
	}

	t.Run("go, rolled back", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "stages.json")
		stages := `{"routes": [{"route": "GET /api/side", "stage": "go"}],
			"rollbacks": {"GET /api/side": {"reason": "go 5xx", "at": "2026-12-01T02:40:00Z"}}}`
		if err := os.WriteFile(path, []byte(stages), 0o600); err != nil {
			t.Fatal(err)
		}
		e, auth := setupFile(t, path)
		if st := e.status(t, "GET /api/side"); st.Rollback == nil {
			t.Fatalf("not rolled back: %+v", st)
		}
		fetch(t, e, "GET", "/api/side", pySide, 200)
		if seen := auth.take(); len(seen) != 0 {
			t.Fatalf("rolled back, the route middleware ran %d times", len(seen))
		}
	})

	t.Run("shadow", func(t *testing.T) {
		e, auth := setup(t, RouteConfig{Route: "GET /api/side", Stage: StageShadow})
		fetch(t, e, "GET", "/api/side", pySide, 200)
		e.settle()
		if seen := auth.take(); len(seen) != 1 || !seen[0] {
			t.Fatalf("route middleware runs (IsShadow of each): %v, want one, in the shadow run", seen)
		}
		// The comparison sees what Go's share answers, middleware included.
		if st := e.status(t, "GET /api/side"); st.Counts.Mismatched != 1 || st.MismatchPointers["status"] != 1 {
			t.Fatalf("counts %+v, pointers %v: want one mismatch, at the status among others", st.Counts, st.MismatchPointers)
		}
	})

	t.Run("canary", func(t *testing.T) {
		e, auth := setup(t, RouteConfig{Route: "GET /api/side", Stage: StageCanary, Percent: 50, Sticky: "header:X-User"})
		sides := map[string]int{}
		for i := range 40 {
			user := fmt.Sprint("user-", i)
			before := e.status(t, "GET /api/side").Counts.Go
			code, body := e.get(t, "/api/side", "X-User", user)
			onGo := e.status(t, "GET /api/side").Counts.Go > before
			seen := auth.take()
			switch {
			case onGo && (code != 401 || body != goRefused || len(seen) != 1):
				t.Fatalf("%s on Go: %d %q, middleware ran %d times", user, code, body, len(seen))
			case !onGo && (code != 200 || body != pySide || len(seen) != 0):
				t.Fatalf("%s on Python: %d %q, middleware ran %d times", user, code, body, len(seen))
			}
			sides[fmt.Sprint(onGo)]++
		}
		if sides["true"] == 0 || sides["false"] == 0 {
			t.Fatalf("sides %v at 50%%", sides)
		}
	})
}
