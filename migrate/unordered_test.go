package migrate

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func jsonResponse(body string) *Response {
	return &Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body), Size: int64(len(body))}
}

// TestLearnUnordered checks what Python against itself teaches about
// arrays (compareLearning) and how an array learned as unordered is then
// compared against Go.
func TestLearnUnordered(t *testing.T) {
	learning := []struct {
		name, a, b   string
		wantPermuted []string
		wantDiffs    []string
	}{
		{"same order", `{"l":[1,2,3]}`, `{"l":[1,2,3]}`, nil, nil},
		{"another order", `{"l":[1,2,3]}`, `{"l":[3,1,2]}`, []string{"/l"}, nil},
		{"objects in another order, a timestamp beside", `{"t":1,"l":[{"id":1},{"id":2}]}`, `{"t":2,"l":[{"id":2},{"id":1}]}`, []string{"/l"}, []string{"/t"}},
		{"nested, the inner ones in order", `{"l":[{"id":1,"tags":["a","b"]},{"id":2,"tags":[]}]}`, `{"l":[{"id":2,"tags":[]},{"id":1,"tags":["a","b"]}]}`, []string{"/l"}, nil},
		// The outer elements differ only by their inner arrays' order: both
		// are learned, the inner ones for every element of the outer
		// (until 2026-12-03 neither was, and the differences were noise
		// index by index: /l/0/0, /l/0/1, /l/1/0, /l/1/1).
		{"nested, both in another order", `{"l":[[1,2],[3,4]]}`, `{"l":[[3,4],[2,1]]}`, []string{"/l", "/l/*"}, nil},
		{"nested objects, both in another order", `{"o":[{"id":1,"lines":[{"sku":"a"},{"sku":"b"}]},{"id":2,"lines":[{"sku":"c"},{"sku":"d"}]}]}`,
			`{"o":[{"id":2,"lines":[{"sku":"d"},{"sku":"c"}]},{"id":1,"lines":[{"sku":"b"},{"sku":"a"}]}]}`, []string{"/o", "/o/*/lines"}, nil},
		// Elements with noise of their own (a timestamp and a request id
		// per element) in another order: paired by what they hold alike
		// (the id and the price), the noise is learned once for every
		// element (until 2026-12-03 every field of every element was:
		// /l/0/id, /l/0/price, /l/0/rid, /l/0/ts, ...).
		{"noisy elements in another order", `{"l":[{"id":1,"price":5,"ts":10,"rid":"a"},{"id":2,"price":6,"ts":11,"rid":"b"},{"id":3,"price":7,"ts":12,"rid":"c"}]}`,
			`{"l":[{"id":3,"price":7,"ts":20,"rid":"x"},{"id":1,"price":5,"ts":21,"rid":"y"},{"id":2,"price":6,"ts":22,"rid":"z"}]}`, []string{"/l"},
			[]string{"/l/*/rid", "/l/*/ts", "/l/*/rid", "/l/*/ts", "/l/*/rid", "/l/*/ts"}},
		// The same, in the same order: index by index, as before.
		{"noisy elements in order", `{"l":[{"id":1,"ts":10},{"id":2,"ts":11}]}`, `{"l":[{"id":1,"ts":20},{"id":2,"ts":21}]}`, nil, []string{"/l/0/ts", "/l/1/ts"}},
		// Values swapped between keys: no pairing holds, nothing is learned
		// as unordered.
		{"no pairing", `{"l":[{"a":1,"b":1},{"a":2,"b":2}]}`, `{"l":[{"a":2,"b":1},{"a":1,"b":2}]}`, nil, []string{"/l/0/a", "/l/1/a"}},
		{"other elements", `{"l":[1,2,3]}`, `{"l":[4,1,2]}`, nil, []string{"/l/0", "/l/1", "/l/2"}},
		{"another length", `{"l":[1,2]}`, `{"l":[2,1,3]}`, nil, []string{"/l/0", "/l/1", "/l/2"}},
		{"the same element twice", `{"l":[1,1,2]}`, `{"l":[1,2,1]}`, []string{"/l"}, nil},
		{"a top-level array", `[1,2]`, `[2,1]`, []string{""}, nil},
	}
	for _, tc := range learning {
		t.Run("learn/"+tc.name, func(t *testing.T) {
			noise, permuted := compareLearning(jsonResponse(tc.a), jsonResponse(tc.b), CompareOptions{})
			if !slices.Equal(permuted, tc.wantPermuted) {
				t.Errorf("permuted %q, want %q", permuted, tc.wantPermuted)
			}
			if got := noise; !slices.Equal(got, tc.wantDiffs) {
				t.Errorf("differences %q, want %q", got, tc.wantDiffs)
			}
		})
	}

	unordered := func(p string) bool { return p == "/l" }
	comparing := []struct {
		name, py, gr  string
		wantDiffs     []string
		wantReordered bool
	}{
		{"the same elements in another order", `{"l":[{"id":2},{"id":1}]}`, `{"l":[{"id":1},{"id":2}]}`, nil, true},
		{"in the same order", `{"l":[{"id":1},{"id":2}]}`, `{"l":[{"id":1},{"id":2}]}`, nil, false},
		{"a real difference inside an element", `{"l":[{"id":2,"p":2},{"id":1,"p":1}]}`, `{"l":[{"id":1,"p":1},{"id":2,"p":3}]}`, []string{"/l/1/p"}, true},
		{"an element missing", `{"l":[3,2,1]}`, `{"l":[1,2]}`, []string{"/l/2"}, true},
		{"another array is still in order", `{"l":[1,2],"m":[1,2]}`, `{"l":[2,1],"m":[2,1]}`, []string{"/m/0", "/m/1"}, true},
		{"numbers by value", `{"l":[1.0,2]}`, `{"l":[2,1]}`, nil, true},
	}
	for _, tc := range comparing {
		t.Run("compare/"+tc.name, func(t *testing.T) {
			c := compare(jsonResponse(tc.py), jsonResponse(tc.gr), CompareOptions{unordered: unordered})
			if got := pointersOf(c.diffs); !slices.Equal(got, tc.wantDiffs) {
				t.Errorf("differences %q (%v), want %q", got, c.diffs, tc.wantDiffs)
			}
			if c.reordered != tc.wantReordered {
				t.Errorf("reordered %v, want %v", c.reordered, tc.wantReordered)
			}
		})
	}
}

