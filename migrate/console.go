package migrate

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/graft-dev/graft/wsgi"
)

// ConsoleOptions configure the migration console ([Migrator.Console]).
type ConsoleOptions struct {
	// User names who makes a change, for the log; nil means the
	// REMOTE_USER set by Go middleware (middleware.WithRemoteUser) in
	// the request context, else "console".
	User func(*http.Request) string
	// Secret keys the CSRF tokens of the console's forms; empty means a
	// random secret made by Console, so that tokens last as long as the
	// process. Give every replica the same secret when one console URL is
	// balanced over several processes.
	Secret []byte
	// TrustedOrigins are origins ("https://admin.example.com": a scheme,
	// http or https, and a host with an optional port, nothing else)
	// allowed to post the console's forms besides the request's own host,
	// for a console behind a proxy that rewrites the Host header. A
	// post's Origin (or Referer) must match one in scheme, host and port
	// (the scheme's default port when none is given). Console panics on
	// an entry that is not such an origin.
	TrustedOrigins []string
	// Hosts are the host names, besides IP addresses and localhost, under
	// which a console served alone (not as [AdminOptions].Console)
	// answers, by the rule of [AdminOptions].Hosts: the names browsers use
	// to reach it ("admin.example.com", without a scheme or a port, any
	// case); a request for another name gets a 421 Misdirected Request,
	// against DNS rebinding. Empty means IP addresses and localhost only.
	// Served by the admin handler, the console answers the names of the
	// handler's AdminOptions.Hosts instead. Console panics on an entry
	// that is not a host name.
	Hosts []string
	// PythonRoutes, if not nil, gives the Python app's route map for the
	// console's route inventory page (console/inventory, the [Inventory]
	// that GET /inventory answers as JSON), which the console's page then
	// links, with a link from each route to its lines; typically the
	// [wsgi.Container]'s AppRoutes. nil means the admin handler's
	// [AdminOptions].PythonRoutes when the console is served by one, and
	// no inventory page without either.
	PythonRoutes func(context.Context) (*wsgi.AppRouteMap, error)
}

// consoleCookie holds the per-browser CSRF nonce; the forms carry its
// HMAC under the console's secret.
const consoleCookie = "graft_console_csrf"

// maxConsoleForm caps the body of a console form post.
const maxConsoleForm = 16 << 10

//go:embed console.html
var consoleFS embed.FS

var consoleTemplate = template.Must(template.New("console.html").Funcs(template.FuncMap{
	"ms":  func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"pct": func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) },
	"utc": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).ParseFS(consoleFS, "console.html"))

