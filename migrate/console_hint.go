package migrate

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// diffHints says, for the differences of one mismatch that a framework's
// middleware usually causes (Vary and Content-Language, which Django's
// LocaleMiddleware and the session machinery of Flask and Django add),
// what they mean and the two ways out: the header added in Go, or the
// exact ignore entry for the route when Go's answer is right without it.
// Other differences get no hint.
func diffHints(diffs []Diff) []string {
	var hints []string
	for _, d := range diffs {
		switch d.Pointer {
		case "header:Vary":
			py, gov := varyNames(d.Python), varyNames(d.Go)
			if py == nil || gov == nil {
				continue // "*" on a side: the answer varies on everything
			}
			for _, name := range py {
				if !slices.Contains(gov, name) {
					hints = append(hints, varyLostHint(http.CanonicalHeaderKey(name)))
				}
			}
			for _, name := range gov {
				if !slices.Contains(py, name) {
					n := http.CanonicalHeaderKey(name)
					hints = append(hints, fmt.Sprintf("Go varies on %s, Python does not: a shared cache keeps more copies than it needs, "+
						"and a client gets the right answer. If Go's answer depends on %[1]s, Python's was wrong to omit it: "+
						`keep it and add "ignore": ["Vary: %[1]s"] to the route; if it does not, remove it in Go.`, n))
				}
			}
		case "header:Content-Language":
			if d.Python != missing && d.Go == missing {
				hints = append(hints, fmt.Sprintf("Python states the language of its answer (Content-Language: %s), Go does not: "+
					"Django's LocaleMiddleware adds it to every answer. If Go's answer holds translated text, set it in Go "+
					`(w.Header().Set("Content-Language", lang)); if it has nothing to translate (a JSON API), add "ignore": ["Content-Language"] to the route.`, d.Python))
			}
		}
	}
	return hints
}

// varyLostHint is the hint for a name Python's Vary lists and Go's does
// not.
func varyLostHint(name string) string {
	switch name {
	case "Accept-Language":
		return "Python varies on Accept-Language, Go does not. Django's LocaleMiddleware adds it to every answer of a path " +
			"without a language prefix, whether or not the view reads the language. If Go's answer is the same in every " +
			`language (a JSON API without translated text), Go is right and more cacheable: add "ignore": ["Vary: Accept-Language"] ` +
			"to the route (it still compares the rest of Vary). If the answer is translated, a shared cache would give one " +
			`language's answer to everyone: add it in Go (w.Header().Add("Vary", "Accept-Language")).`
	case "Cookie":
		return "Python varies on Cookie, Go does not: the view read the session, so its answer is one user's, and a shared " +
			`cache would give it to other users. Add it in Go (w.Header().Add("Vary", "Cookie"); session.Flask's Save and ` +
			`IdentityMiddleware add it). Add "ignore": ["Vary: Cookie"] to the route only if Go's answer is the same for every user.`
	}
	return fmt.Sprintf(`Python varies on %s, Go does not: a shared cache would give the answer to one %[1]s to every client. `+
		`Add it in Go (w.Header().Add("Vary", %[1]q)), or, if Go's answer does not depend on %[1]s, add "ignore": ["Vary: %[1]s"] to the route.`, name)
}

// varyNames reads a Vary value as Compare shows it ("accept-language,
// cookie", or "(missing)"): its names, none for missing, nil for "*".
func varyNames(v string) []string {
	switch v {
	case missing:
		return []string{}
	case "*":
		return nil
	}
	names := []string{}
	for name := range strings.SplitSeq(v, ",") {
		if name = strings.TrimSpace(name); name != "" && !strings.HasSuffix(name, ")") {
			names = append(names, name)
		}
	}
	return names
}
