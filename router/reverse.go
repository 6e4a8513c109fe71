package router

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/graft-dev/graft/internal/chipattern"
)

// Errors returned by [Router.URL], wrapped with the route and parameter
// names; test for them with [errors.Is].
var (
	// ErrUnknownRoute means no route has the requested name.
	ErrUnknownRoute = errors.New("router: unknown route name")
	// ErrMissingParam means a parameter of the pattern was not given.
	ErrMissingParam = errors.New("router: missing route parameter")
	// ErrUnknownParam means a parameter that the pattern does not have
	// was given; it usually is a typo.
	ErrUnknownParam = errors.New("router: unknown route parameter")
	// ErrInvalidParam means a value would not be matched by the route: it
	// is empty, it does not match the parameter's regexp, it holds the
	// character that follows the parameter in the pattern, or it makes a
	// dot segment ("." or ".."), which clients remove.
	ErrInvalidParam = errors.New("router: invalid route parameter")
	// ErrOddParams means the key/value list has an odd length.
	ErrOddParams = errors.New("router: odd number of key/value arguments")
)

// template is a chi pattern prepared for reversal: literal parts and
// parameters, in order.
type template struct {
	pattern string
	parts   []part
}

type part struct {
	literal string // when name == "", as in the pattern
	out     string // literal as written in a path: escaped where net/http would

	name string         // parameter name; "*" for the catch-all
	re   *regexp.Regexp // {name:re}, anchored; nil otherwise
}

// parseTemplate splits a chi pattern into literals, {params} (with
// optional :regexp, which may itself contain braces) and a trailing * or
// {*:regexp}.
func parseTemplate(pattern string) (*template, error) {
	t := &template{pattern: pattern}
	lit := 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '{':
			j := chipattern.ClosingBrace(pattern, i) + 1 // just past the parameter
			if j == 0 {
				return nil, fmt.Errorf("unclosed '{' in pattern %q", pattern)
			}
			if lit < i {
				t.parts = append(t.parts, literalPart(pattern[lit:i]))
			}
			name, rex, hasRe := strings.Cut(pattern[i+1:j-1], ":")
			if name == "" {
				return nil, fmt.Errorf("empty parameter name in pattern %q", pattern)
			}
			p := part{name: name}
			if hasRe && name == "*" {
				rex = "^(?:" + rex + ")$" // a constrained catch-all, as mustCatchAll reads it
			}
			if hasRe {
				if !strings.HasPrefix(rex, "^") {
					rex = "^" + rex
				}
				if !strings.HasSuffix(rex, "$") {
					rex += "$"
				}
				re, err := regexp.Compile(rex)
				if err != nil {
					return nil, fmt.Errorf("parameter %q: %v", name, err)
				}
				p.re = re
			}
			t.parts = append(t.parts, p)
			i, lit = j-1, j
		case '*':
			if i != len(pattern)-1 {
				return nil, fmt.Errorf("'*' must end pattern %q", pattern)
			}
			if lit < i {
				t.parts = append(t.parts, literalPart(pattern[lit:i]))
			}
			t.parts = append(t.parts, part{name: "*"})
			lit = len(pattern)
		}
	}
	if lit < len(pattern) {
		t.parts = append(t.parts, literalPart(pattern[lit:]))
	}
	return t, nil
}

// literalPart is the literal text s of a pattern. A path holds it
// escaped as net/http writes a path (a space as "%20", "é" as "%C3%A9",
// "?" as "%3F"), which the Router routes as s.
func literalPart(s string) part {
	return part{literal: s, out: (&url.URL{Path: s}).EscapedPath()}
}

