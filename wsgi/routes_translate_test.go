package wsgi

import (
	"strings"
	"testing"
)

// Translation of Python route pieces without Python: the regex subset of
// re_path, Django route converters, and what must be refused.
func TestTranslateRoutes(t *testing.T) {
	conv := func(name string) map[string]wireConv { return map[string]wireConv{} }
	for _, tc := range []struct {
		name    string
		pieces  []wirePiece
		pattern string
		why     string
	}{
		{"django route", []wirePiece{{Kind: "django-route", Text: "a/<int:id>/<slug:s>/<x>/"}}, "/a/{id:[0-9]+}/{s:[-a-zA-Z0-9_]+}/{x}/", ""},
		{"django include", []wirePiece{{Kind: "regex", Text: "^api/"}, {Kind: "django-route", Text: "v<int:n>/"}}, "/api/v{n:[0-9]+}/", ""},
		{"regex escapes", []wirePiece{{Kind: "regex", Text: `^feed\.xml$`, Fullmatch: true}}, "/feed.xml", ""},
		{"regex Z anchor", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>[0-9]+)\Z`}}, `/a/{n:[0-9]+}`, ""},
		{"regex digit", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>\d+)/$`, Fullmatch: true}}, "/a/{n:[0-9]+}/", ""},
		{"regex non-digit", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>\D+)/$`, Fullmatch: true}}, "", `Python's \D is Unicode-aware`},
		{"regex unicode word in class", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>[\w.-]+)/$`, Fullmatch: true}}, "", `Python's \w is Unicode-aware`},
		{"regex negated space", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>[^\S/]+)/$`, Fullmatch: true}}, "", `Python's \S is Unicode-aware`},
		{"regex word boundary", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>x\b)/$`, Fullmatch: true}}, "", `Python's \b is Unicode-aware`},
		{"regex escaped backslash then d", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>[\\d]+)/$`, Fullmatch: true}}, `/a/{n:[\\d]+}/`, ""},
		{"flask string regex unicode", []wirePiece{{Kind: "flask", Parts: []wirePart{{Text: "/"}, {Param: "s", Converter: "string", Args: "x", Regex: `\w+`}}}}, "", `Python's \w is Unicode-aware`},
		{"regex class with slash excluded", []wirePiece{{Kind: "regex", Text: `^f/(?P<n>[^/]+)/$`, Fullmatch: true}}, "/f/{n:[^/]+}/", ""},
		{"regex $ searched", []wirePiece{{Kind: "regex", Text: `^a/$`}}, "", "also matches before a trailing newline"},
		{"regex Z searched", []wirePiece{{Kind: "regex", Text: `^a/\Z`}}, "/a/", ""},
		{"regex start anchor in a group", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>^x)/$`, Fullmatch: true}}, "", "holds an anchor"},
		{"regex end anchor in a group", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>x$)/$`, Fullmatch: true}}, "", "holds an anchor"},
		{"regex text anchor in a group", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>\Ax|y)/$`, Fullmatch: true}}, "", "holds an anchor"},
		{"regex anchor in a rest", []wirePiece{{Kind: "regex", Text: `^a/(?P<p>.+$)$`, Fullmatch: true}}, "", "holds an anchor"},
		{"regex rest", []wirePiece{{Kind: "regex", Text: `^static/(?P<p>.*)$`, Fullmatch: true}}, "/static/*", ""},
		{"regex rest of one character at least", []wirePiece{{Kind: "regex", Text: `^static/(?P<p>.+)$`, Fullmatch: true}}, "/static/{*:.+}", ""},
		{"regex rest class", []wirePiece{{Kind: "regex", Text: `^static/(?P<p>[a-z/]+)\Z`}}, "/static/{*:[a-z/]+}", ""},
		{"regex rest unicode", []wirePiece{{Kind: "regex", Text: `^static/(?P<p>[\w/]+)$`, Fullmatch: true}}, "", `Python's \w is Unicode-aware`},
		{"django path", []wirePiece{{Kind: "django-route", Text: "docs/<path:p>"}}, "/docs/{*:.+}", ""},
		{"flask path", []wirePiece{{Kind: "flask", Parts: []wirePart{{Text: "/f/"}, {Param: "p", Converter: "path"}}}}, "/f/{*:[^/].*}", ""},
		{"regex lookahead", []wirePiece{{Kind: "regex", Text: `^a/(?P<n>(?!x)[a-z]+)/$`, Fullmatch: true}}, "", "not RE2"},
		{"regex backreference", []wirePiece{{Kind: "regex", Text: `^(?P<a>x)/(?P=a)/$`, Fullmatch: true}}, "", "named groups"},
		{"regex dot outside group", []wirePiece{{Kind: "regex", Text: `^a.b/$`, Fullmatch: true}}, "", "outside a named group"},
		{"regex optional slash", []wirePiece{{Kind: "regex", Text: `^a/?$`, Fullmatch: true}}, "", "outside a named group"},
		{"regex alternation", []wirePiece{{Kind: "regex", Text: `^(a|b)/$`, Fullmatch: true}}, "", "only named groups"},
		{"regex no anchor", []wirePiece{{Kind: "regex", Text: `^a/`}}, "", "no end anchor"},
		{"regex group spans slash", []wirePiece{{Kind: "regex", Text: `^a/(?P<p>.+)/b/$`, Fullmatch: true}}, "", `can match "/"`},
		{"regex nested group", []wirePiece{{Kind: "regex", Text: `^a/(?P<p>([0-9])+)/$`, Fullmatch: true}}, "", "nested groups"},
		{"regex anchor in prefix", []wirePiece{{Kind: "regex", Text: `^a/$`}, {Kind: "django-route", Text: "b/"}}, "", "end anchor in an include"},
		{"path mid route", []wirePiece{{Kind: "django-route", Text: "<path:p>/x/"}}, "", "not at the end"},
		{"path in prefix", []wirePiece{{Kind: "django-route", Text: "<path:p>"}, {Kind: "django-route", Text: "x/"}}, "", "not at the end"},
		{"custom converter", []wirePiece{{Kind: "django-route", Text: "<yyyy:y>/", Converters: conv("y")}}, "", "custom converter"},
		{"chi metacharacter", []wirePiece{{Kind: "django-route", Text: "a*b/"}}, "", "chi reads"},
		{"flask any", []wirePiece{{Kind: "flask", Parts: []wirePart{{Text: "/"}, {Param: "l", Converter: "any", Regex: "(?:en|fr)"}}}}, "/{l:(?:en|fr)}", ""},
		{"flask any with slash", []wirePiece{{Kind: "flask", Parts: []wirePart{{Text: "/"}, {Param: "l", Converter: "any", Args: "'a/b'", Regex: "(?:a/b)"}}}}, "", `can match "/"`},
		{"flask float signed", []wirePiece{{Kind: "flask", Parts: []wirePart{{Text: "/"}, {Param: "f", Converter: "float", Args: "signed=True"}}}}, `/{f:-?[0-9]+\.[0-9]+}`, ""},
		{"regex alternation in group", []wirePiece{{Kind: "regex", Text: `^(?P<app>auth|notes)/$`, Fullmatch: true}}, "/{app:(?:auth|notes)}/", ""},
		{"regex alternation in class only", []wirePiece{{Kind: "regex", Text: `^(?P<c>[|a]+)/$`, Fullmatch: true}}, "/{c:[|a]+}/", ""},
		{"regex unanchored prefix", []wirePiece{{Kind: "regex", Text: "blogx/"}, {Kind: "django-route", Text: "post/"}}, "", "no start anchor"},
		{"regex unanchored Z endpoint", []wirePiece{{Kind: "regex", Text: `a/\Z`}}, "", "no start anchor"},
		// Django matches the path without its first "/": these serve
		// //a/ and //x only, which graft's router routes as /a/ and /x.
		{"regex starting with a slash", []wirePiece{{Kind: "regex", Text: `^/a/$`, Fullmatch: true}}, "", "starts with / after the path's own"},
		{"unanchored rest starting with a slash", []wirePiece{{Kind: "regex", Text: `/(?P<A>.*)$`, Fullmatch: true}}, "", "starts with / after the path's own"},
		{"django route starting with a slash", []wirePiece{{Kind: "django-route", Text: "/x"}}, "", "starts with / after the path's own"},
		{"regex unanchored endpoint fullmatched", []wirePiece{{Kind: "regex", Text: "a/$", Fullmatch: true}}, "/a/", ""},
		{"locale prefix", []wirePiece{{Kind: "locale", Text: "fr/", Language: "fr"}, {Kind: "django-route", Text: "about/"}}, "/fr/about/", ""},
		// chi ends a parameter at the first byte of the text after it;
		// Python backtracks (Flask answers /f/a.b.json with name "a.b").
		{"str then dot", []wirePiece{{Kind: "django-route", Text: "f/<name>.json"}}, "", `parameter name is followed by ".json"`},
		{"two params around a dot", []wirePiece{{Kind: "flask", Parts: []wirePart{{Text: "/a/"}, {Param: "x", Converter: "default"}, {Text: "."}, {Param: "y", Converter: "default"}}}}, "", "parameter x is followed by"},
		{"slug then dash", []wirePiece{{Kind: "django-route", Text: "p/<slug:s>-<int:n>/"}}, "", "parameter s is followed by"},
		{"uuid then dash", []wirePiece{{Kind: "django-route", Text: "u/<uuid:u>-x/"}}, "", "parameter u is followed by"},
		{"dash across include", []wirePiece{{Kind: "regex", Text: "^p/(?P<s>[a-z-]+)"}, {Kind: "django-route", Text: "-<int:n>/"}}, "", "parameter s is followed by"},
		{"case-folded literal", []wirePiece{{Kind: "regex", Text: `^p/(?P<s>(?i)ab)b/$`, Fullmatch: true}}, "", "parameter s is followed by"},
		{"non-ASCII after any text", []wirePiece{{Kind: "django-route", Text: "p/<s>é/"}}, "", "parameter s is followed by"},
		{"adjacent params", []wirePiece{{Kind: "django-route", Text: "p/<a><b>/"}}, "", "followed by another parameter"},
		{"int then dot", []wirePiece{{Kind: "django-route", Text: "v/<int:n>.json"}}, "/v/{n:[0-9]+}.json", ""},
		{"slug then dot", []wirePiece{{Kind: "django-route", Text: "p/<slug:s>.html"}}, "/p/{s:[-a-zA-Z0-9_]+}.html", ""},
		{"any then dash", []wirePiece{{Kind: "flask", Parts: []wirePart{{Text: "/"}, {Param: "l", Converter: "any", Regex: "(?:en|fr)"}, {Text: "-x"}}}}, "/{l:(?:en|fr)}-x", ""},
		{"ASCII class then non-ASCII", []wirePiece{{Kind: "regex", Text: `^p/(?P<s>[a-z]+)é/$`, Fullmatch: true}}, "/p/{s:[a-z]+}é/", ""},
		{"unknown kind", []wirePiece{{Kind: "quux"}}, "", "unknown route piece"},
		// Python reads a{,3} as 0 to 3 a's, RE2 as the text "a{,3}".
		{"repetition without lower bound", []wirePiece{{Kind: "regex", Text: `^p/(?P<n>a{,3})/$`, Fullmatch: true}}, "", "read the repetition {,3} differently"},
		{"repetition without bounds", []wirePiece{{Kind: "regex", Text: `^p/(?P<n>x{,})/$`, Fullmatch: true}}, "", "read the repetition {,} differently"},
		{"repetition with a lower bound", []wirePiece{{Kind: "regex", Text: `^p/(?P<n>a{1,3})/$`, Fullmatch: true}}, "/p/{n:a{1,3}}/", ""},
		{"escaped brace", []wirePiece{{Kind: "regex", Text: `^p/(?P<n>a\{,3})/$`, Fullmatch: true}}, "/p/{n:a\\{,3}}/", ""},
		// Python gives the view an empty value, chi matches no route.
		{"group matching the empty text", []wirePiece{{Kind: "regex", Text: `^f/(?P<a>0*)$`, Fullmatch: true}}, "", "matches the empty text"},
		{"flask string of minlength 0", []wirePiece{{Kind: "flask", Parts: []wirePart{{Text: "/p/"}, {Param: "c", Converter: "string", Args: "minlength=0", Regex: "[^/]{0,}"}}}}, "", "matches the empty text"},
		// RE2 reads [[:alpha:]] as letters, Python as a set of "[:alph" and a "]".
		{"POSIX class", []wirePiece{{Kind: "regex", Text: `^p/(?P<n>[[:alpha:]]+)/$`, Fullmatch: true}}, "", "read the POSIX class [:alpha:] differently"},
		{"bracket and colon", []wirePiece{{Kind: "regex", Text: `^p/(?P<n>[[:a]+)/$`, Fullmatch: true}}, "/p/{n:[[:a]+}/", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, why := translate(tc.pieces)
			if why == "" {
				if err := checkChi(p); err != nil {
					why = err.Error()
				}
			}
			if p != tc.pattern && tc.why == "" || tc.why != "" && !strings.Contains(why, tc.why) || tc.why == "" && why != "" {
				t.Errorf("translate = %q, %q; want %q, %q", p, why, tc.pattern, tc.why)
			}
		})
	}
}

