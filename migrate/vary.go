package migrate

import (
	"fmt"
	"slices"
	"strings"
)

// varyEntry reads an ignore entry naming one field inside Vary, "Vary:
// Accept-Language" (any case, any spacing around the name): ok is false
// for an entry without ":" (a JSON pointer or a header name), and err
// says what is wrong with one that has a ":" but is not "Vary: Name".
// name is lower case.
func varyEntry(s string) (name string, ok bool, err error) {
	if s == "" || s[0] == '/' {
		return "", false, nil
	}
	head, name, found := strings.Cut(s, ":")
	if !found {
		return "", false, nil
	}
	if !strings.EqualFold(strings.TrimSpace(head), "Vary") {
		return "", true, fmt.Errorf("migrate: ignore entry %q: only Vary takes a field name after \":\" (such as \"Vary: Accept-Language\"); ignore a whole header by its name alone", s)
	}
	name = strings.TrimSpace(name)
	if name == "*" || !validHeaderName(name) { // "*" is no field name: it stands alone
		return "", true, fmt.Errorf("migrate: ignore entry %q does not name one header field after \"Vary:\" (want such as \"Vary: Accept-Language\")", s)
	}
	return strings.ToLower(name), true, nil
}

// varyIgnored returns the field names that the ignore entries "Vary:
// Name" of list leave out of Vary, lower case; nil when there are none.
// Entries are checked first ([RouteConfig].Check): a malformed one is
// skipped here.
func varyIgnored(list []string) []string {
	var names []string
	for _, s := range list {
		if name, ok, err := varyEntry(s); ok && err == nil {
			names = append(names, name)
		}
	}
	return names
}

// varyValue returns the comparable form of a response's Vary header
// lines: the set of request header names it lists, lower case, sorted,
// each once ("accept-language, cookie"), so that order, letter case,
// spacing, repeats and the number of Vary lines do not count; "*" alone
// when it lists "*" (the answer varies on everything: the names beside it
// say nothing more); missing when it lists no name.
//
// Accept-Encoding is left out unless withEncoding: the bodies are
// compared decoded and Content-Encoding is not compared by default, so
// that a side that compresses (a compression middleware, fallback.Static
// with a precompressed variant, Django's GZipMiddleware) and the other
// that does not are both right, the first with "Vary: Accept-Encoding",
// the second without it. A route that compares Content-Encoding (lists it
// in its headers) compares Accept-Encoding in Vary too.
//
// The names in drop (lower case: the route's "Vary: Name" ignore
// entries) are left out as well.
func varyValue(vals []string, withEncoding bool, drop []string) string {
	var names []string
	for _, v := range vals {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			switch {
			case name == "":
			case name == "*":
				return "*"
			case name == "accept-encoding" && !withEncoding:
			case slices.Contains(drop, name):
			default:
				names = append(names, name)
			}
		}
	}
	return nameSet(names)
}

// languageValue returns the comparable form of a Content-Language
// header: the set of language tags it lists (RFC 9110 section 8.5), lower
// case (tags are case-insensitive, RFC 5646: "en-US" is "en-us"), sorted,
// each once; missing when it lists none.
func languageValue(vals []string) string {
	var tags []string
	for _, v := range vals {
		for tag := range strings.SplitSeq(v, ",") {
			if tag = strings.ToLower(strings.TrimSpace(tag)); tag != "" {
				tags = append(tags, tag)
			}
		}
	}
	return nameSet(tags)
}

// nameSet writes names sorted, each once, separated by ", "; missing
// when there are none.
func nameSet(names []string) string {
	if len(names) == 0 {
		return missing
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ", ")
}
