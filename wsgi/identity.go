package wsgi

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graft-dev/graft/internal/hdrname"
)

// Identity is who a request's user is, as the Python identity hook
// ([Config].IdentityHook) answered: the JSON object it returned, decoded
// with numbers as [json.Number], Python's digits as written (as in a
// migrate/session.Session), so that an integer of any size keeps its
// value and fmt.Sprint writes a user id of 1000000 as "1000000": read one
// with its Int64 method, or as a string. (Until 2026-12-02 they were
// float64, as encoding/json decodes them by default, and an id beyond
// 2^53 came back as another.) nil means anonymous: the hook returned
// None.
//
// The built-in hooks return, for "graft:django": id, username, is_staff,
// is_superuser and groups (a list of names), and None for a user not
// logged in; for "graft:flask": user_id (flask-login's, or null) and
// session (the content of the request's Flask session cookie), with a
// flask-login LoginManager fresh (its login_fresh()), and None
// only for an empty session with no flask-login user: a visitor with a
// session but no login (a cart, a flash message) gets an Identity whose
// user_id is null, so check user_id (or the key the app's login stores in
// the session), not id != nil. With flask-login, user_id is the user
// flask-login loads for the request, as for the app's views (a remember
// cookie without a session too, and null for a user the user_loader no
// longer finds). For "graft:pyramid": user_id (request.authenticated_userid,
// as the app's security policy finds it, or null) and session (the
// content of request.session, {} without a session factory), and None
// when there is neither, as for graft:flask.
type Identity map[string]any

// String returns the value of key if it is a string, else "".
func (id Identity) String(key string) string {
	s, _ := id[key].(string)
	return s
}

// Bool returns the value of key if it is a boolean, else false.
func (id Identity) Bool(key string) bool {
	b, _ := id[key].(bool)
	return b
}

// Defaults of the identity cache.
const (
	defaultIdentityTTL       = 10 * time.Second
	defaultIdentityCacheSize = 10000
)

// builtinHooks are graft's own identity hooks (worker.py's IDENTITY_HOOKS).
var builtinHooks = []string{"graft:django", "graft:flask", "graft:pyramid"}

// hookSpec matches "module:function" and graft's "graft:name" hooks.
var hookSpec = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// identityDefaults validates and fills in the identity fields of c.
func (c *Config) identityDefaults() []error {
	var errs []error
	if c.IdentityHook != "" && !hookSpec.MatchString(c.IdentityHook) {
		errs = append(errs, fmt.Errorf("IdentityHook %q is not module:function (or graft:django, graft:flask, graft:pyramid)", c.IdentityHook))
	} else if strings.HasPrefix(c.IdentityHook, "graft:") && !slices.Contains(builtinHooks, c.IdentityHook) {
		errs = append(errs, fmt.Errorf("IdentityHook %q: graft ships graft:django, graft:flask and graft:pyramid only", c.IdentityHook))
	}
	if c.IdentityTTL == 0 {
		c.IdentityTTL = defaultIdentityTTL
	}
	if c.IdentityCacheSize < 0 {
		errs = append(errs, fmt.Errorf("IdentityCacheSize %d is negative", c.IdentityCacheSize))
	} else if c.IdentityCacheSize == 0 {
		c.IdentityCacheSize = defaultIdentityCacheSize
	}
	for _, name := range c.IdentityCookies {
		if name == "" || !isToken(name) {
			errs = append(errs, fmt.Errorf("IdentityCookies: %q is not a cookie name", name))
		}
	}
	return errs
}

// ErrNoIdentityHook is returned by [Container.Identity] when
// [Config].IdentityHook is empty. [StatusOf] maps it to 500: a
// [Container.IdentityMiddleware] in front of such a container answers
// every request so (it answered 502, a worker's failure, until 2026-12-02).
var ErrNoIdentityHook = errors.New("wsgi: no identity hook configured (Config.IdentityHook)")

