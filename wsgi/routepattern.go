package wsgi

// Translation of the Python app's route patterns (Flask rules, Django
// routes and regexes) into chi patterns, keeping each converter as a
// constraint and refusing what cannot be translated exactly.

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/graft-dev/graft/internal/chipattern"
)

// Constraints of the converters graft translates.
const (
	reInt      = `[0-9]+`
	reSlug     = `[-a-zA-Z0-9_]+`
	reFloat    = `[0-9]+\.[0-9]+`
	reUUIDAny  = `[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}`
	reUUIDLow  = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
	catchAllAt = "*"
	// The path converters as graft's constrained catch-all ({*:re}, the
	// whole rest of the path): werkzeug's "[^/].*?" and Django's ".+",
	// both one character at least; Go's "." takes no newline, as
	// Python's, and Go's "[^/]" one, as Python's. A regex's (?P<p>.*) is
	// the plain catch-all, which takes the empty rest and no newline.
	reFlaskPath  = `[^/].*`
	reDjangoPath = `.+`
)

// writeCatchAll appends the constrained catch-all {*:re}.
func writeCatchAll(b *strings.Builder, params []RouteParam, name, conv, re string) []RouteParam {
	fmt.Fprintf(b, "{*:%s}", re)
	return append(params, RouteParam{Name: name, Converter: conv, Regex: re})
}

