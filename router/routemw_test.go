package router

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
)

// sideStager serves every staged request with the side it is set to,
// "go" or "python", through StagedRoute.Go or StagedRoute.Fallback.
type sideStager struct{ side string }

func (s sideStager) ServeStaged(w http.ResponseWriter, r *http.Request, rt StagedRoute) {
	if s.side == "python" {
		rt.Fallback.ServeHTTP(w, r)
		return
	}
	rt.Go.ServeHTTP(w, r)
}

// mwLog records, in order, the middlewares a request passed.
type mwLog struct {
	mu  sync.Mutex
	ran []string
}

// mw returns a middleware named name that records itself; when refuse is
// set it answers 401 itself, as an authentication middleware would.
func (l *mwLog) mw(name string, refuse bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l.mu.Lock()
			l.ran = append(l.ran, name)
			l.mu.Unlock()
			w.Header().Add("X-Mw", name)
			if refuse {
				http.Error(w, "refused by "+name, http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (l *mwLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.ran
	l.ran = nil
	return out
}

// TestRouteMiddlewaresFollowTheStage checks that the stage is decided
// before a staged route's own middlewares (With, a Group's Use) run: the
// fallback's share of the route's requests skips them, as if Go had no
// such route, and Go's share runs them, in chi's order. The Use
// middlewares of the Routers (the server-wide stack, a sub-Router's) run
// for both, as they do for every request that reaches the fallback.
func TestRouteMiddlewaresFollowTheStage(t *testing.T) {
	log := &mwLog{}
	r := New()
	r.Use(log.mw("server", false))
	r.With(log.mw("auth", true)).Get("/with", text("go with"))
	r.With(log.mw("a", false)).With(log.mw("b", false)).Post("/chain", text("go chain"))
	r.Group(func(g *Router) {
		g.Use(log.mw("group", true))
		g.Get("/group/{id}", text("go group"))
		g.Get("/group/{id}/edit", text("go group edit"))
		g.Handle("PUT /group/{id}", text("go group put"))
		g.With(log.mw("inner", false)).Get("/inner", text("go inner"))
	})
	r.Route("/api", func(api *Router) {
		api.Use(log.mw("api", false))
		api.With(log.mw("apiauth", true)).Get("/x", text("go api x"))
	})
	r.With(log.mw("wrap", false)).Route("/wrapped", func(w *Router) {
		w.Get("/x", text("go wrapped x"))
	})
	r.Group(func(g *Router) {
		g.Use(log.mw("mountgroup", false))
		m := New()
		m.Get("/x", text("go mounted x"))
		g.Mount("/mounted", m)
	})
	r.Fallback(text("python"))

	for _, tc := range []struct {
		method, path string
		side         string
		body         string
		ran          []string
	}{
		{"GET", "/with", "python", "python", []string{"server"}},
		{"GET", "/with", "go", "refused by auth\n", []string{"server", "auth"}},
		{"HEAD", "/with", "python", "", []string{"server"}},
		{"HEAD", "/with", "go", "", []string{"server", "auth"}},
		{"POST", "/chain", "python", "python", []string{"server"}},
		{"POST", "/chain", "go", "go chain", []string{"server", "a", "b"}},
		{"GET", "/group/1", "python", "python", []string{"server"}},
		{"GET", "/group/1", "go", "refused by group\n", []string{"server", "group"}},
		{"PUT", "/group/1", "python", "python", []string{"server"}},
		{"GET", "/inner", "python", "python", []string{"server"}},
		{"GET", "/inner", "go", "refused by group\n", []string{"server", "group"}},
		// A sub-Router's Use middlewares run for its fallback anyway.
		{"GET", "/api/x", "python", "python", []string{"server", "api"}},
		{"GET", "/api/x", "go", "refused by apiauth\n", []string{"server", "api", "apiauth"}},
		// So do the With and Group middlewares a Route or Mount is
		// registered under: they wrap the whole sub-Router.
		{"GET", "/wrapped/x", "python", "python", []string{"server", "wrap"}},
		{"GET", "/wrapped/nope", "go", "python", []string{"server", "wrap"}},
		{"GET", "/mounted/x", "python", "python", []string{"server", "mountgroup"}},
		{"GET", "/mounted/x", "go", "go mounted x", []string{"server", "mountgroup"}},
		// Requests no route serves never met the route's middlewares.
		{"GET", "/group//edit", "go", "python", []string{"server"}},
		{"DELETE", "/with", "go", "python", []string{"server"}},
	} {
		t.Run(fmt.Sprint(tc.side, " ", tc.method, " ", tc.path), func(t *testing.T) {
			r.SetStager(sideStager{tc.side})
			defer r.SetStager(nil)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if got := rec.Body.String(); got != tc.body {
				t.Errorf("body %q, want %q", got, tc.body)
			}
			if got := log.take(); !reflect.DeepEqual(got, tc.ran) {
				t.Errorf("middlewares %v, want %v", got, tc.ran)
			}
		})
	}

	t.Run("an implied HEAD runs the route's middlewares inside", func(t *testing.T) {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("HEAD", "/with", nil))
		log.take()
		get := httptest.NewRecorder()
		r.ServeHTTP(get, httptest.NewRequest("GET", "/with", nil))
		log.take()
		if rec.Code != get.Code || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != fmt.Sprint(get.Body.Len()) {
			t.Fatalf("HEAD: %d, %d body bytes, Content-Length %q; GET: %d with %d bytes",
				rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"), get.Code, get.Body.Len())
		}
	})

	t.Run("without a Stager, Go serves behind the route's middlewares", func(t *testing.T) {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("POST", "/chain", nil))
		if got, ran := rec.Body.String(), log.take(); got != "go chain" || !reflect.DeepEqual(ran, []string{"server", "a", "b"}) {
			t.Fatalf("body %q, middlewares %v", got, ran)
		}
	})

	t.Run("StagedRoute.Go runs the route's middlewares", func(t *testing.T) {
		for _, sr := range r.StagedRoutes() {
			if sr.Key() != "GET /with" {
				continue
			}
			rec := httptest.NewRecorder()
			sr.Go.ServeHTTP(rec, httptest.NewRequest("GET", "/with", nil))
			if rec.Code != http.StatusUnauthorized || !reflect.DeepEqual(log.take(), []string{"auth"}) {
				t.Fatalf("StagedRoute.Go answered %d without the route's middleware", rec.Code)
			}
			return
		}
		t.Fatal("GET /with not staged")
	})
}

// TestRouteMiddlewaresWalk checks that chi.Walk still reports the
// middlewares of With and a Group's Use for each route, as chi does.
func TestRouteMiddlewaresWalk(t *testing.T) {
	log := &mwLog{}
	r := New()
	r.Use(log.mw("server", false))
	r.With(log.mw("auth", false)).Get("/with", text("go"))
	r.Group(func(g *Router) {
		g.Use(log.mw("group", false), log.mw("two", false))
		g.Handle("/any", text("go any"))
	})
	r.Get("/plain", text("go"))
	got := map[string]int{}
	err := chi.Walk(r, func(method, route string, _ http.Handler, mws ...func(http.Handler) http.Handler) error {
		got[method+" "+route] = len(mws)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"GET /with": 2, "HEAD /with": 2, "GET /plain": 1, "HEAD /plain": 1}
	for _, m := range stdMethods {
		want[m+" /any"] = 3
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d middlewares, want %d (walk: %v)", k, got[k], n, got)
		}
	}
}

// TestGroupUseAfterRoute checks that a Group's Use after one of its routes
// panics, as chi's does: the middleware would reach only the routes
// registered after it.
func TestGroupUseAfterRoute(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.HasPrefix(fmt.Sprint(p), "router: ") {
			t.Fatalf("panic %v, want a router: panic", p)
		}
	}()
	r := New()
	r.Group(func(g *Router) {
		g.Get("/a", text("go"))
		g.Use(func(h http.Handler) http.Handler { return h })
	})
}