// Console returns the migration console, the HTML page to plug into the
// admin handler as [AdminOptions].Console:
//
//	admin := m.Handler(migrate.AdminOptions{Console: m.Console(migrate.ConsoleOptions{})})
//
// GET / says when the stages file on disk is not applied, and why
// ([Migrator.FileError]), and shows every staged route: its stage, the split of traffic
// between Python and Go, the match rate and the noise of the comparisons,
// both sides' latency, the automatic rollback in effect with its reason,
// and the recent mismatches with a side-by-side diff. Its forms change a
// route's stage and canary percentage (which also re-enables a
// rolled-back route) and flip the per-route and global kill switches; they
// post to console/stage and console/kill relative to the page, so the
// console works under [http.StripPrefix] when the page is the prefix with
// its trailing slash.
//
// With the Python app's route map ([ConsoleOptions].PythonRoutes, or the
// [AdminOptions].PythonRoutes of the admin handler serving the console),
// the page links the route inventory, console/inventory: the
// [Inventory] of GET /inventory as a page, every Python route with who
// serves it, the Go-only routes and the conflicts; each route's row and
// card link its own lines (console/inventory?route=GET+/x), whose Go
// routes link back to their cards. The page itself never asks Python for
// the route map: it shows when Python does not answer.
//
// The forms are protected against cross-site request forgery three ways:
// a token in a hidden field, the HMAC of a random nonce kept in a
// SameSite=Strict cookie; the Origin header (or, without one, the
// Referer), which must name the request's host or a trusted origin; and
// Sec-Fetch-Site, which must not say cross-site. A post that fails any
// check gets a 403 that says which. The page sends a Content-Security-Policy
// that allows no script and no external resource.
//
// Against DNS rebinding, the console answers only requests whose Host is
// allowed by the admin handler that serves it ([AdminOptions].Hosts);
// served alone, an IP address, localhost or a name of o.Hosts, by the same
// rule; any other gets a 421 in plain text.
func (m *Migrator) Console(o ConsoleOptions) http.Handler {
	hosts := newHostRule("the console answers", "ConsoleOptions.Hosts", o.Hosts)
	c := &console{m: m, user: o.User, secret: o.Secret, trusted: map[string]bool{}, pythonRoutes: o.PythonRoutes}
	if len(c.secret) == 0 {
		c.secret = make([]byte, 32)
		rand.Read(c.secret)
	}
	if c.user == nil {
		c.user = consoleUser
	}
	for _, origin := range o.TrustedOrigins {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || originKey(u) == "" {
			panic(fmt.Sprintf("migrate: ConsoleOptions.TrustedOrigins: %q is not an origin (want a scheme, http or https, and a host, as in \"https://admin.example.com\")", origin))
		}
		c.trusted[originKey(u)] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.page)
	mux.HandleFunc("POST /console/stage", c.protect(c.setStage))
	mux.HandleFunc("POST /console/kill", c.protect(c.kill))
	mux.HandleFunc("GET /console/inventory", c.inventory)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(hostCheckedCtxKey) == nil { // served alone
			if err := hosts.check(r.Host); err != nil {
				m.refuseHost(w, r, err, true)
				return
			}
		}
		r, done := atMountRoot(w, r)
		if done {
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// originKey returns the origin of u, an http or https URL, as
// "scheme://host:port" in lower case with the port always given, or ""
// for another scheme.
func originKey(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case scheme != "http" && scheme != "https":
		return ""
	case port == "" && scheme == "http":
		port = "80"
	case port == "":
		port = "443"
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// console serves the migration console.
type console struct {
	m       *Migrator
	user    func(*http.Request) string
	secret  []byte
	trusted map[string]bool // ConsoleOptions.TrustedOrigins, as originKey gives them
	// pythonRoutes is ConsoleOptions.PythonRoutes (see routeMap).
	pythonRoutes func(context.Context) (*wsgi.AppRouteMap, error)
}

func consoleUser(r *http.Request) string {
	if u := wsgi.ExtraEnviron(r.Context())["REMOTE_USER"]; u != "" {
		return u
	}
	return "console"
}

// token returns the CSRF token of a nonce.
func (c *console) token(nonce string) string {
	mac := hmac.New(sha256.New, c.secret)
	mac.Write([]byte("graft migrate console csrf\x00"))
	mac.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// nonce returns the browser's CSRF nonce, setting a new cookie when it has
// none (or a malformed one).
func (c *console) nonce(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(consoleCookie); err == nil && validNonce(ck.Value) {
		return ck.Value
	}
	b := make([]byte, 24)
	rand.Read(b)
	n := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: consoleCookie, Value: n, Path: "/", HttpOnly: true,
		Secure: wsgi.RequestScheme(r) == "https", SameSite: http.SameSiteStrictMode,
	})
	return n
}

func validNonce(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 24
}

// protect runs h only for a form post that passes the CSRF checks, and
// answers 403 with the reason otherwise; then 400 for a form that sends a
// field more than once (which value is meant cannot be told).
func (c *console) protect(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := c.check(w, r); err != nil {
			c.m.log.Warn("migrate: console post refused",
				slog.String("graft.reason", err.Error()), slog.String("client.ip", r.RemoteAddr))
			c.message(w, http.StatusForbidden, "Forbidden", err.Error()+" Reload the console and try again.")
			return
		}
		if err := repeatedField(r.PostForm); err != nil {
			c.message(w, http.StatusBadRequest, "Bad request", err.Error())
			return
		}
		h(w, r)
	}
}

// repeatedField returns an error naming the first field (in name order)
// that form sends more than once, nil when each is sent once.
func repeatedField(form url.Values) error {
	for _, k := range slices.Sorted(maps.Keys(form)) {
		if n := len(form[k]); n > 1 {
			return fmt.Errorf("migrate: console: field %q sent %d times; send it once.", k, n)
		}
	}
	return nil
}

// check applies the CSRF checks to a form post.
func (c *console) check(w http.ResponseWriter, r *http.Request) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return fmt.Errorf("migrate: console: cross-site request refused (Sec-Fetch-Site: %s).", site)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if !c.sameHost(r, origin) {
			return fmt.Errorf("migrate: console: request from another origin refused (Origin %q, host %q).", origin, r.Host)
		}
	} else if ref := r.Header.Get("Referer"); ref != "" {
		if !c.sameHost(r, ref) {
			return fmt.Errorf("migrate: console: request from another site refused (Referer %q, host %q).", ref, r.Host)
		}
	} else {
		return errors.New("migrate: console: the request has neither an Origin nor a Referer header, so where it comes from cannot be checked.")
	}
	ck, err := r.Cookie(consoleCookie)
	if err != nil || !validNonce(ck.Value) {
		return errors.New("migrate: console: the CSRF cookie is missing (the browser must accept the console's cookie).")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxConsoleForm)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("migrate: console: unreadable form: %v.", err)
	}
	if got := r.PostForm.Get("csrf"); !hmac.Equal([]byte(got), []byte(c.token(ck.Value))) {
		return errors.New("migrate: console: missing or invalid CSRF token.")
	}
	return nil
}

