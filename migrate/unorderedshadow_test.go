package migrate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/router"
)

// feedRoutes are Go ports of flaskmig's /api/feed, whose answer is noisy
// three ways: a timestamp, a request id, and its items in an order of
// their own each time. /api/feed is a right port (items by id); /api/feedbad
// has a real difference, the price of item 4.
func feedRoutes(r *router.Router) {
	port := func(bad bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			items := []map[string]any{}
			for i := 1; i <= 6; i++ {
				price := 100 * i
				if bad && i == 4 {
					price = 399
				}
				items = append(items, map[string]any{"id": i, "name": fmt.Sprintf("item %d", i), "price_cents": price})
			}
			b, _ := json.Marshal(map[string]any{"generated_at": float64(time.Now().UnixNano()) / 1e9, "request_id": fmt.Sprintf("%032x", time.Now().UnixNano()), "items": items})
			writeJSONBody(w, string(b))
		}
	}
	r.Get("/api/feed", port(false))
	r.Get("/api/feedbad", port(true))
	orders := func(bad bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			out := []map[string]any{}
			for i := 6; i >= 1; i-- { // an order of Go's own
				price := 100 * i
				if bad && i == 4 {
					price = 399
				}
				lines := []map[string]any{}
				for n := 3; n >= 1; n-- {
					lines = append(lines, map[string]any{"sku": fmt.Sprintf("item %d-%d", i, n), "qty": n})
				}
				out = append(out, map[string]any{"id": i, "name": fmt.Sprintf("item %d", i), "price_cents": price,
					"seen_at": float64(time.Now().UnixNano()) / 1e9, "trace": fmt.Sprintf("%032x", time.Now().UnixNano()), "lines": lines})
			}
			b, _ := json.Marshal(map[string]any{"orders": out})
			writeJSONBody(w, string(b))
		}
	}
	r.Get("/api/orders", orders(false))
	r.Get("/api/ordersbad", orders(true))
}

// TestShadowUnorderedNoise shadows a route whose Flask view answers a
// timestamp, a request id and a list in random order: the noise model
// learns all three (the list as one in any order, not as noise at every
// index), so that a right port matches and a real difference (one price)
// is still reported, on every comparison.
func TestShadowUnorderedNoise(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	e := newEnv(t, py, Options{Routes: []RouteConfig{
		{Route: "GET /api/feed", Stage: StageShadow},
		{Route: "GET /api/feedbad", Stage: StageShadow},
	}}, feedRoutes)
	const n = 60
	for _, path := range []string{"/api/feed", "/api/feedbad"} {
		for range n {
			if code, body := e.get(t, path); code != 200 {
				t.Fatalf("GET %s: %d %s", path, code, body)
			}
			e.settle() // one at a time: the learning is in order
		}
	}

	good := e.status(t, "GET /api/feed")
	if good.Counts.Compared != n || good.Counts.Mismatched > 1 {
		t.Errorf("the right port: counts %+v, pointers %v; want %d compared, at most 1 mismatch (the first, when two shuffles agree)", good.Counts, good.MismatchPointers, n)
	}
	for _, want := range []string{"/generated_at", "/request_id"} {
		if !slices.Contains(good.NoisePointers, want) {
			t.Errorf("the right port: noise %v lacks %s", good.NoisePointers, want)
		}
	}
	if !slices.Equal(good.UnorderedPointers, []string{"/items"}) {
		t.Errorf("the right port: unordered %v, want [/items]", good.UnorderedPointers)
	}
	for _, p := range good.NoisePointers {
		if strings.HasPrefix(p, "/items/") {
			t.Errorf("the right port: %s learned as noise: a real difference there would be hidden", p)
		}
	}

	if page := consoleHTML(t, e.m); !strings.Contains(page, `in any order (elements paired): <code>/items</code>`) {
		t.Errorf("the console does not show /items as in any order:\n%s", page)
	}

	bad := e.status(t, "GET /api/feedbad")
	if bad.Counts.Compared != n || bad.Counts.Mismatched < n-1 {
		t.Errorf("the port with a wrong price: counts %+v, pointers %v, noise %v; want the difference reported on each of %d comparisons",
			bad.Counts, bad.MismatchPointers, bad.NoisePointers, n)
	}
	if bad.MismatchPointers["/items/3/price_cents"] < n-1 {
		t.Errorf("the port with a wrong price: pointers %v, want /items/3/price_cents (item 4, the lists sorted alike)", bad.MismatchPointers)
	}
}

// TestShadowUnorderedNoisyElements shadows a route whose Flask view
// answers a list in random order whose elements carry noise of their own
// (a timestamp and a uuid4 per order) and hold a list in random order
// each (the order's lines): the noise model learns /orders and
// /orders/*/lines as unordered and /orders/*/seen_at and /orders/*/trace
// as noise, never the orders' ids, names, prices or lines, so that a
// right port matches and a wrong price is reported on every comparison.
// Until 2026-12-03 the orders were learned index by index, every field
// of every order as noise, and the port with a wrong price matched.
func TestShadowUnorderedNoisyElements(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	e := newEnv(t, py, Options{Routes: []RouteConfig{
		{Route: "GET /api/orders", Stage: StageShadow},
		{Route: "GET /api/ordersbad", Stage: StageShadow},
	}}, feedRoutes)
	const n = 40
	for _, path := range []string{"/api/orders", "/api/ordersbad"} {
		for range n {
			if code, body := e.get(t, path); code != 200 {
				t.Fatalf("GET %s: %d %s", path, code, body)
			}
			e.settle() // one at a time: the learning is in order
		}
	}

	good := e.status(t, "GET /api/orders")
	if good.Counts.Compared != n || good.Counts.Mismatched > 1 {
		t.Errorf("the right port: counts %+v, pointers %v, noise %v; want %d compared, at most 1 mismatch (the first, when two shuffles agree)",
			good.Counts, good.MismatchPointers, good.NoisePointers, n)
	}
	for _, want := range []string{"/orders/*/seen_at", "/orders/*/trace"} {
		if !slices.Contains(good.NoisePointers, want) {
			t.Errorf("the right port: noise %v lacks %s", good.NoisePointers, want)
		}
	}
	if !slices.Equal(good.UnorderedPointers, []string{"/orders", "/orders/*/lines"}) {
		t.Errorf("the right port: unordered %v, want [/orders /orders/*/lines]", good.UnorderedPointers)
	}
	for _, p := range good.NoisePointers {
		if strings.HasPrefix(p, "/orders/") && p != "/orders/*/seen_at" && p != "/orders/*/trace" {
			t.Errorf("the right port: %s learned as noise: a real difference there would be hidden", p)
		}
	}

	bad := e.status(t, "GET /api/ordersbad")
	t.Logf("right port %+v; wrong price %+v, at %v", good.Counts, bad.Counts, bad.MismatchPointers)
	if bad.Counts.Compared != n || bad.Counts.Mismatched < n-1 {
		t.Errorf("the port with a wrong price: counts %+v, pointers %v, noise %v; want the difference reported on each of %d comparisons",
			bad.Counts, bad.MismatchPointers, bad.NoisePointers, n)
	}
	if bad.MismatchPointers["/orders/3/price_cents"] < n-1 {
		t.Errorf("the port with a wrong price: pointers %v, want /orders/3/price_cents (order 4, the lists paired)", bad.MismatchPointers)
	}
}
