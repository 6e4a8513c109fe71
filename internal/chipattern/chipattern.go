// Package chipattern holds graft's one rule for reading the parameters of
// a chi route pattern: a parameter is {name} or {name:regexp}, and its
// regexp may hold braces of its own ({4}, {2,3}), which chi counts, so
// that a parameter ends at the brace that closes its opening one. The
// router (reverse URLs), the WSGI container (translating a Flask or
// Django route into a chi pattern) and the migration inventory all read
// patterns by it.
package chipattern

// ClosingBrace returns the index of the brace that closes the one at
// p[open] (which must be '{'), counting the braces inside it as chi does,
// or -1 when p ends first.
func ClosingBrace(p string, open int) int {
	depth := 0
	for i := open; i < len(p); i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// CatchAll reads graft's constrained catch-all, "{*:regexp}" ending a
// pattern ("/files/{*:.+}"): the catch-all ("*") whose value, the rest of
// the path, must match regexp whole. It returns p with "*" in its place,
// as chi registers it, and the regexp; ok is false, and p is returned
// as it is, when p does not end in one.
func CatchAll(p string) (chiPattern, regexp string, ok bool) {
	for i := 0; i < len(p); i++ {
		if p[i] != '{' {
			continue
		}
		end := ClosingBrace(p, i)
		if end < 0 {
			break
		}
		if end == len(p)-1 && end-i >= 4 && p[i+1] == '*' && p[i+2] == ':' {
			return p[:i] + "*", p[i+3 : end], true
		}
		i = end
	}
	return p, "", false
}