// translate turns a route's pieces into a chi pattern (with a leading
// "/"), or says why it cannot.
func translate(pieces []wirePiece) (pattern string, params []RouteParam, why string) {
	var b strings.Builder
	for i, pc := range pieces {
		last := i == len(pieces)-1
		var err error
		switch pc.Kind {
		case "flask":
			params, err = translateFlask(&b, pc.Parts, params)
		case "django-route":
			params, err = translateDjangoRoute(&b, pc, last, params)
		case "regex":
			params, err = translateRegex(&b, pc.Text, pc.Fullmatch, last, params)
		case "bottle":
			params, err = translateBottle(&b, pc.Parts, params)
		case "falcon":
			params, err = translateFalcon(&b, pc.Parts, params)
		case "pyramid":
			params, err = translatePyramid(&b, pc.Parts, params)
		case "locale":
			err = writeStatic(&b, pc.Text)
		default:
			err = fmt.Errorf("unknown route piece kind %q", pc.Kind)
		}
		if err != nil {
			return "", params, err.Error()
		}
	}
	p := b.String()
	if strings.HasPrefix(p, "/") && len(pieces) > 0 && djangoKind(pieces[0].Kind) {
		// Django matches the path without its first "/", so such a route
		// serves only paths beginning with "//", which graft's router
		// routes as the one-slash path (docs/routing.md).
		return "", params, "the Django route starts with / after the path's own: it matches only paths beginning with //, which graft's router serves as /"
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	// A catch-all may only end the pattern.
	if i := strings.Index(p, "*"); i >= 0 && i != len(p)-1 && !insideBraces(p, i) {
		return "", params, "a path parameter is followed by more of the route; chi's catch-all (*) must end a pattern"
	}
	if err := checkTails(p); err != nil {
		return "", params, err.Error()
	}
	return p, params, ""
}

// djangoKind reports whether a route piece of kind is Django's, matched
// against the path without its first "/".
func djangoKind(kind string) bool {
	return kind == "regex" || kind == "django-route" || kind == "locale"
}

// insideBraces reports whether p[i] is inside a {...} parameter.
func insideBraces(p string, i int) bool {
	depth := 0
	for j := 0; j < i; j++ {
		switch p[j] {
		case '{':
			depth++
		case '}':
			depth--
		}
	}
	return depth > 0
}

// writeStatic appends literal route text, which must not contain chi's
// metacharacters.
func writeStatic(b *strings.Builder, s string) error {
	if strings.ContainsAny(s, "{}*") {
		return fmt.Errorf("the literal text %q holds a character chi reads as a parameter or a wildcard", s)
	}
	b.WriteString(s)
	return nil
}

// writeParam appends {name} or {name:re}.
func writeParam(b *strings.Builder, params []RouteParam, name, conv, re string) []RouteParam {
	if re == "" {
		fmt.Fprintf(b, "{%s}", name)
	} else {
		fmt.Fprintf(b, "{%s:%s}", name, re)
	}
	return append(params, RouteParam{Name: name, Converter: conv, Regex: re})
}

func translateFlask(b *strings.Builder, parts []wirePart, params []RouteParam) ([]RouteParam, error) {
	for i, pt := range parts {
		if pt.Param == "" {
			if err := writeStatic(b, pt.Text); err != nil {
				return params, err
			}
			continue
		}
		last := i == len(parts)-1
		conv, args := pt.Converter, strings.TrimSpace(pt.Args)
		switch {
		case (conv == "default" || conv == "string") && args == "":
			params = writeParam(b, params, pt.Param, conv, "")
		case (conv == "int" || conv == "float") && (args == "" || isSigned(args)):
			re := reInt
			if conv == "float" {
				re = reFloat
			}
			if args != "" {
				re = "-?" + re
			}
			params = writeParam(b, params, pt.Param, conv, re)
			params[len(params)-1].PythonRegex = pythonDigits(pt.Regex, re)
		case conv == "uuid":
			params = writeParam(b, params, pt.Param, conv, reUUIDAny)
		case conv == "path":
			if !last {
				return params, fmt.Errorf("path parameter <%s> is not at the end; chi's catch-all (*) must end a pattern", pt.Param)
			}
			params = writeCatchAll(b, params, pt.Param, conv, reFlaskPath)
		case conv == "any" || conv == "string":
			re, err := segmentRegex(pt.Regex)
			if err != nil {
				return params, fmt.Errorf("<%s:%s>: %v", conv, pt.Param, err)
			}
			params = writeParam(b, params, pt.Param, conv, re)
		case conv == "int" || conv == "float":
			return params, fmt.Errorf("<%s(%s):%s>: min, max and fixed_digits have no chi equivalent", conv, pt.Args, pt.Param)
		default:
			return params, fmt.Errorf("<%s:%s>: custom converter %s (its to_python may reject what its regex accepts)", conv, pt.Param, pt.Class)
		}
	}
	return params, nil
}

// pythonDigits returns what a Flask number converter whose own regex is
// pyRe accepts, in RE2 syntax, when that is wider than re, graft's ASCII
// translation of it: werkzeug's \d (int's \d+, float's \d+\.\d+) is
// Python's, which in a str pattern matches any Unicode decimal digit
// (category Nd), and int() and float() read them all: Flask answers
// /p/١٢ for <int:pid> with pid 12. "" when pyRe has no \d.
func pythonDigits(pyRe, re string) string {
	if !strings.Contains(pyRe, `\d`) {
		return ""
	}
	return strings.ReplaceAll(re, "[0-9]", `\p{Nd}`)
}

// isSigned reports whether converter arguments are just signed=True.
func isSigned(args string) bool {
	a := strings.ReplaceAll(args, " ", "")
	return a == "signed=True"
}

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var djangoVar = regexp.MustCompile(`<(?:([^>:]+):)?([^>]+)>`)

func translateDjangoRoute(b *strings.Builder, pc wirePiece, last bool, params []RouteParam) ([]RouteParam, error) {
	text := pc.Text
	pos := 0
	for _, m := range djangoVar.FindAllStringSubmatchIndex(text, -1) {
		if err := writeStatic(b, text[pos:m[0]]); err != nil {
			return params, err
		}
		name := text[m[4]:m[5]]
		conv := "str"
		if m[2] >= 0 {
			conv = text[m[2]:m[3]]
		}
		if c, ok := pc.Converters[name]; ok && c.Converter != "" {
			conv = c.Converter
		}
		end := m[1] == len(text)
		switch conv {
		case "str":
			params = writeParam(b, params, name, conv, "")
		case "int":
			params = writeParam(b, params, name, conv, reInt)
		case "slug":
			params = writeParam(b, params, name, conv, reSlug)
		case "uuid":
			params = writeParam(b, params, name, conv, reUUIDLow)
		case "path":
			if !last || !end {
				return params, fmt.Errorf("path parameter <%s> is not at the end; chi's catch-all (*) must end a pattern", name)
			}
			params = writeCatchAll(b, params, name, conv, reDjangoPath)
		default:
			return params, fmt.Errorf("<%s:%s>: custom converter %s (its to_python may reject what its regex accepts)", conv, name, pc.Converters[name].Class)
		}
		pos = m[1]
	}
	return params, writeStatic(b, text[pos:])
}

// translateRegex translates the simple regexes of re_path and url(): "^",
// literal text, named groups whose content never matches "/", and "$" or
// "\Z" at the very end; in a group \d is read as regexParam reads it for
// Pyramid and Bottle. Django search()es a regex in the rest of the path
// (fullmatch() for an endpoint ending in "$"), so one without "^" matches
// wherever its text appears and is refused, unless fullmatched.
func translateRegex(b *strings.Builder, re string, fullmatch, last bool, params []RouteParam) ([]RouteParam, error) {
	if !strings.HasPrefix(re, "^") && !(fullmatch && last) {
		return params, fmt.Errorf("regex %q has no start anchor (^): Django searches for it anywhere in the path", re)
	}
	s := strings.TrimPrefix(re, "^")
	if strings.HasSuffix(s, `\Z`) {
		if !last {
			return params, fmt.Errorf("regex %q: end anchor in an include() prefix", re)
		}
		s = strings.TrimSuffix(s, `\Z`)
	} else if strings.HasSuffix(s, "$") && !strings.HasSuffix(s, `\$`) {
		if !last {
			return params, fmt.Errorf("regex %q: end anchor in an include() prefix", re)
		}
		if !fullmatch {
			// Django search()es it (fullmatch() only from Django 2.2 on,
			// see wirePiece.Fullmatch): Python's "$" also matches before a
			// trailing newline, so ^a/$ serves a/ and a/\n; chi only a/.
			return params, fmt.Errorf("regex %q ends in $, which Django searches for: Python's $ also matches before a trailing newline (write \\Z)", re)
		}
		s = strings.TrimSuffix(s, "$")
	} else if last {
		return params, fmt.Errorf("regex %q has no end anchor: it matches any path that starts like it", re)
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return params, fmt.Errorf("regex %q ends with a backslash", re)
			}
			e := s[i+1]
			if isRegexLiteralEscape(e) {
				b.WriteByte(e)
				i += 2
				continue
			}
			return params, fmt.Errorf("regex %q: \\%c outside a named group has no chi equivalent", re, e)
		case c == '(':
			if !strings.HasPrefix(s[i:], "(?P<") {
				return params, fmt.Errorf("regex %q: only named groups (?P<name>...) can be translated", re)
			}
			end := closingParen(s, i)
			if end < 0 {
				return params, fmt.Errorf("regex %q: unbalanced parentheses", re)
			}
			gt := strings.IndexByte(s[i:end], '>')
			if gt < 0 || !paramName.MatchString(s[i+4:i+gt]) {
				return params, fmt.Errorf("regex %q: bad group name", re)
			}
			name := s[i+4 : i+gt]
			inner := s[i+gt+1 : end]
			rest := last && end == len(s)-1
			if rest && inner == ".*" {
				// The rest of the path: chi's catch-all.
				b.WriteString(catchAllAt)
				params = append(params, RouteParam{Name: name, Converter: "regex", Regex: ""})
				i = end + 1
				continue
			}
			// regexParam, as for Pyramid and Bottle: graft's constrained
			// catch-all for a last group that may span "/" ((?P<p>.+),
			// (?P<p>[a-z/]+)), and \d read as [0-9] with PythonRegex
			// \p{Nd} (Django's (?P<year>\d{4})).
			var err error
			if params, err = regexParam(b, params, name, inner, rest); err != nil {
				return params, fmt.Errorf("regex %q, group %s: %v", re, name, err)
			}
			i = end + 1
		case strings.IndexByte(".^$*+?{}[]|)", c) >= 0:
			return params, fmt.Errorf("regex %q: %q outside a named group has no chi equivalent", re, c)
		default:
			b.WriteByte(c)
			i++
		}
	}
	return params, nil
}

