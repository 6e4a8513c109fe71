package wsgi

// Translation of Bottle rules, Falcon URI templates and Pyramid route
// patterns into chi patterns, with the rules Flask's follow (routepattern.go):
// each converter kept as a constraint, what cannot be translated exactly
// refused with the reason.

import (
	"fmt"
	"regexp/syntax"
	"strings"
)

// Constraints of Bottle's and Falcon's number filters.
const (
	// Bottle's float filter is -?[\d.]+ read by float(): a text of digits
	// and dots float() does not read ("1.2.3", ".") is Bottle's 400, not
	// its route; this is what float() reads of it.
	reBottleFloat = `-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)`
	// Falcon's int converter is int() on a segment without surrounding
	// space: a sign, and digits with single underscores between them.
	reFalconInt       = `[+-]?[0-9]+`
	reFalconIntPython = `[+-]?\p{Nd}+(?:_\p{Nd}+)*`
)

// translateBottle translates a Bottle rule, cut by Bottle's own tokenizer:
// <name> (and :name), <name:int>, <name:float>, <name:path>,
// <name:re:...> and the filters added with Router.add_filter.
func translateBottle(b *strings.Builder, parts []wirePart, params []RouteParam) ([]RouteParam, error) {
	if len(parts) == 0 || parts[0].Converter != "" || !strings.HasPrefix(parts[0].Text, "/") {
		// Bottle matches the rule as written against PATH_INFO, which
		// starts with "/" (Flask and Falcon refuse such a rule, Pyramid
		// adds the slash).
		return params, fmt.Errorf("the rule does not start with \"/\": Bottle never matches it")
	}
	for i, pt := range parts {
		if pt.Param == "" && pt.Converter == "" {
			if err := writeStatic(b, pt.Text); err != nil {
				return params, err
			}
			continue
		}
		last := i == len(parts)-1
		if pt.Class != "" {
			return params, fmt.Errorf("<%s:%s>: custom filter %s (its to_python may reject what its regex accepts)", pt.Param, pt.Converter, pt.Class)
		}
		if !paramName.MatchString(pt.Param) {
			return params, fmt.Errorf("wildcard %q has no name chi can give a parameter", "<"+pt.Param+":"+pt.Converter+">")
		}
		switch pt.Converter {
		case "re":
			if pt.Args == "" {
				params = writeParam(b, params, pt.Param, "default", "") // [^/]+
				continue
			}
			var err error
			if params, err = regexParam(b, params, pt.Param, pt.Regex, last); err != nil {
				return params, fmt.Errorf("<%s:re:%s>: %v", pt.Param, pt.Args, err)
			}
		case "int", "float":
			re := `-?` + reInt
			if pt.Converter == "float" {
				re = reBottleFloat
			}
			params = writeParam(b, params, pt.Param, pt.Converter, re)
			params[len(params)-1].PythonRegex = pythonDigits(pt.Regex, re)
		case "path":
			if !last {
				return params, fmt.Errorf("path wildcard <%s:path> is not at the end; chi's catch-all (*) must end a pattern", pt.Param)
			}
			params = writeCatchAll(b, params, pt.Param, "path", reDjangoPath) // .+?, one character at least
		default:
			return params, fmt.Errorf("<%s:%s>: unknown filter", pt.Param, pt.Converter)
		}
	}
	return params, nil
}

// translateFalcon translates a Falcon URI template: a segment that is one
// field, {name} or {name:int}, and fields among text ({a}.json), which
// Falcon matches with a regex's (?P<a>.+).
func translateFalcon(b *strings.Builder, parts []wirePart, params []RouteParam) ([]RouteParam, error) {
	for _, pt := range parts {
		if pt.Param == "" && pt.Converter == "" {
			if err := writeStatic(b, pt.Text); err != nil {
				return params, err
			}
			continue
		}
		if !paramName.MatchString(pt.Param) {
			return params, fmt.Errorf("field {%s} has no name chi can give a parameter", pt.Param)
		}
		switch {
		case pt.Converter == "default":
			params = writeParam(b, params, pt.Param, "default", "")
		case pt.Converter == "complex":
			// Go's "." takes no newline, as Python's; the value holds no "/".
			params = writeParam(b, params, pt.Param, "default", ".+")
		case pt.Converter == "int" && pt.Args == "":
			params = writeParam(b, params, pt.Param, "int", reFalconInt)
			params[len(params)-1].PythonRegex = reFalconIntPython
		case pt.Converter == "int":
			return params, fmt.Errorf("{%s:int(%s)}: num_digits, min and max have no chi equivalent", pt.Param, pt.Args)
		case pt.Converter == "uuid":
			return params, fmt.Errorf("{%s:uuid}: Falcon's uuid converter (uuid.UUID) also takes hex digits without hyphens or with them anywhere, braces and a urn:uuid: prefix", pt.Param)
		case pt.Converter == "dt":
			return params, fmt.Errorf("{%s:dt}: a strptime() format has no chi equivalent", pt.Param)
		default:
			return params, fmt.Errorf("{%s:%s}: custom converter (its convert() may reject any segment)", pt.Param, pt.Converter)
		}
	}
	return params, nil
}