// sameHost reports whether the URL u names r's host (whatever its
// scheme: a proxy may end TLS) or a trusted origin (scheme, host and
// port).
func (c *console) sameHost(r *http.Request, u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return false
	}
	return strings.EqualFold(p.Host, r.Host) || c.trusted[originKey(p)]
}

// setStage handles the stage form: route, stage, percent.
func (c *console) setStage(w http.ResponseWriter, r *http.Request) {
	route := r.PostForm.Get("route")
	if _, ok := c.m.Config(route); !ok {
		c.message(w, http.StatusBadRequest, "Bad request", fmt.Sprintf("migrate: console: unknown route %q.", route))
		return
	}
	stage, err := ParseStage(r.PostForm.Get("stage"))
	if err != nil {
		c.message(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	var percent *float64 // left out: the route's stays
	if s := strings.TrimSpace(r.PostForm.Get("percent")); s != "" {
		p, err := strconv.ParseFloat(s, 64)
		if err != nil {
			c.message(w, http.StatusBadRequest, "Bad request", fmt.Sprintf("migrate: console: percent %q is not a number.", s))
			return
		}
		percent = &p
	}
	// The stage and percentage replace the route's in effect, read and
	// changed in one step, so that a change of its other fields made
	// meanwhile (the API, the stages file) stays.
	st, err := c.m.updateRoute(c.user(r), route, func(cfg *RouteConfig) error {
		cfg.Stage = stage
		if percent != nil {
			cfg.Percent = *percent
		}
		return nil
	})
	if err != nil && st.Route == "" {
		c.message(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	c.done(w, err, c.cardOf(route))
}

// kill handles the kill switch form: route (or all=1) and on=1 or 0.
func (c *console) kill(w http.ResponseWriter, r *http.Request) {
	var on bool
	switch r.PostForm.Get("on") {
	case "1":
		on = true
	case "0":
	default:
		c.message(w, http.StatusBadRequest, "Bad request", `migrate: console: "on" must be 1 or 0.`)
		return
	}
	route := r.PostForm.Get("route")
	if all := r.PostForm.Get("all") == "1"; all == (route != "") {
		c.message(w, http.StatusBadRequest, "Bad request", `migrate: console: give either a route or all=1.`)
		return
	}
	err := c.m.SetForcePython(c.user(r), route, on)
	if err != nil && route != "" {
		// An invalid change is not made; a change made but not written
		// to the stages file is a warning.
		if cfg, known := c.m.Config(route); !known || cfg.ForcePython != on {
			c.message(w, http.StatusBadRequest, "Bad request", err.Error())
			return
		}
	}
	c.done(w, err, c.cardOf(route))
}

// done ends a successful change: back to the page (303, relative to the
// form's URL) at card, the fragment of the changed route's card (so that
// the browser shows it, and the next Tab goes into it rather than back to
// the top of the page; "" for the global switch), or a page with the
// warning when the stages file could not be written.
func (c *console) done(w http.ResponseWriter, warn error, card string) {
	if warn != nil {
		c.message(w, http.StatusOK, "Changed, with a warning",
			"The change is in effect, but: "+warn.Error())
		return
	}
	w.Header().Set("Location", "../"+card)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}

// cardID is the id of the card of the i-th route of Migrator.Routes on
// the page.
func cardID(i int) string { return fmt.Sprintf("route-%d", i+1) }

// cardOf returns the fragment of route's card on the page ("#route-2"),
// or "" when route is "" (the global switch) or not shown.
func (c *console) cardOf(route string) string {
	if route == "" {
		return ""
	}
	key, err := normalizeRoute(route)
	if err != nil {
		return ""
	}
	for i, st := range c.m.Routes() {
		if st.Route == key {
			return "#" + cardID(i)
		}
	}
	return ""
}

// securityHeaders sets the headers of every console page; nonce allows
// the page's one inline style sheet.
func securityHeaders(w http.ResponseWriter, nonce string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

func styleNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b) // no "+" or "/", which the template would escape
}

// message answers a small page with a title, a text and a link back to
// the console.
func (c *console) message(w http.ResponseWriter, status int, title, text string) {
	nonce := styleNonce()
	securityHeaders(w, nonce)
	w.WriteHeader(status)
	consoleTemplate.ExecuteTemplate(w, "message", map[string]any{
		"Nonce": nonce, "Title": title, "Text": text, "Status": status,
	})
}

// consolePage is what the page template shows.
type consolePage struct {
	Nonce, Token, User string
	ForcePython        bool
	Inventory          bool   // the console has an inventory page (see routeMap)
	InventoryJSON      bool   // the admin handler serving the console answers GET inventory
	FileError          string // why the stages file is not applied, or ""
	Stages             []Stage
	Routes             []consoleRoute
	At                 time.Time
}

// consoleRoute is one route's card.
type consoleRoute struct {
	RouteStatus
	ID        string
	Served    int64
	GoShare   string // "12.5%" of the requests served by Go
	MatchRate string // "99.2%", or "" with no comparison
	Pointers  []pointerCount
	Recent    []consoleMismatch // newest first
}

type pointerCount struct {
	Pointer string
	Count   int64
}

type consoleMismatch struct {
	Mismatch
	Headers []string // request headers, "Name: value", sorted
	Rows    []diffRow
}

func (c *console) page(w http.ResponseWriter, r *http.Request) {
	p := consolePage{
		Nonce: styleNonce(), Token: c.token(c.nonce(w, r)), User: c.user(r),
		ForcePython: c.m.ForcePython(), At: time.Now(),
		Stages: []Stage{StagePython, StageShadow, StageCanary, StageGo},
	}
	p.Inventory = c.routeMap(r) != nil
	p.InventoryJSON = r.Context().Value(pythonRoutesCtxKey) != nil
	if err := c.m.FileError(); err != nil {
		p.FileError = err.Error()
	}
	for i, st := range c.m.Routes() {
		cr := consoleRoute{RouteStatus: st, ID: cardID(i)}
		cr.Served = st.Counts.Python + st.Counts.Go
		if cr.Served > 0 {
			cr.GoShare = percent(st.Counts.Go, cr.Served)
		}
		if st.Counts.Compared > 0 {
			cr.MatchRate = percent(st.Counts.Matched, st.Counts.Compared)
		}
		for ptr, n := range st.MismatchPointers {
			cr.Pointers = append(cr.Pointers, pointerCount{ptr, n})
		}
		slices.SortFunc(cr.Pointers, func(a, b pointerCount) int {
			if c := cmp.Compare(b.Count, a.Count); c != 0 {
				return c
			}
			return strings.Compare(a.Pointer, b.Pointer)
		})
		for j := len(st.RecentMismatches) - 1; j >= 0; j-- {
			mm := st.RecentMismatches[j]
			cm := consoleMismatch{Mismatch: mm, Rows: sideBySide(responseLines(mm.Python), responseLines(mm.Go))}
			for _, k := range sortedKeys(mm.RequestHeader) {
				for _, v := range mm.RequestHeader[k] {
					cm.Headers = append(cm.Headers, k+": "+v)
				}
			}
			if mm.RequestHeaderOmitted > 0 {
				cm.Headers = append(cm.Headers, fmt.Sprintf("… (%d more header values not kept)", mm.RequestHeaderOmitted))
			}
			cr.Recent = append(cr.Recent, cm)
		}
		p.Routes = append(p.Routes, cr)
	}
	securityHeaders(w, p.Nonce)
	if err := consoleTemplate.Execute(w, p); err != nil {
		c.m.log.Error("migrate: console page", slog.String("error", err.Error()))
	}
}

// percent formats part/whole as a percentage with one decimal, never
// rounding a part short of the whole up to 100%.
func percent(part, whole int64) string {
	v := float64(part) * 100 / float64(whole)
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if s == "100.0" && part < whole {
		s = "99.9"
	}
	return s + "%"
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