// FuzzTranslateRegex: any regex route gives a pattern chi accepts, or a
// reason; never a panic.
func FuzzTranslateRegex(f *testing.F) {
	for _, s := range []string{`^a/(?P<n>[0-9]+)/$`, `^(?P<p>.*)$`, `^x\.y/(?P<a>[^/]{2})/(?P<b>\w+)\Z`, `^(?P<a>(`, `^a/(?P<`, `\`, `^(?P<x>[)]+)/$`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, re string) {
		p, _, why := translate([]wirePiece{{Kind: "regex", Text: re}})
		if why != "" {
			return
		}
		if err := checkChi(p); err != nil && !strings.Contains(p, "{") {
			t.Fatalf("%q translated to %q, which chi rejects: %v", re, p, err)
		}
	})
}

// FuzzParseRouteMap: whatever a worker answers to a routes call gives a
// route map or an error, never a panic, and every pattern it gives is one
// chi accepts.
func FuzzParseRouteMap(f *testing.F) {
	for _, s := range []string{
		`{"apps":[{"mount":"","framework":"flask","class":"flask.app.Flask","wrappers":[],"routes":[{"rule":"/a/<int:x>","pieces":[{"kind":"flask","parts":[{"text":"/a/"},{"param":"x","converter":"int","regex":"\\d+"}]}],"methods":["GET"],"endpoint":"a"}]}]}`,
		`{"apps":[{"mount":"/api","framework":"django","routes":[{"rule":"^x/(?P<y>[a-z]+)/$","pieces":[{"kind":"regex","text":"^x/(?P<y>[a-z]+)/$"}]}]}]}`,
		`{"apps":[{"framework":"django","routes":[{"pieces":[{"kind":"django-route","text":"<path:p>","converters":{"p":{"converter":"path"}}}]}]}]}`,
		`{"apps":[]}`, `null`, `{`, `{"apps":[{"routes":[{"pieces":[{"kind":"flask","parts":[{"param":"x","converter":"any","regex":"(?:a|b"}]}]}]}]}`,
	} {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "/legacy")
	}
	f.Fuzz(func(t *testing.T, data []byte, scriptName string) {
		m, err := parseRouteMap(data, scriptName)
		if err != nil {
			return
		}
		for _, r := range m.Routes {
			if r.Pattern == "" && r.Untranslatable == "" {
				t.Fatalf("route %+v has neither a pattern nor a reason", r)
			}
			if r.Pattern != "" {
				if err := checkChi(r.Pattern); err != nil {
					t.Fatalf("pattern %q: %v", r.Pattern, err)
				}
			}
		}
	})
}

// Flask's number converters: the pattern keeps to 0-9, and PythonRegex
// widens it to every decimal digit only when the converter's own regex
// uses \d (werkzeug's), not for one that says [0-9] itself.
func TestFlaskNumberDigits(t *testing.T) {
	for _, tc := range []struct {
		conv, args, pyRe, re, wide string
	}{
		{"int", "", `\d+`, "[0-9]+", `\p{Nd}+`},
		{"int", "signed=True", `-?\d+`, "-?[0-9]+", `-?\p{Nd}+`},
		{"float", "", `\d+\.\d+`, `[0-9]+\.[0-9]+`, `\p{Nd}+\.\p{Nd}+`},
		{"float", "signed = True", `-?\d+\.\d+`, `-?[0-9]+\.[0-9]+`, `-?\p{Nd}+\.\p{Nd}+`},
		{"int", "", `[0-9]+`, "[0-9]+", ""},
		{"int", "", "", "[0-9]+", ""},
	} {
		t.Run(tc.conv+" "+tc.pyRe, func(t *testing.T) {
			_, params, why := translate([]wirePiece{{Kind: "flask", Parts: []wirePart{{Text: "/p/"}, {Param: "n", Converter: tc.conv, Args: tc.args, Regex: tc.pyRe}}}})
			if why != "" || len(params) != 1 || params[0].Regex != tc.re || params[0].PythonRegex != tc.wide {
				t.Errorf("params %+v (%s); want Regex %q, PythonRegex %q", params, why, tc.re, tc.wide)
			}
		})
	}
}

// Django's re_path regexes read \d as Pyramid's and Bottle's are read
// (regexParam): [0-9] in the pattern (0-9 in a class), with PythonRegex
// recording Python's other decimal digits, \p{Nd}; \d in a negated class,
// \D and \w stay refused.
func TestTranslateDjangoDigits(t *testing.T) {
	for _, tc := range []struct {
		name, re, pattern, wide, why string
	}{
		{"year", `^articles/(?P<year>\d{4})/$`, "/articles/{year:[0-9]{4}}/", `\p{Nd}{4}`, ""},
		{"two groups", `^a/(?P<y>\d{4})/(?P<m>\d\d)/\Z`, "/a/{y:[0-9]{4}}/{m:[0-9][0-9]}/", `\p{Nd}{4}`, ""},
		{"in a class", `^a/(?P<n>[\d.]+)/$`, "/a/{n:[0-9.]+}/", `[\p{Nd}.]+`, ""},
		{"alternation", `^a/(?P<n>\d+|x)/$`, "/a/{n:(?:[0-9]+|x)}/", `(?:\p{Nd}+|x)`, ""},
		{"rest of the path", `^f/(?P<p>[\d/]+)$`, "/f/{*:[0-9/]+}", `[\p{Nd}/]+`, ""},
		{"no digit escape", `^a/(?P<n>[0-9]+)/$`, "/a/{n:[0-9]+}/", "", ""},
		{"negated class", `^a/(?P<n>[^\d/]+)/$`, "", "", `Python's \d is Unicode-aware`},
		{"non-digit", `^a/(?P<n>\D+)/$`, "", "", `Python's \D is Unicode-aware`},
		{"word", `^a/(?P<n>\d\w)/$`, "", "", `Python's \w is Unicode-aware`},
		{"outside a group", `^a/\d/$`, "", "", `\d outside a named group`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, params, why := translate([]wirePiece{{Kind: "regex", Text: tc.re, Fullmatch: true}})
			if tc.why != "" {
				if !strings.Contains(why, tc.why) {
					t.Errorf("translate = %q, %q; want refused with %q", p, why, tc.why)
				}
				return
			}
			if why != "" || p != tc.pattern || len(params) == 0 || params[0].PythonRegex != tc.wide {
				t.Errorf("translate = %q, %+v, %q; want %q with PythonRegex %q", p, params, why, tc.pattern, tc.wide)
			}
		})
	}
}
