package wsgi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/graft-dev/graft/internal/chipattern"
)

// AppRouteMap is the Python app's own route map, as the worker reads it
// from the loaded app ([Container.AppRoutes]).
type AppRouteMap struct {
	// Framework is "flask", "django", "bottle", "falcon", "pyramid",
	// "unknown" (a WSGI app graft cannot introspect; Routes is then
	// empty), or "mixed" when the apps found behind a
	// DispatcherMiddleware (or a Bottle app's mounts) are of several kinds.
	Framework string `json:"framework"`
	// Apps lists the framework apps found: one, or one per mount of a
	// werkzeug DispatcherMiddleware or of Bottle.mount().
	Apps []PythonApp `json:"apps"`
	// Routes lists every route, in the framework's order (Flask's
	// url_map, Django's urlpatterns depth first, Bottle's app.routes,
	// falcon.inspect's listing, Pyramid's route mapper). Bottle's routes
	// of one rule, name and callback, which Bottle keeps one per method,
	// are one route with their methods, at the first one's place.
	Routes []AppRoute `json:"routes"`
}

// PythonApp is a framework app found in the WSGI callable.
type PythonApp struct {
	// Mount is the prefix a DispatcherMiddleware (or Bottle.mount())
	// mounts the app at, "" for the root app.
	Mount string `json:"mount"`
	// Framework is "flask", "django", "bottle", "falcon", "pyramid" or
	// "unknown".
	Framework string `json:"framework"`
	// Class is the app's Python class ("flask.app.Flask").
	Class string `json:"class"`
	// Wrappers are the WSGI middlewares the app was found behind,
	// outermost first ("werkzeug.middleware.proxy_fix.ProxyFix").
	Wrappers []string `json:"wrappers"`
}