// Identity asks the Python app who r's user is: it runs
// [Config].IdentityHook in a worker with r's environ (headers, cookies,
// path and what Go middleware added; an empty body; every key PEP 3333
// requires), and returns the
// answer, nil for an anonymous request.
//
// Answers are cached for [Config].IdentityTTL per session. With graft's
// own hooks the key is what the answer depends on, as the hook reports
// it with each answer: the cookies the app reads its users from, with
// the [Config].IdentityCookies ones, and with flask-login's
// SESSION_PROTECTION the client's address and User-Agent, with Django's
// RemoteUserMiddleware the REMOTE_USER set with [WithEnviron] (or its
// header), and for an app whose flask-login has a request_loader all that
// the lookups read of the requests (headers, cookies, the query). Until the first
// answer has said so, lookups are not cached. With a hook of the app's
// own, the key is the values of the IdentityCookies cookies (and of those
// it was found to read, see [Config].IdentityCookies), or the whole
// Cookie and Authorization headers when none are configured. Concurrent
// lookups for the same session make one call. Errors are not cached: a
// hook that raises gives a [*CallError] (which wraps [ErrAppError]), a
// hook that returns something else than a dict or None too; a worker that
// does not answer gives ErrTimeout or ErrWorkerDied.
func (c *Container) Identity(ctx context.Context, r *http.Request) (Identity, error) {
	if c.cfg.IdentityHook == "" {
		return nil, ErrNoIdentityHook
	}
	cache := c.ident.get(c.cfg)
	for attempt := 0; ; attempt++ {
		spec := c.ident.learned.spec.Load()
		if spec == nil && !strings.HasPrefix(c.cfg.IdentityHook, "graft:") {
			spec = c.ident.learned.learn(c.cfg, c.log, nil)
		}
		if cache == nil || spec == nil || spec.noCache != "" || attempt == 2 {
			// No cache, or not yet known what to key it on, or the hook
			// keeps changing its mind: this request's own answer.
			a, err := c.lookupIdentity(ctx, r)
			return a.id, err
		}
		key, keyed := spec.key(r)
		if !keyed && c.ident.unkeyed.Load() {
			a, err := c.lookupIdentity(ctx, r)
			return a.id, err
		}
		id, err := cache.lookup(ctx, key, func(ctx context.Context) (Identity, error) {
			a, err := c.lookupIdentity(ctx, r)
			if err == nil && c.ident.learned.spec.Load() != spec {
				// The hook now says the answer depends on something
				// else (the app changed): key is not this answer's, nor
				// the waiters' on it.
				return nil, errIdentityRekeyed
			}
			return a.id, err
		})
		if errors.Is(err, errIdentityRekeyed) {
			continue
		}
		if err == nil && (keyed || id == nil) && spec.from == nil && spec.cookies != nil {
			if due := c.ident.unlistedDue(r, spec.cookies, c.cfg.IdentityTTL, time.Now()); due != nil {
				return c.checkUnlisted(ctx, r, spec, id, due)
			}
		}
		if err != nil || id == nil || keyed {
			return id, err
		}
		// The hook found a user in a request that carries nothing of the
		// key, whose key every such request shares (IdentityCookies that
		// do not name the app's session cookie, with an app's own hook):
		// that answer may be another request's, and is neither kept nor
		// given to anyone else; from now on such requests are not looked
		// up in the cache at all.
		cache.forget(key)
		if c.ident.unkeyed.CompareAndSwap(false, true) {
			c.log.Error(fmt.Sprintf("wsgi: the identity hook found a user in a request that carries none of the cookies that key the identity cache (IdentityCookies %q); "+
				"such answers are not cached: name the cookies the app reads its users from in Config.IdentityCookies: its session cookie (Flask's and Django's SESSION_COOKIE_NAME) "+
				"and, with flask-login, its remember cookie (REMEMBER_COOKIE_NAME, \"remember_token\" by default)", c.cfg.IdentityCookies),
				slog.String(logMethod, r.Method), slog.String(logPath, r.URL.Path))
		}
		a, err := c.lookupIdentity(ctx, r)
		return a.id, err
	}
}

