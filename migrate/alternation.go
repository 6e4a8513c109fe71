package migrate

import (
	"regexp/syntax"
	"slices"
	"strings"
)

// maxVariants bounds the paths a pattern with alternations is expanded
// into (see variants); a pattern with more is not expanded.
const maxVariants = 64

// variants expands pattern, whose segments are segs (parseSegments of
// it, widened for a Python route), when its parameters take a few literal
// values only ("/{lang:(?:en-us|fr)}/shop/me/", Flask's
// <any(en, fr):lang>): one variant per combination of values, the
// parameters written as the literal segments they stand for
// ("/en-us/shop/me/", "/fr/shop/me/"). It returns nil when no parameter
// is such an alternation, or when there would be more than maxVariants:
// such a pattern is compared whole.
func variants(pattern string, segs []segment) []variant {
	parts := splitPattern(pattern)
	if len(parts) != len(segs) {
		return nil
	}
	out := []variant{{}}
	expanded := false
	for i, s := range segs {
		var vals []string
		if s.param && !s.catchAll && s.mixed == "" && s.wide == "" && s.re != "" {
			vals = segmentValues(s.re)
		}
		if vals == nil {
			for j := range out {
				out[j].segs = append(out[j].segs, s)
				out[j].parts = append(out[j].parts, parts[i])
			}
			continue
		}
		expanded = true
		if len(out)*len(vals) > maxVariants {
			return nil
		}
		next := make([]variant, 0, len(out)*len(vals))
		for _, v := range out {
			for _, val := range vals {
				next = append(next, variant{
					segs:  append(slices.Clip(v.segs), segment{static: val}),
					parts: append(slices.Clip(v.parts), val),
				})
			}
		}
		out = next
	}
	if !expanded {
		return nil
	}
	return out
}

// variant is one path of a pattern with alternations (see variants).
type variant struct {
	segs  []segment
	parts []string // the pattern's "/"-separated parts, values written in
}

// pattern writes v as a pattern ("/fr/shop/me/").
func (v variant) pattern() string { return "/" + strings.Join(v.parts, "/") }

// segmentValues returns the values a parameter's constraint re takes
// when they are a few literal texts (an alternation such as "en-us|fr",
// "(?:en|fr)", or "e[ns]"), sorted; nil when re takes other texts, an
// empty one, one holding "/", or more than maxVariants.
func segmentValues(re string) []string {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil
	}
	vals, ok := literals(parsed.Simplify())
	if !ok || len(vals) == 0 {
		return nil
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)
	for _, v := range vals {
		if v == "" || strings.Contains(v, "/") {
			return nil // chi gives no parameter an empty value, nor one with "/"
		}
	}
	return vals
}

// literals returns every text re matches, when they are finitely many
// (at most maxVariants) and re has no anchors, case folding or
// repetition; ok false otherwise.
func literals(re *syntax.Regexp) (vals []string, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []string{string(re.Rune)}, true
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpCapture:
		return literals(re.Sub[0])
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(vals) == maxVariants {
					return nil, false
				}
				vals = append(vals, string(r))
			}
		}
		return vals, true
	case syntax.OpQuest:
		sub, ok := literals(re.Sub[0])
		if !ok || len(sub) >= maxVariants {
			return nil, false
		}
		return append(sub, ""), true
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			sub, ok := literals(s)
			if !ok || len(vals)+len(sub) > maxVariants {
				return nil, false
			}
			vals = append(vals, sub...)
		}
		return vals, true
	case syntax.OpConcat:
		vals = []string{""}
		for _, s := range re.Sub {
			sub, ok := literals(s)
			if !ok || len(vals)*len(sub) > maxVariants {
				return nil, false
			}
			next := make([]string, 0, len(vals)*len(sub))
			for _, a := range vals {
				for _, b := range sub {
					next = append(next, a+b)
				}
			}
			vals = next
		}
		return vals, true
	}
	return nil, false
}

// joinPaths compares a Go pattern and a Python pattern that overlap
// without being equal, path by path where either is an alternation (gv,
// pv: their variants, nil for a pattern compared whole). It returns the
// indexes of Python's variants that a path of Go's equals ([0] for a
// Python pattern without variants), nil when none does, marking in
// covered (one per Go variant) those of Go's that equal one; and a note
// for paths equal but for what relASCII tells.
func joinPaths(g []segment, gv []variant, covered []bool, p []segment, pv []variant) ([]int, string) {
	if gv == nil && pv == nil {
		return nil, ""
	}
	if gv == nil {
		gv = []variant{{segs: g}}
	}
	whole := pv == nil
	if whole {
		pv = []variant{{segs: p}}
	}
	var ks []int
	var notes []string
	for k, pp := range pv {
		for j, gg := range gv {
			rel, detail := relate(gg.segs, pp.segs)
			if rel != relEqual && rel != relASCII {
				continue
			}
			if j < len(covered) {
				covered[j] = true
			}
			if len(ks) == 0 || ks[len(ks)-1] != k {
				ks = append(ks, k)
			}
			if rel == relASCII && !slices.Contains(notes, detail) {
				notes = append(notes, detail)
			}
		}
	}
	return ks, strings.Join(notes, "; ")
}