// build substitutes the key/value pairs into t.
func (t *template) build(name string, pairs []string) (string, error) {
	if len(pairs)%2 != 0 {
		return "", fmt.Errorf("%w for route %q", ErrOddParams, name)
	}
	for k := 0; k < len(pairs); k += 2 {
		if !t.has(pairs[k]) {
			return "", fmt.Errorf("%w %q for route %q (%s)", ErrUnknownParam, pairs[k], name, t.pattern)
		}
	}
	type checked struct {
		p      part
		v, enc string
		next   byte // the first byte of the literal after the parameter, or 0
	}
	var checks []checked
	var b strings.Builder
	b.Grow(len(t.pattern) + 16)
	for i, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.out)
			continue
		}
		v, ok := value(pairs, p.name)
		switch {
		case !ok && p.name == "*" && (p.re == nil || p.re.MatchString("")):
			continue // an absent catch-all is empty
		case !ok:
			return "", fmt.Errorf("%w %q for route %q (%s)", ErrMissingParam, p.name, name, t.pattern)
		case v == "" && p.name != "*":
			return "", fmt.Errorf("%w %q for route %q: empty value", ErrInvalidParam, p.name, name)
		}
		if dotSegment(v, p.name == "*") {
			return "", fmt.Errorf("%w %q for route %q: %q makes a dot segment (. or ..), which clients remove from a path before sending it", ErrInvalidParam, p.name, name, v)
		}
		enc := Escape(v, p.name == "*")
		var next byte
		if i+1 < len(t.parts) && t.parts[i+1].name == "" && t.parts[i+1].literal[0] != '/' {
			next = t.parts[i+1].literal[0]
		}
		if p.re != nil || next != 0 {
			checks = append(checks, checked{p, v, enc, next})
		}
		b.WriteString(enc)
	}
	path := b.String()
	if strings.HasPrefix(path, "//") {
		// A catch-all value starting with "/" at the root: "//evil.com" is
		// a scheme-relative URL, another host to a browser or a Location
		// header. The Router routes "/%2Fevil.com" back to the route, with
		// the value "/evil.com".
		path = "/%2F" + path[2:]
	}
	// chi matches the regexps against the path as the Router routes it
	// (see routable): the decoded path, unless it has an escaped slash,
	// in which case the escaped form, written as net/http writes a path.
	_, raw := canonicalEscape(path)
	for _, c := range checks {
		seen := c.v
		if raw && c.p.name != "*" {
			// a constrained catch-all ({*:re}) is checked decoded: see
			// mustCatchAll
			seen, _ = canonicalEscape(c.enc)
		}
		if c.p.re != nil && !c.p.re.MatchString(seen) {
			return "", fmt.Errorf("%w %q for route %q: %q does not match %s", ErrInvalidParam, c.p.name, name, c.v, c.p.re)
		}
		// chi ends the value at the first occurrence of the byte that
		// follows the parameter in the pattern.
		if c.next != 0 && strings.IndexByte(seen, c.next) >= 0 {
			return "", fmt.Errorf("%w %q for route %q: %q holds %q, where chi ends the parameter (the text after it in %s)", ErrInvalidParam, c.p.name, name, c.v, c.next, t.pattern)
		}
	}
	return path, nil
}

// dotSegment reports whether v, as a parameter's value (a catch-all's
// when rest is true, where "/" separates segments), makes a "." or ".."
// path segment. Escape leaves dots as they are, and "%2E" is a dot to
// browsers too (the WHATWG URL standard), so no encoding keeps one.
func dotSegment(v string, rest bool) bool {
	if !rest {
		return v == "." || v == ".."
	}
	for seg := range strings.SplitSeq(v, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func (t *template) has(name string) bool {
	for _, p := range t.parts {
		if p.name != "" && p.name == name {
			return true
		}
	}
	return false
}

// value returns the last value given for key, so that a later pair wins.
func value(pairs []string, key string) (string, bool) {
	for k := len(pairs) - 2; k >= 0; k -= 2 {
		if pairs[k] == key {
			return pairs[k+1], true
		}
	}
	return "", false
}

// Escape percent-encodes s for use as one path parameter, the way Python's
// urllib.parse.quote does for Tornado's reverse_url: every byte except
// ALPHA, DIGIT and "-._~" becomes %XX with upper-case hex, so a space is
// "%20", "+" is "%2B" and "é" is "%C3%A9". Bytes that are not valid UTF-8
// are encoded one by one. When keepSlash is true (catch-all parameters)
// "/" is kept as is; otherwise it becomes "%2F".
func Escape(s string, keepSlash bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i], keepSlash) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	buf := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c, keepSlash) {
			buf = append(buf, c)
			continue
		}
		buf = append(buf, '%', hex[c>>4], hex[c&15])
	}
	return string(buf)
}

func unreserved(c byte, keepSlash bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '/' && keepSlash
}

func errorf(err error, name string) error {
	return fmt.Errorf("%w %q", err, name)
}
