package migrate

import (
	"slices"
	"strings"
)

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
func varyValue(vals []string, withEncoding bool) string {
	var names []string
	for _, v := range vals {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			switch {
			case name == "":
			case name == "*":
				return "*"
			case name == "accept-encoding" && !withEncoding:
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
