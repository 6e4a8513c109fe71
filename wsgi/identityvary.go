package wsgi

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/graft-dev/graft/internal/reqctx"
)

// identityVary is what the answers of graft's own identity hooks depend
// on, as the worker reports it with each answer: the cookies the app reads
// its users from (Flask's and Django's SESSION_COOKIE_NAME, flask-login's
// REMEMBER_COOKIE_NAME), the headers and whether the client's address
// (flask-login's SESSION_PROTECTION), the environ keys Go middleware sets
// (REMOTE_USER for Django's RemoteUserMiddleware; what each lookup read
// for graft:pyramid and a flask-login request_loader), or NoCache, why
// the answers must not be cached at all. A hook of the app's own ("module:function") reports
// nothing: its answers are keyed as Config.IdentityCookies says.
type identityVary struct {
	Cookies    []string `json:"cookies"`
	Headers    []string `json:"headers"`
	RemoteAddr bool     `json:"remote_addr"`
	Environ    []string `json:"environ"`
	Query      bool     `json:"query"`
	NoCache    string   `json:"no_cache"`
}

// maxVaryParts bounds what the identity cache keys on: an app whose
// loaders read more named parts of requests than this (cookies, headers,
// environ keys, over all its answers) is not cached.
const maxVaryParts = 64

// merge returns what v and o say together: the answers of a hook whose
// reads depend on the request (a flask-login request_loader, recorded by
// the worker) depend on all that any of them read. A key on the union
// is sound: two requests that agree on every part of it agree on what
// either answer read, so the hook, which read only those, answers them
// alike.
func (v *identityVary) merge(o *identityVary) *identityVary {
	if v == nil {
		return o
	}
	union := func(a, b []string) []string {
		out := append(slices.Clone(a), b...)
		slices.Sort(out)
		return slices.Compact(out)
	}
	m := &identityVary{Cookies: union(v.Cookies, o.Cookies), Headers: union(v.Headers, o.Headers),
		RemoteAddr: v.RemoteAddr || o.RemoteAddr, Environ: union(v.Environ, o.Environ), Query: v.Query || o.Query,
		NoCache: v.NoCache}
	if m.NoCache == "" {
		m.NoCache = o.NoCache
	}
	if m.NoCache == "" && len(m.Cookies)+len(m.Headers)+len(m.Environ) > maxVaryParts {
		m.NoCache = fmt.Sprintf("its answers depend on more than %d cookies, headers and environ keys", maxVaryParts)
	}
	return m
}

// covers reports whether v says all that o says (a nil v says nothing).
func (v *identityVary) covers(o *identityVary) bool {
	sub := func(a, b []string) bool {
		for _, x := range b {
			if !slices.Contains(a, x) {
				return false
			}
		}
		return true
	}
	return v != nil && (v.NoCache != "" || o.NoCache == "") && sub(v.Cookies, o.Cookies) && sub(v.Headers, o.Headers) &&
		(v.RemoteAddr || !o.RemoteAddr) && sub(v.Environ, o.Environ) && (v.Query || !o.Query)
}

// identityKeySpec is what the identity cache keys on: the cookies (nil:
// the whole Cookie and Authorization headers), the headers, the client's
// address, the environ keys of WithEnviron; noCache ("" or why) turns the
// cache off.
type identityKeySpec struct {
	cookies    []string
	headers    []string
	remoteAddr bool
	environ    []string
	query      bool
	noCache    string
	from       *identityVary // what the hook reported; nil: nothing
}

// keySpecFor returns the key of the answers of cfg's hook that reported
// vary (nil: nothing reported, an app's own hook): the union of
// cfg.IdentityCookies and the cookies the app reads, its headers and
// address.
func keySpecFor(cfg Config, vary *identityVary) *identityKeySpec {
	s := keySpecOf(cfg, vary)
	s.from = vary
	return s
}

// keySpecOf is keySpecFor without from.
func keySpecOf(cfg Config, vary *identityVary) *identityKeySpec {
	if vary == nil {
		if len(cfg.IdentityCookies) == 0 {
			return &identityKeySpec{} // the whole headers
		}
		return &identityKeySpec{cookies: cfg.IdentityCookies}
	}
	if vary.NoCache != "" {
		return &identityKeySpec{noCache: vary.NoCache}
	}
	cookies := append(slices.Clone(cfg.IdentityCookies), vary.Cookies...)
	slices.Sort(cookies)
	headers := slices.Clone(vary.Headers)
	for i, h := range headers {
		headers[i] = http.CanonicalHeaderKey(h)
	}
	slices.Sort(headers)
	environ := slices.Clone(vary.Environ)
	slices.Sort(environ)
	// Not nil even when empty: an empty list keys on no cookie, nil on
	// the whole headers.
	return &identityKeySpec{cookies: append([]string{}, slices.Compact(cookies)...),
		headers: slices.Compact(headers), remoteAddr: vary.RemoteAddr, environ: slices.Compact(environ), query: vary.Query}
}