// AppRoute is one route of the Python app.
type AppRoute struct {
	// Framework is "flask", "django", "bottle", "falcon" or "pyramid".
	Framework string `json:"framework"`
	// Rule is the route as the framework writes it: a Flask rule
	// ("/items/<int:id>"), a Django route or regex with the prefixes of
	// its include()s ("shop/items/<int:pk>/", "^archive/(?P<year>[0-9]{4})/$"),
	// a Bottle rule ("/items/<id:int>"), a Falcon URI template
	// ("/items/{id:int}") or a Pyramid pattern ("/files/*rest").
	Rule string `json:"rule"`
	// Pattern is the route in graft's (chi's) pattern syntax, with the
	// container's ScriptName and the app's mount prefix, and every
	// converter kept as a regexp constraint: "/items/{id:[0-9]+}"; a path
	// converter ending the route is graft's constrained catch-all, whose
	// regexp the whole rest of the path must match: Flask's
	// "/files/{*:[^/].*}", Django's "/docs/{*:.+}" (both refuse the empty
	// rest, which chi's "*" takes; see the router package). It is "" when
	// the route cannot be expressed (see Untranslatable).
	Pattern string `json:"pattern"`
	// Untranslatable says why Pattern is empty: a custom converter, a
	// regex with features chi lacks, a path converter before the end.
	Untranslatable string `json:"untranslatable,omitempty"`
	// Params are the route's parameters in order.
	Params []RouteParam `json:"params"`
	// Methods are the HTTP methods the route takes, sorted; nil means
	// any method (a Django view that declares none, a Bottle route for
	// ANY, a Pyramid route whose predicate and views name none).
	Methods []string `json:"methods"`
	// Endpoint is Flask's endpoint ("shop.item"), Django's URL name
	// with its namespaces ("shop:item"), a Bottle route's name or a
	// Pyramid route's; "" for an unnamed Django or Bottle route and for
	// Falcon's (its routes have no names).
	Endpoint string `json:"endpoint"`
	// Module and View name the view function or class; File and Line
	// are where it is defined.
	Module string `json:"module"`
	View   string `json:"view"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	// Alternate is the other pattern a Flask rule with
	// strict_slashes=False serves, without a redirect: Pattern with its
	// trailing slash removed or added ("/items/" serves "/items" too).
	// For a Falcon route whose last segment is a field without a
	// converter, which Falcon also matches empty ("/users/{name}" serves
	// "/users/" with name ""), it is Pattern without that field
	// ("/users/"). "" for every other route (Flask redirects to the rule's own form
	// and Django's APPEND_SLASH redirects to the form with the slash, so
	// those requests come back to Pattern), for a rule ending in a path
	// parameter, and for "/".
	Alternate string `json:"alternate,omitempty"`
	// Mount is the DispatcherMiddleware prefix of the route's app.
	Mount string `json:"mount,omitempty"`
	// Host is a Flask rule's host or subdomain, if it has one.
	Host string `json:"host,omitempty"`
}

// RouteParam is one parameter of a Python route.
type RouteParam struct {
	// Name is the parameter's name; a path parameter at the end of a
	// route becomes the catch-all ("*" or "{*:re}"), whose value chi
	// names "*".
	Name string `json:"name"`
	// Converter is the Python converter ("int", "path", "slug", "uuid",
	// Flask's "default" and "any", Django's "str", Bottle's "float";
	// "default" for Bottle's <name>, Falcon's {name} and Pyramid's
	// {name}; "regex" for a named group of a regex route, Bottle's
	// <name:re:...> and Pyramid's {name:regex}; "*" for Pyramid's
	// *stararg), or a custom converter's class.
	Converter string `json:"converter"`
	// Regex is the constraint in Pattern, RE2 syntax, a constrained
	// catch-all's included (".+" for "{*:.+}"); "" for a plain segment
	// ({name}, any text without "/") or chi's catch-all ("*").
	Regex string `json:"regex"`
	// PythonRegex, when not "", is what Python's converter accepts, RE2
	// syntax, where that is wider than Regex, which keeps to what Go's
	// strconv reads: Flask's int and float converters (werkzeug's \d+ in a
	// str pattern) take any Unicode decimal digit, \p{Nd}, so that Flask
	// answers /p/١٢ for <int:pid> with pid 12, where Regex is [0-9]+.
	// Django's int is [0-9]+ and has none. Bottle's int and float
	// (\d) and Falcon's int (int(): a sign, Unicode digits, underscores
	// between them) have one too, and so has a Pyramid, Bottle or Django
	// re_path regex with \d ({id:\d+}: Regex [0-9]+, PythonRegex \p{Nd}+;
	// (?P<year>\d{4}): [0-9]{4}, \p{Nd}{4}).
	PythonRegex string `json:"python_regex,omitempty"`
}

// AppRoutes asks the Python app for its route map. The worker introspects
// the loaded app: Flask's url_map, Django's URL resolver walked
// through include() and namespaces, Bottle's app.routes (and its
// mounts), Falcon's routes (falcon.inspect) or Pyramid's route mapper
// (with its views' request methods), found behind the usual WSGI wrappers
// (werkzeug's ProxyFix and DispatcherMiddleware, WhiteNoise, a Flask
// app's wsgi_app chain, closures and __wrapped__). An app graft cannot
// introspect gives Framework "unknown" and no routes, not an error.
//
// The call runs on an idle worker (see [Caller]); it fails with ctx's
// error, ErrTimeout after Config.Timeout, ErrWorkerDied, or a [*CallError]
// when the introspection raised in Python.
func (c *Container) AppRoutes(ctx context.Context) (*AppRouteMap, error) {
	raw, err := c.call(ctx, &Call{Name: "routes"})
	if err != nil {
		return nil, err
	}
	return parseRouteMap(raw, c.cfg.ScriptName)
}

// The worker's answer to a routes call.
type wireRouteMap struct {
	Apps []struct {
		Mount     string      `json:"mount"`
		Framework string      `json:"framework"`
		Class     string      `json:"class"`
		Wrappers  []string    `json:"wrappers"`
		Routes    []wireRoute `json:"routes"`
	} `json:"apps"`
}

type wireRoute struct {
	Rule     string      `json:"rule"`
	Pieces   []wirePiece `json:"pieces"`
	Methods  []string    `json:"methods"`
	Endpoint string      `json:"endpoint"`
	Host     string      `json:"host"`
	Module   string      `json:"module"`
	View     string      `json:"view"`
	File     string      `json:"file"`
	Line     int         `json:"line"`
	// StrictSlashes is Flask's rule.strict_slashes; nil for Django.
	StrictSlashes *bool `json:"strict_slashes"`
}

// wirePiece is a piece of a route: a whole Flask, Bottle, Falcon or Pyramid rule, or a Django
// route() or regex of one level of include(), or one language's prefix
// of i18n_patterns() (the worker lists the route once per language).
type wirePiece struct {
	Kind       string              `json:"kind"` // flask, django-route, regex, locale, bottle, falcon, pyramid
	Text       string              `json:"text"`
	Fullmatch  bool                `json:"fullmatch"`  // regex: Django fullmatch()es it (an endpoint ending in "$")
	Language   string              `json:"language"`   // locale: the language of the prefix in Text
	Parts      []wirePart          `json:"parts"`      // flask, bottle, falcon, pyramid
	Converters map[string]wireConv `json:"converters"` // django-route
}

type wirePart struct {
	Text      string `json:"text"`
	Param     string `json:"param"`
	Converter string `json:"converter"`
	Args      string `json:"args"`
	Regex     string `json:"regex"`
	Class     string `json:"class"`
}

type wireConv struct {
	Converter string `json:"converter"`
	Regex     string `json:"regex"`
	Class     string `json:"class"`
}

func parseRouteMap(raw []byte, scriptName string) (*AppRouteMap, error) {
	var w wireRouteMap
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("wsgi: route map: %w: %v", ErrProtocol, err)
	}
	m := &AppRouteMap{Apps: []PythonApp{}, Routes: []AppRoute{}}
	for _, a := range w.Apps {
		switch {
		case m.Framework == "":
			m.Framework = a.Framework
		case m.Framework != a.Framework:
			m.Framework = "mixed"
		}
		wr := a.Wrappers
		if wr == nil {
			wr = []string{}
		}
		m.Apps = append(m.Apps, PythonApp{Mount: a.Mount, Framework: a.Framework, Class: a.Class, Wrappers: wr})
		for _, r := range a.Routes {
			rt := AppRoute{Framework: a.Framework, Rule: r.Rule, Methods: r.Methods, Endpoint: r.Endpoint,
				Module: r.Module, View: r.View, File: r.File, Line: r.Line, Mount: a.Mount, Host: r.Host}
			pat, params, why := translate(r.Pieces)
			rt.Params = params
			if why != "" {
				rt.Untranslatable = why
			} else {
				rt.Pattern = joinPattern(scriptName+a.Mount, pat)
				if err := checkChi(rt.Pattern); err != nil {
					rt.Pattern, rt.Untranslatable = "", err.Error()
				} else if r.StrictSlashes != nil && !*r.StrictSlashes {
					if alt := otherSlash(pat); alt != "" {
						rt.Alternate = joinPattern(scriptName+a.Mount, alt)
					}
				} else if alt := emptyTail(r.Pieces, pat); alt != "" {
					rt.Alternate = joinPattern(scriptName+a.Mount, alt)
				}
			}
			if rt.Params == nil {
				rt.Params = []RouteParam{}
			}
			m.Routes = append(m.Routes, rt)
		}
	}
	if m.Framework == "" {
		m.Framework = "unknown"
	}
	return m, nil
}

// joinPattern puts prefix (no trailing slash) before pattern.
func joinPattern(prefix, pattern string) string {
	if prefix == "" {
		return pattern
	}
	if pattern == "/" {
		return prefix + "/"
	}
	return prefix + pattern
}

// otherSlash returns pattern with its trailing slash removed, or added,
// for the other form a Flask rule with strict_slashes=False serves; ""
// for "/" and a catch-all.
func otherSlash(pattern string) string {
	switch {
	case pattern == "/", endsInCatchAll(pattern):
		return ""
	case strings.HasSuffix(pattern, "/"):
		return strings.TrimSuffix(pattern, "/")
	}
	return pattern + "/"
}

// endsInCatchAll reports whether pattern ends in chi's catch-all ("*")
// or graft's constrained one ("{*:re}"), whose value is chi's "*".
func endsInCatchAll(pattern string) bool {
	_, _, ok := chipattern.CatchAll(pattern)
	return ok || strings.HasSuffix(pattern, "*")
}

// checkChi makes sure chi accepts pattern, which it reports by panicking,
// as graft's router registers it: a constrained catch-all ({*:re}) as
// "*", with its regexp compiled on its own.
func checkChi(pattern string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("chi rejects the pattern %q: %v", pattern, v)
		}
	}()
	local, re, ok := chipattern.CatchAll(pattern)
	if ok {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("the catch-all regexp of %q: %v", pattern, err)
		}
	}
	chi.NewRouter().Get(local, func(http.ResponseWriter, *http.Request) {})
	return nil
}

// Under returns a copy of m for an app served under prefix by the
// router (a fallback.Handler with Prefix, a Router.Mount), which passes
// the prefix as SCRIPT_NAME instead of Config.ScriptName: every
// translated pattern gets prefix in front. prefix is "" or starts with
// "/" and does not end with one.
func (m *AppRouteMap) Under(prefix string) *AppRouteMap {
	out := *m
	out.Routes = make([]AppRoute, len(m.Routes))
	for i, r := range m.Routes {
		if r.Pattern != "" {
			r.Pattern = joinPattern(prefix, r.Pattern)
		}
		if r.Alternate != "" {
			r.Alternate = joinPattern(prefix, r.Alternate)
		}
		out.Routes[i] = r
	}
	return &out
}
