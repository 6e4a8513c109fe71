// Package hdrname holds graft's one rule for when a request header name is
// a spelling of another header, so that a header graft removes (the
// forwarding headers in package middleware, the prefix headers in package
// fallback) is removed in every spelling that a WSGI server reads as that
// header. It also holds the one rule for adding a name to a response's
// Vary header (AddVary).
package hdrname

// Is reports whether the request header name k names the header name (given
// as it is usually spelled, such as "X-Forwarded-For"): the two are equal
// once ASCII letter case is ignored and '_' and '-' are treated alike, so
// "X_Forwarded_For", "x-forwarded-for" and "X-FORWARDED_FOR" all name
// X-Forwarded-For. A WSGI server gives all of them the same environ key,
// HTTP_X_FORWARDED_FOR: gunicorn before 22 passes names with '_' and joins
// the values of the names that share a key, and werkzeug's ProxyFix then
// takes the last value.
//
// Names of a different length are told apart at once, and k equal to name
// without a loop, in a check small enough to be inlined, so that checking
// every header of a request costs little more than ranging over them.
func Is(k, name string) bool {
	return len(k) == len(name) && (k == name || foldEqual(k, name))
}

// foldEqual reports whether k and name, of the same length, are equal
// once each is folded (see fold). It is kept out of line so that Is is
// inlined.
//
//go:noinline
func foldEqual(k, name string) bool {
	for i := 0; i < len(k); i++ {
		if fold(k[i]) != fold(name[i]) {
			return false
		}
	}
	return true
}

// fold maps '_' to '-' and ASCII lower-case letters to upper case.
func fold(c byte) byte {
	if c == '_' {
		return '-'
	}
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
