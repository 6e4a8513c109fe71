package migrate

import "slices"

// An array whose elements a Python view answers in an order of its own
// each time (a set, a dict built from one, a query without ORDER BY)
// differs from itself at every index. Learned as noise pointer by
// pointer, that would hide every difference under the array: a Go port
// with a wrong price in one item would match. Instead, when Python's
// second call answers the same elements in another order, the array's
// pointer is learned as unordered, and from then on both sides' arrays
// at that pointer are compared as sorted lists (by each element's
// compact JSON), element by element: a difference inside an element is
// still counted, at its pointer in the sorted list.

// sortedByJSON returns a copy of a sorted by each element's compact JSON,
// and those encodings in a's own order.
func sortedByJSON(a []any) (sorted []any, keys []string) {
	keys = make([]string, len(a))
	idx := make([]int, len(a))
	for i, v := range a {
		keys[i], idx[i] = render(v), i
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		switch {
		case keys[x] < keys[y]:
			return -1
		case keys[x] > keys[y]:
			return 1
		}
		return 0
	})
	sorted = make([]any, len(a))
	for i, j := range idx {
		sorted[i] = a[j]
	}
	return sorted, keys
}

// inAnyOrder returns the arrays p (Python's) and g at ptr as they are to
// be compared: sorted when ptr is learned as unordered, or, while
// learning (Python against itself), when g holds p's elements in another
// order, which records ptr in c.permuted.
func (c *comparer) inAnyOrder(ptr string, p, g []any) ([]any, []any) {
	known := c.unordered != nil && c.unordered(ptr)
	if !known && !c.learnOrder || len(p) < 2 && len(g) < 2 {
		return p, g
	}
	ps, pk := sortedByJSON(p)
	gs, gk := sortedByJSON(g)
	inOrder := slices.Equal(pk, gk)
	if known {
		if !inOrder {
			c.reordered = true
		}
		return ps, gs
	}
	if inOrder || len(p) != len(g) {
		return p, g
	}
	slices.Sort(pk)
	slices.Sort(gk)
	if !slices.Equal(pk, gk) {
		return p, g // other elements: not (only) an order of its own
	}
	c.permuted = append(c.permuted, ptr)
	return ps, gs
}

// compareLearning compares Python's answer py with its answer r2 to the
// same request, to learn noise: it returns the differences, with the
// arrays that came in another order (the pointers it returns, and those
// already learned) compared sorted.
func compareLearning(py, r2 *Response, o CompareOptions) (diffs []Diff, permuted []string) {
	o.learnOrder = true
	c := compare(py, r2, o)
	return c.diffs, c.permuted
}
