package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// recordingStager serves with the fallback when there is one and records
// the routes it saw.
type recordingStager struct{ seen []string }

func (s *recordingStager) ServeStaged(w http.ResponseWriter, r *http.Request, rt StagedRoute) {
	s.seen = append(s.seen, rt.Key())
	if rt.Fallback != nil {
		rt.Fallback.ServeHTTP(w, r)
		return
	}
	rt.Go.ServeHTTP(w, r)
}

func text(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, s) }
}

func TestStagedRoutes(t *testing.T) {
	r := New()
	r.Get("/a", text("go a"))
	r.Handle("POST /h", text("go h"))
	r.Handle("/any", text("go any")) // every method: not staged
	r.Route("/api", func(sub *Router) {
		sub.With(func(h http.Handler) http.Handler { return h }).Get("/u/{id}", text("go u"))
	})
	m := New()
	m.Put("/x", text("go x"))
	r.Mount("/m", m)
	bare := New()
	bare.Get("/b", text("go b"))
	bare.Fallback(text("bare fallback"))
	r.Mount("/own", bare)
	r.Fallback(text("python"))

	var got []string
	fallback := map[string]bool{}
	for _, sr := range r.StagedRoutes() {
		got = append(got, sr.Key())
		fallback[sr.Key()] = sr.Fallback != nil
		if sr.Go == nil {
			t.Errorf("%s: no Go handler", sr.Key())
		}
	}
	want := []string{"GET /a", "POST /h", "GET /api/u/{id}", "PUT /m/x", "GET /own/b"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("StagedRoutes = %v, want %v", got, want)
	}
	for _, k := range want {
		if !fallback[k] {
			t.Errorf("%s: no fallback, want the inherited one", k)
		}
	}

	t.Run("no stager: Go serves", func(t *testing.T) {
		for _, p := range []string{"/a", "/api/u/1", "/own/b"} {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
			if rec.Body.String()[:2] != "go" {
				t.Errorf("%s: %q", p, rec.Body)
			}
		}
	})

	t.Run("the stager decides, with the full pattern and the right fallback", func(t *testing.T) {
		s := &recordingStager{}
		r.SetStager(s)
		defer r.SetStager(nil)
		for _, tc := range []struct{ method, path, want string }{
			{"GET", "/a", "python"},
			{"POST", "/h", "python"},
			{"GET", "/any", "go any"},
			{"GET", "/api/u/7", "python"},
			{"PUT", "/m/x", "python"},
			{"GET", "/own/b", "bare fallback"},
		} {
			rec := httptest.NewRecorder()
			d := &Dispatch{}
			req := httptest.NewRequest(tc.method, tc.path, nil)
			r.ServeHTTP(rec, req.WithContext(WithDispatch(req.Context(), d)))
			if rec.Body.String() != tc.want {
				t.Errorf("%s %s: %q, want %q", tc.method, tc.path, rec.Body, tc.want)
			}
			if d.Fallback != (tc.want != "go any") {
				t.Errorf("%s %s: Dispatch.Fallback = %v", tc.method, tc.path, d.Fallback)
			}
		}
		want := []string{"GET /a", "POST /h", "GET /api/u/{id}", "PUT /m/x", "GET /own/b"}
		if !reflect.DeepEqual(s.seen, want) {
			t.Fatalf("stager saw %v, want %v", s.seen, want)
		}
	})

	t.Run("a route no fallback covers", func(t *testing.T) {
		r := New()
		r.Get("/x", text("go"))
		if sr := r.StagedRoutes(); len(sr) != 1 || sr[0].Fallback != nil {
			t.Fatalf("%+v", sr)
		}
	})
}