// TestUnorderedNoisyNested: arrays in any order whose elements carry
// noise of their own, or hold arrays in any order themselves, compared
// against Go once learned (the unordered patterns and the noise as
// TestLearnUnordered's learning gives them): elements are paired by what
// is not noise, so that a right port matches and a real difference in a
// field that is not noise is still counted, at the element's pointer.
// Until 2026-12-03 such elements were sorted by their whole JSON, noise
// included, and paired wrongly: a port matched only by luck, and the
// learning had made every field noise anyway.
func TestUnorderedNoisyNested(t *testing.T) {
	unordered := map[string]bool{"/l": true, "/o": true, "/o/*/lines": true}
	noise := map[string]bool{"/l/*/ts": true, "/l/*/rid": true, "/o/*/lines/*/at": true}
	py := `{"l":[{"id":1,"price":5,"ts":10,"rid":"a"},{"id":2,"price":6,"ts":11,"rid":"b"},{"id":3,"price":7,"ts":12,"rid":"c"}],` +
		`"o":[{"id":1,"lines":[{"sku":"a","at":1},{"sku":"b","at":2}]},{"id":2,"lines":[{"sku":"c","at":3},{"sku":"d","at":4}]}]}`
	for _, tc := range []struct {
		name, gr  string
		wantDiffs []string
		wantPats  []string
	}{
		{"a right port, its own order and noise",
			`{"l":[{"id":3,"price":7,"ts":1,"rid":"z"},{"id":1,"price":5,"ts":9,"rid":"y"},{"id":2,"price":6,"ts":0,"rid":"x"}],` +
				`"o":[{"id":2,"lines":[{"sku":"d","at":0},{"sku":"c","at":0}]},{"id":1,"lines":[{"sku":"b","at":0},{"sku":"a","at":0}]}]}`,
			nil, nil},
		{"a wrong price in a noisy element",
			`{"l":[{"id":3,"price":7,"ts":1,"rid":"z"},{"id":1,"price":5,"ts":9,"rid":"y"},{"id":2,"price":9,"ts":0,"rid":"x"}],` +
				`"o":[{"id":2,"lines":[{"sku":"d","at":0},{"sku":"c","at":0}]},{"id":1,"lines":[{"sku":"b","at":0},{"sku":"a","at":0}]}]}`,
			[]string{"/l/1/price"}, []string{"/l/*/price"}},
		{"a wrong id: the elements left are paired by what they hold alike",
			`{"l":[{"id":3,"price":7,"ts":1,"rid":"z"},{"id":1,"price":5,"ts":9,"rid":"y"},{"id":4,"price":6,"ts":0,"rid":"x"}],` +
				`"o":[{"id":2,"lines":[{"sku":"d","at":0},{"sku":"c","at":0}]},{"id":1,"lines":[{"sku":"b","at":0},{"sku":"a","at":0}]}]}`,
			[]string{"/l/1/id"}, []string{"/l/*/id"}},
		{"a wrong sku in a nested list",
			`{"l":[{"id":3,"price":7,"ts":1,"rid":"z"},{"id":1,"price":5,"ts":9,"rid":"y"},{"id":2,"price":6,"ts":0,"rid":"x"}],` +
				`"o":[{"id":2,"lines":[{"sku":"d","at":0},{"sku":"e","at":0}]},{"id":1,"lines":[{"sku":"b","at":0},{"sku":"a","at":0}]}]}`,
			[]string{"/o/1/lines/0/sku"}, []string{"/o/*/lines/*/sku"}},
		{"only noise differs (/l/*/ts, /l/*/rid), the rest alike",
			`{"l":[{"id":3,"price":7,"ts":1,"rid":"z"},{"id":1,"price":5,"ts":9,"rid":"y"},{"id":2,"price":6,"ts":8,"rid":"x"}],` +
				`"o":[{"id":2,"lines":[{"sku":"d","at":0},{"sku":"c","at":0}]},{"id":1,"lines":[{"sku":"b","at":0},{"sku":"a","at":0}]}]}`,
			nil, nil},
		{"a nested line missing",
			`{"l":[{"id":3,"price":7,"ts":1,"rid":"z"},{"id":1,"price":5,"ts":9,"rid":"y"},{"id":2,"price":6,"ts":0,"rid":"x"}],` +
				`"o":[{"id":2,"lines":[{"sku":"d","at":0}]},{"id":1,"lines":[{"sku":"b","at":0},{"sku":"a","at":0}]}]}`,
			[]string{"/o/1/lines/0"}, []string{"/o/*/lines/*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := compare(jsonResponse(py), jsonResponse(tc.gr), CompareOptions{
				unordered: func(p string) bool { return unordered[p] },
				noise:     func(p string) bool { return noise[p] }})
			var gotDiffs, gotPats []string
			for i, d := range c.diffs {
				if !noise[c.patterns[i]] {
					gotDiffs, gotPats = append(gotDiffs, d.Pointer), append(gotPats, c.patterns[i])
				}
			}
			if !slices.Equal(gotDiffs, tc.wantDiffs) || !slices.Equal(gotPats, tc.wantPats) {
				t.Errorf("differences not noise %q at %q (all: %v), want %q at %q", gotDiffs, gotPats, c.diffs, tc.wantDiffs, tc.wantPats)
			}
		})
	}
}

