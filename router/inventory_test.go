package router

import (
	"encoding/json"
	"net/http"
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