// checkUnlisted looks r's identity up afresh, r carrying the cookies due
// that the key spec's cookies (IdentityCookies, and those learned so) do
// not name, and compares Python's answer with cached, the answer for r's
// key under spec: a difference says the app's hook reads one of r's
// cookies the key leaves out. r gets Python's answer, and from then on
// the cache keys on all the cookies r carries that the key left out (see
// identityLearner.addCookies), for the process's lifetime: no other
// request is given an answer keyed without them. A WARN names the
// cookies (once per name).
func (c *Container) checkUnlisted(ctx context.Context, r *http.Request, spec *identityKeySpec, cached Identity, due []string) (Identity, error) {
	a, err := c.lookupIdentity(ctx, r)
	if err != nil || reflect.DeepEqual(a.id, cached) {
		return cached, nil // the cached answer stands
	}
	// Which of r's unlisted cookies the hook read cannot be told apart
	// without more calls: the key takes them all (a cookie that is the
	// same on each of a browser's requests, as analytics' are, splits
	// nothing that the session cookie does not).
	learned := c.ident.learned.addCookies(spec, cookieNamesOutside(r, spec.cookies))
	if names := c.ident.firstWarn(due); len(names) > 0 {
		c.log.Warn(fmt.Sprintf("wsgi: identity hook %s: a request carrying the cookies %q, which Config.IdentityCookies %q does not name, "+
			"got another answer from Python than the cached one for its IdentityCookies: the hook reads one of them (or the user changed in Python within IdentityTTL); "+
			"the identity cache keys on %s from now on, until the process ends: name the cookies the hook reads in IdentityCookies (or leave IdentityCookies empty)",
			c.cfg.IdentityHook, names, c.cfg.IdentityCookies, learned), slog.String(logMethod, r.Method), slog.String(logPath, r.URL.Path))
	}
	return a.id, nil
}

