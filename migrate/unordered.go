package migrate

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// An array whose elements a Python view answers in an order of its own
// each time (a set, a dict built from one, a query without ORDER BY)
// differs from itself at every index. Learned as noise pointer by
// pointer, that would hide every difference under the array: a Go port
// with a wrong price in one item would match. Instead, when Python's
// second call answers the same elements in another order, the array's
// pointer is learned as unordered, and from then on both sides' arrays
// at that pointer are compared element by element, each element paired
// with the other side's element that is the same (see pairUp): a
// difference inside an element is still counted.
//
// Elements may carry noise of their own (a timestamp or a request id per
// item), and may hold arrays in an order of their own too. So the
// elements of an unordered array share one pattern, the array's pointer
// followed by "/*" ("/items/*/ts"): the noise learned inside an element
// is learned for all of them, an array inside them is learned as
// unordered for all of them ("/orders/*/lines"), and the elements are
// paired by their canonical form, which leaves out the pointers learned
// as noise (and those of the route's ignore list) and takes every array
// in them as a multiset. A Diff keeps the element's index in the paired
// list ("/items/3/price"), for people; the pattern is what the noise and
// ignore lists are matched against.

// pairing is how the elements of two arrays are compared: p[i] against
// g[j] for each {i, j}, -1 for a side that has no element there.
type pairing [][2]int

// array compares the arrays p (Python's) and g at ptr, whose pattern
// (the pointer with "*" for the elements of unordered arrays above) is
// pat: index by index, or, when pat is learned as unordered or, while
// learning (Python against itself), when g holds p's elements in another
// order (recorded in c.permuted), by the elements each pairs with.
func (c *comparer) array(ptr, pat string, p, g []any) {
	pairs := c.inAnyOrder(pat, p, g)
	if pairs == nil {
		for i := 0; i < len(p) || i < len(g); i++ {
			idx := strconv.Itoa(i)
			c.element(ptr+"/"+idx, pat+"/"+idx, p, g, i, i)
		}
		return
	}
	for i, pr := range pairs {
		c.element(ptr+"/"+strconv.Itoa(i), pat+"/*", p, g, pr[0], pr[1])
	}
}

// element compares p[i] with g[j] (either index out of range: missing).
func (c *comparer) element(ptr, pat string, p, g []any, i, j int) {
	switch {
	case c.full():
	case i < 0 || i >= len(p):
		c.addAt(ptr, pat, missing, render(g[j]))
	case j < 0 || j >= len(g):
		c.addAt(ptr, pat, render(p[i]), missing)
	default:
		c.json(ptr, pat, p[i], g[j])
	}
}

// inAnyOrder returns how the arrays p and g at pattern pat pair up, nil
// for index by index: paired (see pairUp) when pat is learned as
// unordered; while learning, when the elements pair up completely and
// not each with the one at its own index, which records pat in
// c.permuted; else nil.
func (c *comparer) inAnyOrder(pat string, p, g []any) pairing {
	known := c.unordered != nil && c.unordered(pat)
	if !known && (!c.learnOrder || len(p) != len(g) || len(p) < 2) {
		return nil
	}
	pairs, complete := c.pairUp(pat, p, g)
	inOrder := len(p) == len(g) && !slices.ContainsFunc(pairs, func(pr [2]int) bool { return pr[0] != pr[1] })
	if known {
		if !inOrder {
			c.reordered = true
		}
		return pairs
	}
	if !complete || inOrder {
		return nil // other elements, or the same order: not (only) an order of its own
	}
	if !slices.Contains(c.permuted, pat) {
		c.permuted = append(c.permuted, pat)
	}
	return pairs
}

