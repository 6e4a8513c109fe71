package migrate

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
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
		// The outer elements differ (by their inner arrays' order): neither
		// is learned, and the differences are noise index by index.
		{"nested, both in another order", `{"l":[[1,2],[3,4]]}`, `{"l":[[3,4],[2,1]]}`, nil, []string{"/l/0/0", "/l/0/1", "/l/1/0", "/l/1/1"}},
		{"other elements", `{"l":[1,2,3]}`, `{"l":[4,1,2]}`, nil, []string{"/l/0", "/l/1", "/l/2"}},
		{"another length", `{"l":[1,2]}`, `{"l":[2,1,3]}`, nil, []string{"/l/0", "/l/1", "/l/2"}},
		{"the same element twice", `{"l":[1,1,2]}`, `{"l":[1,2,1]}`, []string{"/l"}, nil},
		{"a top-level array", `[1,2]`, `[2,1]`, []string{""}, nil},
	}
	for _, tc := range learning {
		t.Run("learn/"+tc.name, func(t *testing.T) {
			diffs, permuted := compareLearning(jsonResponse(tc.a), jsonResponse(tc.b), CompareOptions{})
			if !slices.Equal(permuted, tc.wantPermuted) {
				t.Errorf("permuted %q, want %q", permuted, tc.wantPermuted)
			}
			if got := pointersOf(diffs); !slices.Equal(got, tc.wantDiffs) {
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
// of JSON bodies: a body learns nothing from itself; a pair found
// permuted compares with no difference once learned (the learning's own
// differences are those that remain); an array learned as unordered
// compares a body with itself as equal; and nothing panics.
func FuzzUnordered(f *testing.F) {
	for _, p := range [][2]string{
		{`{"l":[1,2,3]}`, `{"l":[3,1,2]}`},
		{`{"t":1,"l":[{"id":1},{"id":2}]}`, `{"t":2,"l":[{"id":2},{"id":1}]}`},
		{`[[1,2],[3,4]]`, `[[3,4],[1,2]]`},
		{`{"l":[1,1,2]}`, `{"l":[2,1,1]}`},
		{`{"l":[1.0,1]}`, `{"l":[1,1.0]}`},
		{`{"l":[]}`, `{"l":{}}`},
		{`{"l":[null,"a",true]}`, `{"l":[true,null,"a"]}`},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ra, rb := jsonResponse(a), jsonResponse(b)
		if d, perm := compareLearning(ra, ra, CompareOptions{}); len(d) != 0 || len(perm) != 0 {
			t.Fatalf("a body learns from itself: %v %v", d, perm)
		}
		diffs, perm := compareLearning(ra, rb, CompareOptions{MaxDiffs: 1000})
		learned := map[string]bool{}
		for _, p := range perm {
			learned[p] = true
		}
		unordered := func(p string) bool { return learned[p] }
		again := compare(ra, rb, CompareOptions{MaxDiffs: 1000, unordered: unordered})
		if len(again.diffs) != len(diffs) {
			t.Fatalf("learned %v: %d differences while learning, %d after", perm, len(diffs), len(again.diffs))
		}
		if d := compare(ra, ra, CompareOptions{unordered: func(string) bool { return true }}).diffs; len(d) != 0 {
			t.Fatalf("every array unordered: a body differs from itself: %v", d)
		}
	})
}