func pointersOf(diffs []Diff) []string {
	var out []string
	for _, d := range diffs {
		out = append(out, d.Pointer)
	}
	return out
}

func ExampleCompare_unordered() {
	// Compare on its own compares arrays index by index; the shadow stage
	// learns the arrays Python answers in an order of its own.
	diffs := Compare(jsonResponse(`{"l":[1,2]}`), jsonResponse(`{"l":[2,1]}`), CompareOptions{})
	fmt.Println(len(diffs))
	// Output: 2
}

// FuzzUnordered checks the learning of arrays in any order on any pair
// of JSON bodies: a body learns nothing from itself; what learning finds
// (the unordered arrays' patterns and the noise), learned again with what
// it found until it finds nothing new (a few rounds, as the shadow stage's
// sampled second calls do), explains every difference between the two
// bodies; an array learned as unordered compares a body with itself as
// equal; and nothing panics.
func FuzzUnordered(f *testing.F) {
	for _, p := range [][2]string{
		{`{"l":[1,2,3]}`, `{"l":[3,1,2]}`},
		{`{"t":1,"l":[{"id":1},{"id":2}]}`, `{"t":2,"l":[{"id":2},{"id":1}]}`},
		{`[[1,2],[3,4]]`, `[[3,4],[1,2]]`},
		{`{"l":[1,1,2]}`, `{"l":[2,1,1]}`},
		{`{"l":[1.0,1]}`, `{"l":[1,1.0]}`},
		{`{"l":[]}`, `{"l":{}}`},
		{`{"l":[null,"a",true]}`, `{"l":[true,null,"a"]}`},
		// Elements with noise of their own, in another order.
		{`{"l":[{"id":1,"ts":1,"r":"a"},{"id":2,"ts":2,"r":"b"}]}`, `{"l":[{"id":2,"ts":3,"r":"c"},{"id":1,"ts":4,"r":"d"}]}`},
		{`{"l":[{"id":1,"ts":1},{"id":1,"ts":2},{"id":2,"ts":3}]}`, `{"l":[{"id":2,"ts":4},{"id":1,"ts":5},{"id":1,"ts":6}]}`},
		// Shuffled lists inside a shuffled list, with noise at both levels.
		{`[[1,2],[3,4]]`, `[[3,4],[2,1]]`},
		{`{"o":[{"id":1,"at":1,"l":[{"s":"a","t":1},{"s":"b","t":2}]},{"id":2,"at":2,"l":[{"s":"c","t":3}]}]}`,
			`{"o":[{"id":2,"at":5,"l":[{"s":"c","t":9}]},{"id":1,"at":6,"l":[{"s":"b","t":7},{"s":"a","t":8}]}]}`},
		{`[[1,2,3],[4,5],[6]]`, `[[6],[5,4],[2,3,1]]`},
		{`[{"a":1,"b":1},{"a":2,"b":2}]`, `[{"a":2,"b":1},{"a":1,"b":2}]`},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ra, rb := jsonResponse(a), jsonResponse(b)
		if d, perm := compareLearning(ra, ra, CompareOptions{}); len(d) != 0 || len(perm) != 0 {
			t.Fatalf("a body learns from itself: %v %v", d, perm)
		}
		unordered, noise := map[string]bool{}, map[string]bool{}
		o := CompareOptions{MaxDiffs: 1 << 20, unordered: func(p string) bool { return unordered[p] }, noise: func(p string) bool { return noise[p] }}
		for round := 0; ; round++ {
			learned, perm := compareLearning(ra, rb, o)
			news := 0
			for _, p := range perm {
				if !unordered[p] {
					unordered[p] = true
					news++
				}
			}
			for _, p := range learned {
				if !noise[p] {
					noise[p] = true
					news++
				}
			}
			if news == 0 {
				break
			}
			if round == 10 {
				t.Fatalf("still learning after %d rounds: unordered %v, noise %v", round, unordered, noise)
			}
		}
		again := compare(ra, rb, o)
		for i, d := range again.diffs {
			if !noise[again.patterns[i]] {
				t.Fatalf("learned unordered %v, noise %v: a difference at %s (%s) is left: %v", unordered, noise, d.Pointer, again.patterns[i], d)
			}
		}
		if d := compare(ra, ra, CompareOptions{unordered: func(string) bool { return true }}).diffs; len(d) != 0 {
			t.Fatalf("every array unordered: a body differs from itself: %v", d)
		}
	})
}