// equal reports whether s and o key alike.
func (s *identityKeySpec) equal(o *identityKeySpec) bool {
	return slices.Equal(s.cookies, o.cookies) && (s.cookies == nil) == (o.cookies == nil) &&
		slices.Equal(s.headers, o.headers) && s.remoteAddr == o.remoteAddr &&
		slices.Equal(s.environ, o.environ) && s.query == o.query && s.noCache == o.noCache
}

// key returns r's cache key under s, and whether it tells r's answer from
// others: always for a spec graft's hook reported, else whether any
// cookie of s (with cookies nil: any Cookie or Authorization header) went
// into it (see identityKeyOf). The headers are hashed with all their
// values, the address as the environ's REMOTE_ADDR, the environ keys as
// WithEnviron set them on r's context (set or not, and the value), and
// the query as the environ's QUERY_STRING, whole: more than Python reads
// of them, never less.
func (s *identityKeySpec) key(r *http.Request) (k [32]byte, keyed bool) {
	var arr [512]byte
	buf, keyed := appendCookieKey(arr[:0], r, s.cookies)
	for _, name := range s.headers {
		buf = append(append(buf, 2), name...)
		for _, v := range r.Header.Values(name) {
			buf = append(append(buf, 0), v...)
		}
	}
	if s.remoteAddr {
		addr, _ := remoteAddrPort(r.RemoteAddr)
		buf = append(append(buf, 3), addr...)
	}
	for _, name := range s.environ {
		buf = append(append(buf, 4), name...)
		if v, ok := reqctx.EnvironValue(r.Context(), name); ok {
			buf = append(append(buf, 0), v...)
		}
	}
	if s.query {
		_, query, _ := requestTarget(r)
		buf = append(append(buf, 5), query...)
	}
	// A spec graft's hook reported keys on all the answer depends on: a
	// request without any of its cookies (REMOTE_USER alone) is keyed too.
	return sha256.Sum256(buf), keyed || s.from != nil
}

// identityLearner holds the key spec in force: the configured one for an
// app's own hook, else what graft's hook last reported (nil until its
// first answer).
type identityLearner struct {
	spec atomic.Pointer[identityKeySpec]
	mu   sync.Mutex // serializes changes, and their log lines
}

// learn records the spec of an answer that reported vary, together with
// what the answers before it reported (see merge), and returns the spec
// in force; a change (the first answer's spec is one) is logged once:
// WARN when IdentityCookies leaves out a cookie the app reads (the cache
// keys on it all the same), INFO when the answers are not cached.
func (l *identityLearner) learn(cfg Config, log *slog.Logger, vary *identityVary) *identityKeySpec {
	if cur := l.spec.Load(); cur != nil && vary != nil && cur.from.covers(vary) {
		return cur // the usual answer: nothing new
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur := l.spec.Load(); cur != nil {
		if vary == nil {
			return cur // an app's own hook's spec, set (and maybe added to: addCookies) by another request
		}
		vary = cur.from.merge(vary)
	}
	s := keySpecFor(cfg, vary)
	if cur := l.spec.Load(); cur != nil && cur.equal(s) {
		return cur
	}
	l.spec.Store(s)
	if vary == nil {
		return s
	}
	if vary.NoCache != "" {
		log.Info(fmt.Sprintf("wsgi: identity hook %s: answers are not cached: %s", cfg.IdentityHook, vary.NoCache))
		return s
	}
	var missing []string
	for _, name := range vary.Cookies {
		if len(cfg.IdentityCookies) > 0 && !slices.Contains(cfg.IdentityCookies, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		log.Warn(fmt.Sprintf("wsgi: identity hook %s: the app reads its users from the cookies %s, and Config.IdentityCookies %q leaves out %s: "+
			"the identity cache keys on them all the same; name them in IdentityCookies, or leave it empty",
			cfg.IdentityHook, strings.Join(vary.Cookies, " and "), cfg.IdentityCookies, strings.Join(missing, " and ")))
	}
	return s
}

// addCookies makes the key spec in force key on names too, for a hook of
// the app's own (whose spec reported nothing) whose answer was found to
// depend on one of them (see Container.checkUnlisted), and returns what
// the cache keys on now, for the log. Past maxVaryParts cookies the key
// is the whole Cookie and Authorization headers, as with IdentityCookies
// empty: right for any hook, and bounded whatever names requests carry.
// seen is the spec the difference was found under: a spec that changed
// since is added to all the same.
func (l *identityLearner) addCookies(seen *identityKeySpec, names []string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.spec.Load()
	if cur == nil {
		cur = seen
	}
	if cur.from != nil || cur.cookies == nil || cur.noCache != "" {
		return "what it keyed on" // not a spec of cookies this can add to
	}
	cookies := slices.Clone(cur.cookies)
	for _, name := range names {
		if !slices.Contains(cookies, name) {
			cookies = append(cookies, name)
		}
	}
	if len(cookies) > maxVaryParts {
		l.spec.Store(&identityKeySpec{})
		return "the whole Cookie and Authorization headers"
	}
	if len(cookies) > len(cur.cookies) {
		l.spec.Store(&identityKeySpec{cookies: cookies})
	}
	return fmt.Sprintf("the cookies %q", cookies)
}