// cookieNamesOutside returns the names of r's cookies (plain tokens, each
// once) that names does not hold.
func cookieNamesOutside(r *http.Request, names []string) []string {
	var out []string
	for _, line := range r.Header.Values("Cookie") {
		for piece := range strings.SplitSeq(line, ";") {
			name, _, _ := strings.Cut(strings.Trim(piece, " \t"), "=")
			name = strings.TrimRight(name, " \t")
			if name != "" && isToken(name) && !slices.Contains(names, name) && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// maxUnlistedChecked bounds the cookie names unlistedDue keeps: names
// past it are not checked.
const maxUnlistedChecked = 256

// unlistedDue returns the names of r's cookies that listed (the key's
// cookies) does not name and that are due a check (see checkUnlisted):
// never checked, or last at least ttl before now; it marks them checked.
// nil (the usual answer, allocation free) when none is due.
func (s *identityState) unlistedDue(r *http.Request, listed []string, ttl time.Duration, now time.Time) []string {
	var due []string
	for _, line := range r.Header.Values("Cookie") {
		for piece := range strings.SplitSeq(line, ";") {
			name, _, _ := strings.Cut(strings.Trim(piece, " \t"), "=")
			name = strings.TrimRight(name, " \t")
			if name == "" || !isToken(name) || slices.Contains(listed, name) || slices.Contains(due, name) {
				continue
			}
			s.checkMu.Lock()
			last, seen := s.checked[name]
			if (!seen && len(s.checked) < maxUnlistedChecked) || (seen && now.Sub(last) >= ttl) {
				if s.checked == nil {
					s.checked = make(map[string]time.Time)
				}
				s.checked[name] = now
				due = append(due, name)
			}
			s.checkMu.Unlock()
		}
	}
	return due
}

// firstWarn returns the names of due not warned about before, and
// records them as warned.
func (s *identityState) firstWarn(due []string) []string {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	var out []string
	for _, name := range due {
		if !s.warned[name] {
			if s.warned == nil {
				s.warned = make(map[string]bool)
			}
			s.warned[name] = true
			out = append(out, name)
		}
	}
	return out
}

// errIdentityRekeyed says that an answer came with another key spec than
// the one it was looked up under: it is not cached, and every caller
// waiting on it looks up again.
var errIdentityRekeyed = errors.New("wsgi: the identity hook changed what its answers depend on")

// identityAnswer is the worker's answer to an identity call: the hook's
// answer and, from graft's own hooks, what it depends on.
type identityAnswer struct {
	id   Identity
	vary *identityVary
}

// lookupIdentity runs the hook, uncached, and learns what graft's hooks
// say the answer depends on.
func (c *Container) lookupIdentity(ctx context.Context, r *http.Request) (identityAnswer, error) {
	env := environ(nil, r, c.cfg.ScriptName+MountPrefix(r.Context()), 0)
	raw, err := c.call(ctx, &Call{Name: "identity", Arg: c.cfg.IdentityHook, Env: env})
	if err != nil {
		return identityAnswer{}, err
	}
	var out struct {
		Identity json.RawMessage `json:"identity"`
		Vary     *identityVary   `json:"vary"`
	}
	var a identityAnswer
	if err = json.Unmarshal(raw, &out); err == nil && out.Identity == nil {
		err = errors.New(`no "identity" in the answer`)
	}
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(out.Identity))
		dec.UseNumber() // Python's integers of any size, exactly
		err = dec.Decode(&a.id)
		if err == nil && dec.More() {
			err = errors.New("data after the JSON object")
		}
	}
	if err != nil {
		return identityAnswer{}, fmt.Errorf("wsgi: identity hook %s: %w: %v", c.cfg.IdentityHook, ErrProtocol, err)
	}
	a.vary = out.Vary
	if a.vary != nil {
		c.ident.learned.learn(c.cfg, c.log, a.vary)
	}
	return a, nil
}

// IdentityMiddleware looks up the identity of every request (see
// [Container.Identity]) and puts it in the request context, where
// [IdentityFrom] finds it. A lookup that fails is answered by
// [Config].ErrorHandler (a hook that raises: 500; Python too busy: 503;
// too slow: 504; no [Config].IdentityHook configured: 500, each request
// logged), never passed on as an anonymous request. Every answer
// carries "Vary: Cookie" (added unless Vary lists it), as Django's and
// Flask's do when a view reads the session: it depends on who is logged
// in, and a shared cache must not give it to another user.
func (c *Container) IdentityMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdrname.AddVary(w.Header(), "Cookie")
		id, err := c.Identity(r.Context(), r)
		if err != nil {
			attrs := []any{slog.String(logMethod, r.Method), slog.String(logPath, r.URL.Path), slog.String(logError, err.Error())}
			var ce *CallError
			if errors.As(err, &ce) && ce.Traceback != "" {
				attrs = append(attrs, slog.String(logTraceback, ce.Traceback))
			}
			c.log.Log(r.Context(), slog.LevelError, "wsgi: identity lookup failed", attrs...)
			c.errorPage(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// identityCtxKey is the context key of the identity, in chi's style.
type identityCtxKey struct{ name string }

func (k *identityCtxKey) String() string { return "wsgi context value " + k.name }

var identityContextKey = &identityCtxKey{"identity"}

// identityBox tells "looked up, anonymous" from "not looked up".
type identityBox struct{ id Identity }

// WithIdentity returns a copy of ctx carrying id, as
// [Container.IdentityMiddleware] does (for tests, or another source of
// identity).
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityContextKey, identityBox{id})
}

// IdentityFrom returns the identity [Container.IdentityMiddleware] put in
// ctx; ok is false when no identity was looked up, and id is nil (with ok
// true) for an anonymous request.
func IdentityFrom(ctx context.Context) (id Identity, ok bool) {
	b, ok := ctx.Value(identityContextKey).(identityBox)
	return b.id, ok
}

// identityKey is the cache key of r: a hash (the cache never holds a
// session cookie) of the configured cookies, or of the Cookie and
// Authorization headers.
//
// The configured cookies are taken from the raw Cookie headers, never
// from net/http's parse of them: net/http drops cookies that Python's
// lenient parsers (Django's parse_cookie, werkzeug's) keep (any cookie
// past its 3000th, or a value it finds malformed), and a request whose
// session cookie Python sees but net/http does not would share the key
// of requests without one: one user's identity cached for the others.
// So every piece of the headers that a lenient parser could take for a
// configured cookie goes into the key as it is; only the pieces named
// by a plain token that is not a configured name are left out, the
// unrelated cookies that should not split the cache.
func identityKey(r *http.Request, cookies []string) [32]byte {
	k, _ := identityKeyOf(r, cookies)
	return k
}

// identityKeyOf returns identityKey's key, and whether anything of r went
// into it: false for a request that carries none of cookies (without
// cookies, no Cookie or Authorization header), whose key is the same for
// every such request.
func identityKeyOf(r *http.Request, cookies []string) (k [32]byte, keyed bool) {
	if len(cookies) == 0 {
		cookies = nil // the whole headers
	}
	var arr [512]byte
	buf, keyed := appendCookieKey(arr[:0], r, cookies)
	return sha256.Sum256(buf), keyed
}

// appendCookieKey appends identityKeyOf's key material of r to buf and
// returns it with its keyed: cookies nil is the whole Cookie and
// Authorization headers, an empty list none of them.
func appendCookieKey(buf []byte, r *http.Request, cookies []string) (_ []byte, keyed bool) {
	if cookies == nil {
		for _, v := range r.Header.Values("Cookie") {
			buf = append(append(buf, v...), 0)
			keyed = true
		}
		buf = append(buf, 1)
		for _, v := range r.Header.Values("Authorization") {
			buf = append(append(buf, v...), 0)
			keyed = true
		}
		return buf, keyed
	}
	for _, name := range cookies {
		buf = append(append(buf, name...), 0)
	}
	buf = append(buf, 1)
	for _, line := range r.Header.Values("Cookie") {
		for piece := range strings.SplitSeq(line, ";") {
			// Spaces and tabs around a piece are nothing to any parser.
			if piece = strings.Trim(piece, " \t"); piece == "" {
				continue
			}
			name, _, ok := strings.Cut(piece, "=")
			name = strings.TrimRight(name, " \t")
			if ok && isToken(name) && !slices.Contains(cookies, name) {
				continue // an unrelated cookie, whatever the parser
			}
			buf = append(append(buf, piece...), 0)
			keyed = true
		}
	}
	return buf, keyed
}

// identityState is the Container's identity cache, made at first use.
type identityState struct {
	once  sync.Once
	cache *identityCache
	// unkeyed is set once the hook found a user in a request with
	// nothing of the key (the ERROR saying so is logged then): such
	// requests are looked up uncached from then on.
	unkeyed atomic.Bool
	// learned is what the cache keys on.
	learned identityLearner

	// checkMu guards checked, when each cookie name IdentityCookies does
	// not name was last checked (unlistedDue), and warned, the names a
	// WARN named.
	checkMu sync.Mutex
	checked map[string]time.Time
	warned  map[string]bool
}

// get returns the cache, or nil when caching is off (IdentityTTL < 0).
func (s *identityState) get(cfg Config) *identityCache {
	s.once.Do(func() {
		if cfg.IdentityTTL > 0 {
			s.cache = newIdentityCache(cfg.IdentityCacheSize, cfg.IdentityTTL, time.Now)
		}
	})
	return s.cache
}

// identityCache is a bounded LRU cache of identities with a time to live,
// with one lookup in flight per key.
type identityCache struct {
	size int
	ttl  time.Duration
	now  func() time.Time

	mu       sync.Mutex
	lru      *list.List // of *identityEntry, most recent first
	entries  map[[32]byte]*list.Element
	inflight map[[32]byte]*identityFlight
}

type identityEntry struct {
	key     [32]byte
	id      Identity
	expires time.Time
}

type identityFlight struct {
	done chan struct{}
	id   Identity
	err  error
}

func newIdentityCache(size int, ttl time.Duration, now func() time.Time) *identityCache {
	return &identityCache{size: size, ttl: ttl, now: now, lru: list.New(),
		entries: make(map[[32]byte]*list.Element), inflight: make(map[[32]byte]*identityFlight)}
}

// lookup returns the cached identity for key, or calls fetch once for
// all the callers that want key at the same time, and caches a success.
func (c *identityCache) lookup(ctx context.Context, key [32]byte, fetch func(context.Context) (Identity, error)) (Identity, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*identityEntry)
		if c.now().Before(e.expires) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return e.id, nil
		}
		c.lru.Remove(el)
		delete(c.entries, key)
	}
	if f, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.id, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &identityFlight{done: make(chan struct{})}
	c.inflight[key] = f
	c.mu.Unlock()

	// The lookup is shared, so it runs on its own: a caller that leaves
	// does not end it for the others.
	go func() {
		f.id, f.err = fetch(context.WithoutCancel(ctx))
		c.mu.Lock()
		delete(c.inflight, key)
		if f.err == nil {
			c.entries[key] = c.lru.PushFront(&identityEntry{key: key, id: f.id, expires: c.now().Add(c.ttl)})
			for c.lru.Len() > c.size {
				old := c.lru.Back()
				c.lru.Remove(old)
				delete(c.entries, old.Value.(*identityEntry).key)
			}
		}
		c.mu.Unlock()
		close(f.done)
	}()
	select {
	case <-f.done:
		return f.id, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// forget removes key's cached identity, if any.
func (c *identityCache) forget(key [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.lru.Remove(el)
		delete(c.entries, key)
	}
}

// len returns the number of cached identities.
func (c *identityCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