// pairUp pairs the elements of p and g, those of each side in the order
// they come: first each with one of the same canonical form (noise left
// out); then, among the objects left, each with one that agrees with it
// on the keys whose values the two sides' objects left hold alike (a key
// whose values differ, such as a timestamp not yet learned as noise or a
// wrong price, leaves the pairing to the others, such as an id); the rest
// in the order of their canonical forms, and an element left over is
// paired with none. complete says that no element was paired so, by
// order alone. The pairs come in the order of the canonical forms of
// Python's elements (Go's for one Python lacks).
func (c *comparer) pairUp(pat string, p, g []any) (pairs pairing, complete bool) {
	elem := pat + "/*"
	pk, gk := c.canons(elem, p, nil), c.canons(elem, g, nil)
	pi, gi := indices(len(p)), indices(len(g))
	pairs, pi, gi = matchEqual(pk, gk, pi, gi, nil)
	if len(pi) > 0 && len(gi) > 0 {
		if skip := unstableKeys(c, elem, p, g, pi, gi); len(skip) > 0 {
			pairs, pi, gi = matchEqual(c.canonsOf(elem, p, pi, skip), c.canonsOf(elem, g, gi, skip), pi, gi, pairs)
		}
	}
	complete = len(pi) == 0 && len(gi) == 0
	byKey := func(keys []string) func(a, b int) int {
		return func(a, b int) int { return strings.Compare(keys[a], keys[b]) }
	}
	slices.SortStableFunc(pi, byKey(pk))
	slices.SortStableFunc(gi, byKey(gk))
	for n := 0; n < len(pi) || n < len(gi); n++ {
		pr := [2]int{-1, -1}
		if n < len(pi) {
			pr[0] = pi[n]
		}
		if n < len(gi) {
			pr[1] = gi[n]
		}
		pairs = append(pairs, pr)
	}
	key := func(pr [2]int) string {
		if pr[0] >= 0 {
			return pk[pr[0]]
		}
		return gk[pr[1]]
	}
	sort.SliceStable(pairs, func(a, b int) bool { return key(pairs[a]) < key(pairs[b]) })
	return pairs, complete
}

