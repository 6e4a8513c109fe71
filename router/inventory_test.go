package router

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

type fakeTarget struct{ http.Handler }

func (fakeTarget) RouteTarget() Target { return TargetFallback }

func TestInventory(t *testing.T) {
	r := New()
	r.Get("/users/{id}", reply("")).Name("user")
	r.Handle("POST /users", reply(""))
	r.Get("/strict", reply("")).Allow()
	r.Route("/api", func(r *Router) {
		r.With().Put("/items/{id}", reply("")).Name("item")
	})
	sub := New()
	sub.Delete("/x", reply(""))
	r.Mount("/admin", sub)
	r.Mount("/legacy", fakeTarget{reply("")})
	r.Mount("/static/", reply(""))
	r.Fallback(reply(""))

	want := []RouteInfo{
		{Method: "GET", Pattern: "/users/{id}", Name: "user", Target: TargetGo},
		{Method: "HEAD", Pattern: "/users/{id}", Target: TargetGo, Implicit: true},
		{Method: "POST", Pattern: "/users", Target: TargetGo},
		{Method: "GET", Pattern: "/strict", Target: TargetGo, Allow: true},
		{Method: "HEAD", Pattern: "/strict", Target: TargetGo, Implicit: true},
		{Method: "PUT", Pattern: "/api/items/{id}", Name: "item", Target: TargetGo},
		{Method: "DELETE", Pattern: "/admin/x", Target: TargetGo},
		{Method: "*", Pattern: "/legacy/*", Target: TargetFallback},
		{Method: "*", Pattern: "/static/*", Target: TargetGo},
		{Method: "*", Pattern: "/*", Target: TargetFallback},
	}
	if got := r.Inventory(); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}

	h := NewHosts()
	h.Host("api.example.com").Get("/a", reply(""))
	h.Default(sub)
	want = []RouteInfo{
		{Host: "api.example.com", Method: "GET", Pattern: "/a", Target: TargetGo},
		{Host: "api.example.com", Method: "HEAD", Pattern: "/a", Target: TargetGo, Implicit: true},
		{Method: "DELETE", Pattern: "/x", Target: TargetGo},
	}
	if got := h.Inventory(); !reflect.DeepEqual(got, want) {
		t.Errorf("hosts: got\n%+v\nwant\n%+v", got, want)
	}
}

// The inventory's JSON keys are snake_case and stable, for debug endpoints
// and migration reports.
func TestInventoryJSON(t *testing.T) {
	h := NewHosts()
	api := h.Host("api.example.com")
	api.Get("/users/{id}", reply("")).Name("user").Allow()
	api.Head("/users/{id}", reply(""))
	b, err := json.Marshal(h.Inventory())
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"host":"api.example.com","method":"GET","pattern":"/users/{id}","name":"user","target":"go","allow":true,"implicit":false},` +
		`{"host":"api.example.com","method":"HEAD","pattern":"/users/{id}","name":"","target":"go","allow":false,"implicit":false}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

// chi's Mount serves a prefix without its slash with the "/" route of
// what it mounts ("/api" as well as "/api/"): the inventory lists that
// path too, as an implicit route naming the route it follows, so that a
// migration report sees every path Go serves, and the HEAD a GET there
// implies, as for every GET route (until 2026-12-02 "HEAD /api" was not
// listed). A prefix ending in "/" serves nothing more. Every listed path
// is served by Go.
func TestInventoryPrefixRoot(t *testing.T) {
	r := New()
	r.Route("/api", func(s *Router) {
		s.Get("/", reply("go"))
		s.Route("/v1", func(v *Router) { v.Post("/", reply("go")) })
	})
	r.Route("/slash/", func(s *Router) { s.Get("/", reply("go")) })
	admin := New()
	admin.Get("/", reply("go"))
	r.Mount("/admin", admin)
	r.Get("/", reply("go")) // the root's own "/": nothing more
	r.Fallback(reply("fallback"))

	want := []RouteInfo{
		{Method: "GET", Pattern: "/api/", Target: TargetGo},
		{Method: "GET", Pattern: "/api", Target: TargetGo, Implicit: true, Of: "/api/"},
		{Method: "HEAD", Pattern: "/api/", Target: TargetGo, Implicit: true},
		{Method: "HEAD", Pattern: "/api", Target: TargetGo, Implicit: true, Of: "/api/"},
		{Method: "POST", Pattern: "/api/v1/", Target: TargetGo},
		{Method: "POST", Pattern: "/api/v1", Target: TargetGo, Implicit: true, Of: "/api/v1/"},
		{Method: "GET", Pattern: "/slash/", Target: TargetGo},
		{Method: "HEAD", Pattern: "/slash/", Target: TargetGo, Implicit: true},
		{Method: "GET", Pattern: "/admin/", Target: TargetGo},
		{Method: "GET", Pattern: "/admin", Target: TargetGo, Implicit: true, Of: "/admin/"},
		{Method: "HEAD", Pattern: "/admin/", Target: TargetGo, Implicit: true},
		{Method: "HEAD", Pattern: "/admin", Target: TargetGo, Implicit: true, Of: "/admin/"},
		{Method: "GET", Pattern: "/", Target: TargetGo},
		{Method: "HEAD", Pattern: "/", Target: TargetGo, Implicit: true},
		{Method: "*", Pattern: "/*", Target: TargetFallback},
	}
	got := r.Inventory()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	for _, ri := range got {
		if ri.Target != TargetGo {
			continue
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(ri.Method, ri.Pattern, nil))
		if w.Code != 200 || ri.Method != "HEAD" && w.Body.String() != "go" {
			t.Errorf("%s %s (listed): %d %q, want Go's answer", ri.Method, ri.Pattern, w.Code, w.Body.String())
		}
	}
	// and nothing more: /slash is not served by Go
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/slash", nil))
	if w.Body.String() != "fallback" {
		t.Errorf("GET /slash: %q, want the fallback", w.Body.String())
	}
}
