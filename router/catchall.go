package router

import (
	"fmt"
	"regexp"

	"github.com/graft-dev/graft/internal/chipattern"
)

// mustCatchAll reads a pattern ending in graft's constrained catch-all,
// "{*:regexp}" ("/files/{*:.+}"): it returns the pattern chi registers,
// with "*" in its place ("/files/*"), and the regexp, anchored to match
// the catch-all's whole value; for any other pattern, the pattern itself
// and nil. An invalid regexp panics, as chi does for a parameter's.
//
// The route then takes a request only when the rest of its path, decoded
// as [Param] returns it, matches the regexp: "{*:.+}" refuses the empty
// rest that "*" takes, which is how the route map writes the path
// converters of Flask ("{*:[^/].*}") and Django ("{*:.+}"), which take
// one character at least. The regexp decides alone: "*"'s own refusal of
// a newline (see guardParams) does not apply, and Go's "." does not take
// one either.
func mustCatchAll(pattern string) (local string, rest *regexp.Regexp) {
	local, re, ok := chipattern.CatchAll(pattern)
	if !ok {
		return pattern, nil
	}
	rest, err := regexp.Compile(`^(?:` + re + `)$`)
	if err != nil {
		panic(fmt.Sprintf("router: invalid catch-all regexp in %q: %v", pattern, err))
	}
	return local, rest
}