// indices returns 0, 1, ... n-1.
func indices(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// matchEqual pairs each index of pi with the first unpaired index of gi
// whose key is the same (pk and gk are indexed by element, or, when
// shorter, by position in pi and gi), appends the pairs to pairs, and
// returns the indices left on each side.
func matchEqual(pk, gk []string, pi, gi []int, pairs pairing) (pairing, []int, []int) {
	at := func(keys []string, list []int, n int) string {
		if len(keys) == len(list) {
			return keys[n]
		}
		return keys[list[n]]
	}
	waiting := map[string][]int{}
	for n, j := range gi {
		k := at(gk, gi, n)
		waiting[k] = append(waiting[k], j)
	}
	var restP []int
	used := map[int]bool{}
	for n, i := range pi {
		k := at(pk, pi, n)
		if q := waiting[k]; len(q) > 0 {
			pairs = append(pairs, [2]int{i, q[0]})
			used[q[0]] = true
			waiting[k] = q[1:]
			continue
		}
		restP = append(restP, i)
	}
	var restG []int
	for _, j := range gi {
		if !used[j] {
			restG = append(restG, j)
		}
	}
	return pairs, restP, restG
}

// unstableKeys returns the keys whose values the objects p[pi] and g[gi]
// do not hold alike (as multisets of canonical forms, a missing key being
// a value of its own); nil unless all of them are objects.
func unstableKeys(c *comparer, elem string, p, g []any, pi, gi []int) map[string]bool {
	counts := map[string]map[string]int{}
	var keys []string
	for side, list := range [2][]int{pi, gi} {
		arr, n := p, 1
		if side == 1 {
			arr, n = g, -1
		}
		for _, i := range list {
			obj, ok := arr[i].(map[string]any)
			if !ok {
				return nil
			}
			for k, v := range obj {
				if counts[k] == nil {
					counts[k] = map[string]int{}
					keys = append(keys, k)
				}
				counts[k][c.canon(elem+"/"+escapePointer(k), v, nil)] += n
			}
		}
	}
	// A key an object lacks counts as a value of its own.
	for _, k := range keys {
		for side, list := range [2][]int{pi, gi} {
			arr, n := p, 1
			if side == 1 {
				arr, n = g, -1
			}
			for _, i := range list {
				if _, ok := arr[i].(map[string]any)[k]; !ok {
					counts[k]["\x00"] += n
				}
			}
		}
	}
	var skip map[string]bool
	for _, k := range keys {
		for _, n := range counts[k] {
			if n != 0 {
				if skip == nil {
					skip = map[string]bool{}
				}
				skip[k] = true
				break
			}
		}
	}
	return skip
}

// canons returns the canonical forms of the elements of a, whose pattern
// is elem, without the keys skip names.
func (c *comparer) canons(elem string, a []any, skip map[string]bool) []string {
	out := make([]string, len(a))
	for i, v := range a {
		out[i] = c.canon(elem, v, skip)
	}
	return out
}

// canonsOf is canons of the elements of a at the indices list.
func (c *comparer) canonsOf(elem string, a []any, list []int, skip map[string]bool) []string {
	out := make([]string, len(list))
	for n, i := range list {
		out[n] = c.canon(elem, a[i], skip)
	}
	return out
}

// canon returns the canonical form of v at pattern pat: its compact JSON
// with object keys sorted, numbers by their exact value (1.0 is 1),
// the members at pointers learned as noise (or ignored) and the keys of
// skip (at v's top) left out, and the elements of every array sorted:
// what two elements must share to be paired (an array inside them in
// another order is learned, or counted, when the pair is compared).
//
// The canonical forms a comparison writes are bounded (maxCanonBytes, with
// the patterns of the values they hold, over
// all its arrays: a deep nest of arrays would write each level again for
// every level above it); past the bound every form is empty, so that the
// elements still to pair are paired in the order they come (index by
// index while learning), which can report a difference too many, never
// one too few.
func (c *comparer) canon(pat string, v any, skip map[string]bool) string {
	if c.canonBytes > maxCanonBytes {
		return ""
	}
	var b strings.Builder
	c.writeCanon(&b, pat, v, skip)
	c.canonBytes += b.Len()
	if c.canonBytes > maxCanonBytes {
		return ""
	}
	return b.String()
}

// maxCanonBytes bounds the canonical forms one comparison writes.
const maxCanonBytes = 16 << 20

func (c *comparer) writeCanon(b *strings.Builder, pat string, v any, skip map[string]bool) {
	// Each value costs its pattern's length too (written for its members).
	if c.canonBytes += len(pat) + 1; c.canonBytes+b.Len() > maxCanonBytes {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if !skip[k] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		b.WriteByte('{')
		first := true
		for _, k := range keys {
			sub := pat + "/" + escapePointer(k)
			if c.noise != nil && c.noise(sub) {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(render(k))
			b.WriteByte(':')
			c.writeCanon(b, sub, x[k], nil)
		}
		b.WriteByte('}')
	case []any:
		unordered := c.unordered != nil && c.unordered(pat)
		elems := make([]string, 0, len(x))
		for i, e := range x {
			sub := pat + "/*"
			if !unordered {
				sub = pat + "/" + strconv.Itoa(i)
			}
			if c.noise != nil && c.noise(sub) {
				continue
			}
			elems = append(elems, c.canon(sub, e, nil))
		}
		slices.Sort(elems)
		b.WriteByte('[')
		b.WriteString(strings.Join(elems, ","))
		b.WriteByte(']')
	case json.Number:
		d, ok := parseDecimal(string(x))
		if !ok {
			b.WriteString(string(x))
			return
		}
		if d.neg {
			b.WriteByte('-')
		}
		if d.digits == "" {
			b.WriteByte('0')
			return
		}
		b.WriteString(d.digits)
		b.WriteByte('e')
		b.WriteString(strconv.FormatInt(d.exp, 10))
		if d.bigExp != "" {
			b.WriteString("+E")
			b.WriteString(d.bigExp)
		}
	default:
		b.WriteString(render(v))
	}
}

// compareLearning compares Python's answer py with its answer r2 to the
// same request, to learn noise: it returns the patterns of the
// differences (the pointers to learn as noise, "*" for the elements of
// unordered arrays), with the arrays that came in another order (the
// patterns it returns as permuted, and those already learned) compared
// paired.
func compareLearning(py, r2 *Response, o CompareOptions) (noise, permuted []string) {
	o.learnOrder = true
	c := compare(py, r2, o)
	return c.patterns, c.permuted
}
