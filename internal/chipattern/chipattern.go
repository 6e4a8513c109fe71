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