// translatePyramid translates a Pyramid route pattern, cut as Pyramid
// cuts it: {name} ([^/]+), {name:regex} and *stararg at the end (the
// rest of the path, empty too: chi's catch-all).
func translatePyramid(b *strings.Builder, parts []wirePart, params []RouteParam) ([]RouteParam, error) {
	for i, pt := range parts {
		if pt.Param == "" && pt.Converter == "" {
			if err := writeStatic(b, pt.Text); err != nil {
				return params, err
			}
			continue
		}
		last := i == len(parts)-1
		if !paramName.MatchString(pt.Param) {
			return params, fmt.Errorf("placeholder %q has no name chi can give a parameter", pt.Param)
		}
		switch pt.Converter {
		case "default":
			params = writeParam(b, params, pt.Param, "default", "")
		case "*":
			b.WriteString(catchAllAt)
			params = append(params, RouteParam{Name: pt.Param, Converter: "*"})
		default:
			var err error
			if params, err = regexParam(b, params, pt.Param, pt.Regex, last); err != nil {
				return params, fmt.Errorf("{%s:%s}: %v", pt.Param, pt.Regex, err)
			}
		}
	}
	return params, nil
}

// regexParam appends a parameter matched by a Python regex: {name:re},
// or, for the one ending the route whose regex may match "/", graft's
// constrained catch-all over the rest of the path ({*:re}).
//
// Python's \d (any Unicode decimal digit) is read as [0-9], what a Go
// handler's strconv reads, with the parameter's PythonRegex saying what
// Python takes besides (\p{Nd}), as for Flask's int converter: Pyramid's
// {id:\d+} is the idiom of its documentation. A \d in a negated class
// ([^\d]), where [0-9] would take the other digits Python refuses, is
// left for sameRegex to refuse.
func regexParam(b *strings.Builder, params []RouteParam, name, re string, last bool) ([]RouteParam, error) {
	goRe, pyRe := asciiDigits(re)
	if last {
		if t, err := syntax.Parse(goRe, syntax.Perl); err == nil && canMatchIn(t, '/', '/') {
			rx, err := restRegex(goRe)
			if err != nil {
				return params, err
			}
			params = writeCatchAll(b, params, name, "regex", rx)
			if pyRe != "" {
				params[len(params)-1].PythonRegex = pyRe
			}
			return params, nil
		}
	}
	rx, err := segmentRegex(goRe)
	if err != nil {
		return params, err
	}
	params = writeParam(b, params, name, "regex", rx)
	if pyRe != "" {
		// segmentRegex takes it as it took goRe: \p{Nd} is no escape
		// it refuses; it wraps a top-level alternation the same way.
		if wide, err := segmentRegex(pyRe); err == nil {
			params[len(params)-1].PythonRegex = wide
		}
	}
	return params, nil
}

// asciiDigits returns re with each \d outside a negated class written as
// [0-9] (0-9 inside a class), and what Python's \d matches there in RE2
// syntax, \p{Nd}; re and "" when it has no such \d, or has one inside a
// negated class, where [0-9] would be wider than Python's.
func asciiDigits(re string) (goRe, pyRe string) {
	var g, p strings.Builder
	inClass, negated, found := false, false, false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			if re[i+1] != 'd' {
				g.WriteString(re[i : i+2])
				p.WriteString(re[i : i+2])
				i++
				continue
			}
			if negated {
				return re, ""
			}
			found = true
			if inClass {
				g.WriteString("0-9")
			} else {
				g.WriteString("[0-9]")
			}
			p.WriteString(`\p{Nd}`)
			i++
			continue
		case inClass:
			if c == ']' {
				inClass, negated = false, false
			}
		case c == '[':
			inClass = true
			g.WriteByte(c)
			p.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				negated = true
				i++
				g.WriteByte('^')
				p.WriteByte('^')
			}
			if i+1 < len(re) && re[i+1] == ']' {
				i++ // a "]" first in a class is literal
				g.WriteByte(']')
				p.WriteByte(']')
			}
			continue
		}
		g.WriteByte(c)
		p.WriteByte(c)
	}
	if !found {
		return re, ""
	}
	return g.String(), p.String()
}

// emptyTail returns the other pattern a Falcon route serves when its last
// segment is a field without a converter, which Falcon also matches empty
// (/items/{id} answers /items/ with id ""), where chi's {id} takes one
// character at least: pattern without that field. "" for every other
// route.
func emptyTail(pieces []wirePiece, pattern string) string {
	if len(pieces) != 1 || pieces[0].Kind != "falcon" {
		return ""
	}
	parts := pieces[0].Parts
	if len(parts) < 2 {
		return ""
	}
	lastPart, before := parts[len(parts)-1], parts[len(parts)-2]
	if lastPart.Converter != "default" || before.Param != "" || !strings.HasSuffix(before.Text, "/") {
		return ""
	}
	field := "{" + lastPart.Param + "}"
	if !strings.HasSuffix(pattern, "/"+field) {
		return ""
	}
	return strings.TrimSuffix(pattern, field)
}