// TestUnexplainedPatterns: the differences under an array learned as
// unordered are explained by noise learned at their pattern
// ("/l/*/ts") and by ignore entries written either way ("/l/*/rid", or
// "/l" for the whole array), never by noise at another field.
func TestUnexplainedPatterns(t *testing.T) {
	met, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		ignore []string
		want   []string
	}{
		{"noise only", nil, []string{"/l/0/price", "/l/0/rid"}},
		{"a pattern ignored", []string{"/l/*/rid"}, []string{"/l/0/price"}},
		{"the array ignored", []string{"/l"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newRouteStats("GET /l", 10, met, nil)
			st.learn([]string{"/l/*/ts"}, []string{"/l"})
			rs := &routeState{cfg: RouteConfig{Ignore: tc.ignore}, stats: st}
			c := compare(jsonResponse(`{"l":[{"id":1,"price":5,"ts":1,"rid":"a"},{"id":2,"price":6,"ts":2,"rid":"b"}]}`),
				jsonResponse(`{"l":[{"id":2,"price":6,"ts":3,"rid":"b"},{"id":1,"price":9,"ts":4,"rid":"c"}]}`),
				CompareOptions{unordered: st.isUnordered, noise: func(p string) bool { return ignored(tc.ignore, p) || st.isNoise(p) }})
			kept, noisy := (&Migrator{}).unexplained(rs, c)
			if got := pointersOf(kept); !slices.Equal(got, tc.want) || !noisy {
				t.Errorf("kept %q (noisy %v) of %v, want %q, noisy", got, noisy, c.diffs, tc.want)
			}
		})
	}
}