func isRegexLiteralEscape(c byte) bool {
	return strings.IndexByte(`./-_~+?()[]|^$\`, c) >= 0
}

// closingParen returns the index of the parenthesis closing s[open].
func closingParen(s string, open int) int {
	depth := 0
	inClass := false
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			inClass = true
		case ']':
			inClass = false
		case '(':
			if !inClass {
				depth++
			}
		case ')':
			if !inClass {
				depth--
				if depth == 0 {
					return i
				}
			}
		}
	}
	return -1
}

// segmentRegex checks that a Python parameter regex means the same in Go
// (RE2) and cannot match "/", which a chi parameter never sees, and
// returns it with capturing groups made non-capturing.
func segmentRegex(re string) (string, error) {
	t, err := sameRegex(re)
	if err != nil {
		return "", err
	}
	if canMatchIn(t, '/', '/') {
		return "", fmt.Errorf("regex %q can match \"/\", which chi parameters never span", re)
	}
	if regexp.MustCompile(`^(?:` + re + `)$`).MatchString("") {
		// Flask and Django pass the empty value to the view (/p/ for
		// (?P<x>[a-z]*) or <string(minlength=0):x>); chi matches no route.
		return "", fmt.Errorf("regex %q matches the empty text, which a chi parameter never is", re)
	}
	if t.MaxCap() > 0 {
		return "", fmt.Errorf("regex %q has nested groups", re)
	}
	if topLevelAlternation(re) {
		// chi anchors the constraint as ^re$, which would bind to the
		// first and last alternatives only.
		re = "(?:" + re + ")"
	}
	return re, nil
}

// restRegex checks that a Python regex for the rest of the path, "/"
// included, means the same in Go, for graft's constrained catch-all
// ({*:re}), which matches it against the whole rest.
func restRegex(re string) (string, error) {
	t, err := sameRegex(re)
	if err != nil {
		return "", err
	}
	if t.MaxCap() > 0 {
		return "", fmt.Errorf("regex %q has nested groups", re)
	}
	return re, nil
}

// sameRegex parses re, a Python regex, as RE2 and refuses it when Go
// would read it otherwise than Python.
func sameRegex(re string) (*syntax.Regexp, error) {
	if re == "" {
		return nil, fmt.Errorf("empty regex")
	}
	if e := unicodeEscape(re); e != "" {
		return nil, fmt.Errorf("regex %q: Python's %s is Unicode-aware (non-ASCII digits, letters or spaces), Go's ASCII only", re, e)
	}
	if d := readsOtherwise(re); d != "" {
		return nil, fmt.Errorf("regex %q: Python and Go read %s differently", re, d)
	}
	t, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("regex %q is not RE2 (Go) syntax: %v", re, err)
	}
	if hasAnchor(t) {
		// chi matches the constraint against the parameter's value alone
		// (^x$ on "x"), Python the group within the whole path: Django
		// does not match a/x/ for ^a/(?P<n>^x)/$, nor for
		// ^a/(?P<n>x$)/$, where chi's /a/{n:^x}/ and /a/{n:x$}/ do.
		return nil, fmt.Errorf("regex %q holds an anchor (^, $, \\A, \\z): Python's are the whole path's, chi's the parameter's", re)
	}
	return t, nil
}

// hasAnchor reports whether re holds a start or end anchor.
func hasAnchor(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
		return true
	}
	for _, sub := range re.Sub {
		if hasAnchor(sub) {
			return true
		}
	}
	return false
}

// unicodeEscape returns the first of \d \D \w \W \s \S \b \B in re,
// in a class or not, or "". Python's str patterns (Django's and
// werkzeug's, without re.ASCII) read them as Unicode classes, RE2 as ASCII
// ones: Django answers /w/café/ for (?P<w>\w+), chi would not. No RE2 class
// is known to equal Python's (\w follows str.isalnum(), and the two
// Unicode versions differ), so such a regex is refused, not rewritten.
func unicodeEscape(re string) string {
	for i := 0; i+1 < len(re); i++ {
		if re[i] != '\\' {
			continue
		}
		if strings.IndexByte("dDwWsSbB", re[i+1]) >= 0 {
			return re[i : i+2]
		}
		i++ // skip the escaped character (\\d is a backslash and a d)
	}
	return ""
}

// readsOtherwise returns the first construct of re that Python's re and
// Go's RE2 both accept but read differently, or "": a repetition with no
// lower bound ("{,3}", "{,}": 0 to 3, 0 or more in Python; the text
// itself in RE2), and a POSIX class inside brackets ("[[:alpha:]]": a
// class of letters in RE2; in Python the set of "[", ":", "a", "l", "p",
// "h" followed by a literal "]"). Either way the translated pattern would
// route other paths than Django.
func readsOtherwise(re string) string {
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\':
			i++
		case inClass:
			if c == '[' && i+1 < len(re) && re[i+1] == ':' && strings.Contains(re[i+2:], ":]") {
				// RE2 reads a named class whenever ":]" follows.
				return "the POSIX class " + re[i:i+2+strings.Index(re[i+2:], ":]")+2]
			}
			inClass = c != ']'
		case c == '[':
			inClass = true
			j := i + 1
			if j < len(re) && re[j] == '^' {
				j++
			}
			if j < len(re) && re[j] == ']' {
				i = j // a "]" first in a class is literal in both
			}
		case c == '{' && i+1 < len(re) && re[i+1] == ',':
			j := i + 2
			for j < len(re) && isDigit(re[j]) {
				j++
			}
			if j < len(re) && re[j] == '}' {
				return "the repetition " + re[i:j+1]
			}
		}
	}
	return ""
}

// topLevelAlternation reports whether re has a "|" outside groups and
// classes.
func topLevelAlternation(re string) bool {
	depth, inClass := 0, false
	for i := 0; i < len(re); i++ {
		switch c := re[i]; {
		case c == '\\':
			i++
		case inClass:
			inClass = c != ']'
		case c == '[':
			inClass = true
			if i+1 < len(re) && re[i+1] == ']' {
				i++ // a literal ] first in a class
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '|' && depth == 0:
			return true
		}
	}
	return false
}

// canMatchIn reports whether a regexp may match a string holding a
// character in [lo, hi].
func canMatchIn(re *syntax.Regexp, lo, hi rune) bool {
	switch re.Op {
	case syntax.OpAnyChar:
		return true
	case syntax.OpAnyCharNotNL:
		return lo != '\n' || hi != '\n'
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if lo <= r && r <= hi {
				return true
			}
			if re.Flags&syntax.FoldCase != 0 {
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					if lo <= f && f <= hi {
						return true
					}
				}
			}
		}
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= hi && lo <= re.Rune[i+1] {
				return true
			}
		}
	}
	for _, sub := range re.Sub {
		if canMatchIn(sub, lo, hi) {
			return true
		}
	}
	return false
}

// checkTails refuses a pattern where a parameter is followed by text
// that starts with a character its value may hold. chi ends a parameter's
// value at the first occurrence of the byte that follows it in the
// pattern (and then checks the constraint), where Flask and Django
// backtrack to the longest match: for /f/<name>.json both answer
// /f/a.b.json with name "a.b", chi's /f/{name}.json finds no route; for
// /<x>.<y> chi splits b.c.d as "b" and "c.d", Python as "b.c" and "d".
// A parameter followed by "/" or ending the pattern is exact (no value
// holds "/"), and so is one whose constraint cannot match the next
// character ({n:[0-9]+}.json).
func checkTails(p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] != '{' {
			continue
		}
		end := chipattern.ClosingBrace(p, i)
		if end < 0 {
			return nil // chi's own check (checkChi) reports it
		}
		name, re, _ := strings.Cut(p[i+1:end], ":")
		i = end
		if end+1 >= len(p) || p[end+1] == '/' {
			continue
		}
		c := p[end+1]
		if c == '{' {
			return fmt.Errorf("parameter %s is followed by another parameter: chi cannot tell where one ends", name)
		}
		lo, hi := rune(c), rune(c)
		if c >= utf8.RuneSelf {
			// chi looks for the byte, which also starts other characters
			lo, hi = utf8.RuneSelf, unicode.MaxRune
		}
		can := re == "" // any text without "/"
		if !can {
			t, err := syntax.Parse(re, syntax.Perl)
			can = err != nil || canMatchIn(t, lo, hi)
		}
		if can {
			text := p[end+1:]
			if k := strings.IndexAny(text, "/{"); k >= 0 {
				text = text[:k]
			}
			return fmt.Errorf("parameter %s is followed by %q, whose first character its value may hold: chi ends the value there, Flask and Django at the last place that lets the rest match", name, text)
		}
	}
	return nil
}
