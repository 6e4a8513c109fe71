package wsgi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// identityServer serves c with GET /go/whoami in Go (behind the identity
// middleware, answering IdentityFrom as JSON) and everything else in
// Python.
func identityServer(t testing.TB, c *Container) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /go/whoami", c.IdentityMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := IdentityFrom(r.Context())
		if !ok {
			http.Error(w, "no identity looked up", 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(id)
	})))
	// A Python page behind the middleware, as a staged route's Python
	// side is: its Vary must not list Cookie twice.
	mux.Handle("GET /admin/login/", c.IdentityMiddleware(c))
	mux.Handle("/", c)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// varyLists reports whether h's Vary header lists name.
func varyLists(h http.Header, name string) bool {
	for _, line := range h.Values("Vary") {
		for v := range strings.SplitSeq(line, ",") {
			if strings.EqualFold(strings.TrimSpace(v), name) {
				return true
			}
		}
	}
	return false
}

func whoami(t *testing.T, cl *e2eClient) Identity {
	t.Helper()
	var id Identity
	cl.json("GET", "/go/whoami", nil, nil, 200, &id)
	return id
}

func form(cl *e2eClient, path string, vals url.Values) *http.Response {
	resp, _ := cl.do("POST", path, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(vals.Encode()))
	return resp
}

// graft:flask through a real login: the Flask view writes the session,
// Go reads who is logged in.
func TestIdentityFlask(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, ttl := range []time.Duration{0, -1} { // cached (10s), uncached
		t.Run("ttl="+ttl.String(), func(t *testing.T) {
			c, _ := newContainer(t, Config{App: "rmflask:app", IdentityHook: "graft:flask", IdentityTTL: ttl})
			srv := identityServer(t, c)
			cl := newE2EClient(t, srv.URL, true)
			if id := whoami(t, cl); id != nil {
				t.Fatalf("before login: %v, want null", id)
			}
			if resp := form(cl, "/login", url.Values{"user": {"ada"}, "id": {"7"}}); resp.StatusCode != 200 {
				t.Fatalf("login: %d", resp.StatusCode)
			}
			want := Identity{"user_id": "7", "session": map[string]any{"user": "ada", "_user_id": "7"}}
			if id := whoami(t, cl); !reflect.DeepEqual(id, want) {
				t.Fatalf("after login: %v, want %v", id, want)
			}
			// Logging out changes the cookie: the next lookup is fresh.
			form(cl, "/logout", nil)
			if id := whoami(t, cl); id != nil {
				t.Fatalf("after logout: %v, want null", id)
			}
			// A forged cookie is not a session.
			forged := newE2EClient(t, srv.URL, false)
			resp, body := forged.do("GET", "/go/whoami", http.Header{"Cookie": {"session=eyJ1c2VyIjoiZXZlIn0.Zx.forged"}}, nil)
			if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "null" {
				t.Fatalf("forged cookie: %d %s", resp.StatusCode, body)
			}
			if st := c.Status(); st.Workers[0].Served < 2 {
				t.Errorf("the app's own requests were not served? %+v", st.Workers)
			}
		})
	}
}

// TestIdentityCookiesMisnamed: IdentityCookies that do not name the
// cookie the app keeps its session in (Django's "sessionid" for a Flask
// app's "session", or a SESSION_COOKIE_NAME of the app's own) leave the
// session out of the configured key, so that every request had one key:
// until 2026-12-02 the first logged-in user's identity was cached under
// it and given to every other visitor, anonymous ones included, for
// IdentityTTL. With graft:flask the cache keys on the cookies the app
// reads as well, and a WARN names the one IdentityCookies leaves out.
// With a hook of the app's own, an identity found for a request that
// carries none of the cookies (nor, without IdentityCookies, a Cookie or
// Authorization header) is neither cached nor shared, and an ERROR says
// which setting to fix.
func TestIdentityCookiesMisnamed(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, tc := range []struct{ hook, level string }{
		{"graft:flask", "WARN"},
		{"rmflask:session_hook", "ERROR"},
	} {
		t.Run(tc.hook, func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "rmflask:app", IdentityHook: tc.hook, IdentityCookies: []string{"sessionid"}})
			srv := identityServer(t, c)
			ada := newE2EClient(t, srv.URL, true)
			if resp := form(ada, "/login", url.Values{"user": {"ada"}, "id": {"7"}}); resp.StatusCode != 200 {
				t.Fatalf("login: %d", resp.StatusCode)
			}
			for i := range 2 {
				if id := whoami(t, ada); id.String("user_id") != "7" {
					t.Fatalf("ada, lookup %d: %v, want user_id 7", i, id)
				}
				if id := whoami(t, newE2EClient(t, srv.URL, true)); id != nil {
					t.Fatalf("an anonymous visitor after ada's lookup %d: %v, want null", i, id)
				}
			}
			if !levelLogged(logs, tc.level, "IdentityCookies") {
				t.Errorf("no %s naming IdentityCookies in the log:\n%s", tc.level, logs)
			}
		})
	}
}

// TestIdentityNumbers: the numbers of an identity keep Python's exact
// value and text (json.Number, as a migrate/session.Session's): decoded as
// float64, as they were until 2026-12-02, an integer id beyond 2^53 (a
// snowflake id kept in the Flask session) came back as another integer,
// silently, and fmt.Sprint wrote a user id of 1000000 as "1e+06".
func TestIdentityNumbers(t *testing.T) {
	pythontest.Python(t, "flask")
	c, _ := newContainer(t, Config{App: "rmflask:app", IdentityHook: "graft:flask", IdentityTTL: -1})
	srv := identityServer(t, c)
	for _, tc := range []struct{ num, want string }{
		{"7", "7"},
		{"1000000", "1000000"},
		{"9007199254740993", "9007199254740993"}, // 2^53 + 1
		{"-12345678901234567890123", "-12345678901234567890123"},
		{"2.5", "2.5"},
		{"1e16", "1e+16"}, // a float, as Python's json writes it
	} {
		t.Run(tc.num, func(t *testing.T) {
			cl := newE2EClient(t, srv.URL, false)
			resp := form(cl, "/login", url.Values{"user": {"ada"}, "num": {tc.num}})
			if resp.StatusCode != 200 || len(resp.Cookies()) == 0 {
				t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
			}
			req := httptest.NewRequest("GET", "/go/whoami", nil)
			for _, ck := range resp.Cookies() {
				req.AddCookie(ck)
			}
			id, err := c.Identity(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			sess, _ := id["session"].(map[string]any)
			if got := sess["num"]; got != json.Number(tc.want) {
				t.Fatalf("session[num] = %#v (%T), want json.Number(%q); identity %v", got, got, tc.want, id)
			}
			if got := fmt.Sprint(sess["num"]); got != tc.want {
				t.Errorf("fmt.Sprint = %q, want %q", got, tc.want)
			}
		})
	}
}

// graft:django through the admin's login form (a real POST with its CSRF
// token): Go sees the user, groups included.
func TestIdentityDjango(t *testing.T) {
	env := djangoUsers(t)
	c, _ := newContainer(t, Config{App: "rmdjango.wsgi:application", Env: env, Threads: 2,
		IdentityHook: "graft:django", IdentityCookies: []string{"sessionid"}})
	srv := identityServer(t, c)
	login := func(user string) *e2eClient { return djangoLogin(t, srv.URL, user) }

	anon := newE2EClient(t, srv.URL, true)
	if id := whoami(t, anon); id != nil {
		t.Fatalf("anonymous: %v", id)
	}
	ada := login("ada")
	want := Identity{"id": 1.0, "username": "ada", "is_staff": true, "is_superuser": false, "groups": []any{"authors", "editors"}}
	if id := whoami(t, ada); !reflect.DeepEqual(id, want) {
		t.Fatalf("ada: %v, want %v", id, want)
	}
	bob := login("bob")
	if id := whoami(t, bob); id.String("username") != "bob" || !id.Bool("is_superuser") || len(id["groups"].([]any)) != 0 {
		t.Fatalf("bob: %v", id)
	}
	// Go's answer depends on the session cookie as Django's does: both
	// carry Vary: Cookie (Django's SessionMiddleware adds it to a response
	// whose view read the session), so that a shared cache never gives one
	// user's answer to another.
	for _, cl := range []*e2eClient{anon, ada} {
		resp, _ := cl.do("GET", "/admin/", nil, nil)
		if !varyLists(resp.Header, "Cookie") {
			t.Fatalf("Django's /admin/: Vary %q, the test's premise fails", resp.Header.Values("Vary"))
		}
		resp, _ = cl.do("GET", "/go/whoami", nil, nil)
		if got := resp.Header.Values("Vary"); len(got) != 1 || got[0] != "Cookie" {
			t.Errorf("Go's /go/whoami behind IdentityMiddleware: Vary %q, want [Cookie]", got)
		}
		resp, _ = cl.do("GET", "/admin/login/", nil, nil)
		if got := resp.Header.Values("Vary"); len(got) != 1 || got[0] != "Cookie" {
			t.Errorf("Django's /admin/login/ behind IdentityMiddleware: Vary %q, want [Cookie]", got)
		}
	}
	// Both sessions are cached, each under its own sessionid.
	if n := c.ident.get(c.cfg).len(); n != 3 {
		t.Errorf("%d cached identities, want 3 (anonymous, ada, bob)", n)
	}
	if id := whoami(t, ada); id.String("username") != "ada" {
		t.Fatalf("ada again: %v", id)
	}
}

// Hooks that fail are errors with the Python traceback, answered 500 by
// the middleware; the worker keeps serving.
func TestIdentityBrokenHooks(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, tc := range []struct{ hook, want string }{
		{"rmflask:broken_hook", "RuntimeError: the hook is broken on purpose"},
		{"rmflask:list_hook", "returned a list; want a dict or None"},
		{"rmflask:bad_value_hook", "not JSON-serialisable"},
	} {
		t.Run(tc.hook, func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "rmflask:app", IdentityHook: tc.hook})
			srv := identityServer(t, c)
			req := httptest.NewRequest("GET", "/", nil)
			_, err := c.Identity(context.Background(), req)
			var ce *CallError
			if !errors.As(err, &ce) || !strings.Contains(ce.Message, tc.want) || !errors.Is(err, ErrAppError) || ce.Traceback == "" {
				t.Fatalf("Identity: %v (%#v); want a CallError with %q", err, ce, tc.want)
			}
			cl := newE2EClient(t, srv.URL, false)
			if resp, _ := cl.get("/go/whoami"); resp.StatusCode != 500 {
				t.Errorf("middleware answered %d, want 500", resp.StatusCode)
			}
			if !strings.Contains(logs.String(), "identity lookup failed") {
				t.Errorf("the failure is not logged:\n%s", logs.String())
			}
			if resp, body := cl.get("/"); resp.StatusCode != 200 || string(body) != "index" {
				t.Errorf("the app after the failed hook: %d %q", resp.StatusCode, body)
			}
		})
	}
}

// A hook that cannot be loaded (a typo in its module or function, a module
// that fails to import, an object that is not callable) fails New, with or
// without preload, as an app that cannot be loaded does: it is loaded with
// the app. It used to be loaded at the first lookup, so that New succeeded
// and every request through IdentityMiddleware was answered 500, each
// logged with the same ImportError.
func TestIdentityHookLoadFails(t *testing.T) {
	py := pythontest.Python(t, "flask")
	for _, tc := range []struct{ hook, want string }{
		{"rmflask:no_such_hook", "has no attribute 'no_such_hook'"},
		{"no_such_module:hook", "No module named 'no_such_module'"},
		{"rmflask:__name__", "names a str, which is not callable"},
	} {
		for _, noPreload := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/nopreload=%v", tc.hook, noPreload), func(t *testing.T) {
				logs := &pythontest.Buffer{}
				c, err := New(Config{App: "rmflask:app", IdentityHook: tc.hook, Python: py, Dir: testdataDir(t),
					Workers: 2, NoPreload: noPreload, Logger: slog.New(slog.NewTextHandler(logs, nil))})
				if err == nil {
					c.Shutdown(context.Background())
					t.Fatalf("New accepted IdentityHook %q", tc.hook)
				}
				var le *LoadError
				head, _, _ := strings.Cut(err.Error(), "\n")
				if !errors.As(err, &le) || !strings.Contains(head, "identity hook '"+tc.hook+"' (Config.IdentityHook) cannot be loaded") ||
					!strings.Contains(head, tc.want) {
					t.Errorf("New: %v\nwant a *LoadError whose first line names the hook and says %q", err, tc.want)
				}
			})
		}
	}
}

// IdentityMiddleware on a container without IdentityHook answers 500
// (ErrNoIdentityHook: the server's configuration), logged: it answered 502,
// the status of a worker that failed, though no worker was asked.
func TestIdentityMiddlewareNoHook(t *testing.T) {
	c, logs := newContainer(t, Config{App: "apps:hello"})
	h := c.IdentityMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the request was passed on without an identity")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 {
		t.Errorf("IdentityMiddleware without a hook answered %d, want 500", rec.Code)
	}
	if !strings.Contains(logs.String(), "no identity hook configured (Config.IdentityHook)") {
		t.Errorf("not logged:\n%s", logs.String())
	}
}

// The hook gets the request's environ: cookies, path, what Go added.
func TestIdentityEnviron(t *testing.T) {
	pythontest.Python(t, "flask")
	c, _ := newContainer(t, Config{App: "rmflask:app", IdentityHook: "rmflask:echo_hook", IdentityTTL: -1})
	req := httptest.NewRequest("GET", "/some/path", nil)
	req.Header.Set("Cookie", "a=1; b=\xe9")
	id, err := c.Identity(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if id.String("cookie") != "a=1; b=\u00e9" || id.String("path") != "/some/path" {
		t.Errorf("hook saw %v", id)
	}
	none, _ := newContainer(t, Config{App: "rmflask:app"})
	if _, err := none.Identity(context.Background(), req); !errors.Is(err, ErrNoIdentityHook) {
		t.Errorf("no hook: %v", err)
	}
}

func TestIdentityConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{App: "a:b", IdentityHook: "nocolon"}, "IdentityHook"},
		{Config{App: "a:b", IdentityHook: "a:b c"}, "IdentityHook"},
		{Config{App: "a:b", IdentityHook: "graft:nosuch"}, "graft ships graft:django, graft:flask and graft:pyramid only"},
		{Config{App: "a:b", IdentityCacheSize: -1}, "IdentityCacheSize"},
		{Config{App: "a:b", IdentityCookies: []string{"a;b"}}, "IdentityCookies"},
	} {
		if _, err := tc.cfg.withDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error about %s", tc.cfg, err, tc.want)
		}
	}
	cfg, err := Config{App: "a:b", IdentityHook: "graft:django"}.withDefaults()
	if err != nil || cfg.IdentityTTL != 10*time.Second || cfg.IdentityCacheSize != 10000 {
		t.Errorf("defaults: %v %v %v", err, cfg.IdentityTTL, cfg.IdentityCacheSize)
	}
}

// The cache: time to live, LRU bound, one lookup per key at a time,
// errors not cached, keys per cookie.
func TestIdentityCache(t *testing.T) {
	var now atomic.Int64
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	key := func(s string) [32]byte { var k [32]byte; copy(k[:], s); return k }
	var calls atomic.Int64
	fetch := func(id Identity, err error) func(context.Context) (Identity, error) {
		return func(context.Context) (Identity, error) { calls.Add(1); return id, err }
	}
	ctx := context.Background()

	t.Run("TTL", func(t *testing.T) {
		c := newIdentityCache(10, 10*time.Second, clock)
		calls.Store(0)
		c.lookup(ctx, key("a"), fetch(Identity{"u": "a"}, nil))
		now.Add(int64(9 * time.Second))
		id, _ := c.lookup(ctx, key("a"), fetch(Identity{"u": "other"}, nil))
		if id.String("u") != "a" || calls.Load() != 1 {
			t.Fatalf("within TTL: %v after %d calls", id, calls.Load())
		}
		now.Add(int64(2 * time.Second))
		id, _ = c.lookup(ctx, key("a"), fetch(Identity{"u": "b"}, nil))
		if id.String("u") != "b" || calls.Load() != 2 {
			t.Fatalf("after TTL: %v after %d calls", id, calls.Load())
		}
	})
	t.Run("LRU", func(t *testing.T) {
		c := newIdentityCache(2, time.Hour, clock)
		calls.Store(0)
		c.lookup(ctx, key("a"), fetch(nil, nil))
		c.lookup(ctx, key("b"), fetch(nil, nil))
		c.lookup(ctx, key("a"), fetch(nil, nil)) // a is now the most recent
		c.lookup(ctx, key("c"), fetch(nil, nil)) // b goes
		if c.len() != 2 || calls.Load() != 3 {
			t.Fatalf("len %d calls %d", c.len(), calls.Load())
		}
		c.lookup(ctx, key("a"), fetch(nil, nil))
		if calls.Load() != 3 {
			t.Errorf("a was evicted")
		}
		c.lookup(ctx, key("b"), fetch(nil, nil))
		if calls.Load() != 4 {
			t.Errorf("b was kept")
		}
	})
	t.Run("Errors", func(t *testing.T) {
		c := newIdentityCache(2, time.Hour, clock)
		calls.Store(0)
		boom := errors.New("boom")
		if _, err := c.lookup(ctx, key("a"), fetch(nil, boom)); err != boom {
			t.Fatal(err)
		}
		if _, err := c.lookup(ctx, key("a"), fetch(Identity{}, nil)); err != nil || calls.Load() != 2 || c.len() != 1 {
			t.Fatalf("error cached? %v calls %d len %d", err, calls.Load(), c.len())
		}
	})
	t.Run("OneLookupPerKey", func(t *testing.T) {
		c := newIdentityCache(10, time.Hour, clock)
		release := make(chan struct{})
		var n atomic.Int64
		slow := func(context.Context) (Identity, error) { n.Add(1); <-release; return Identity{"u": "x"}, nil }
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if id, err := c.lookup(ctx, key("k"), slow); err != nil || id.String("u") != "x" {
					t.Errorf("%v %v", id, err)
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		close(release)
		wg.Wait()
		if n.Load() != 1 {
			t.Errorf("%d lookups for one key", n.Load())
		}
		// A caller that gives up does not wait for the lookup.
		block := make(chan struct{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.lookup(cctx, key("z"), func(context.Context) (Identity, error) { <-block; return nil, nil }); err != context.Canceled {
			t.Errorf("cancelled caller: %v", err)
		}
		close(block)
	})
	t.Run("Keys", func(t *testing.T) {
		r1 := httptest.NewRequest("GET", "/", nil)
		r1.Header.Set("Cookie", "sessionid=abc; csrftoken=1")
		r2 := httptest.NewRequest("GET", "/", nil)
		r2.Header.Set("Cookie", "csrftoken=2; sessionid=abc")
		r3 := httptest.NewRequest("GET", "/", nil)
		r3.Header.Set("Cookie", "sessionid=abd; csrftoken=1")
		only := []string{"sessionid"}
		if identityKey(r1, only) != identityKey(r2, only) || identityKey(r1, only) == identityKey(r3, only) {
			t.Error("keys by the sessionid cookie")
		}
		if identityKey(r1, nil) == identityKey(r2, nil) {
			t.Error("keys by the whole Cookie header")
		}
		r4 := httptest.NewRequest("GET", "/", nil)
		r4.Header.Set("Authorization", "Bearer x")
		if identityKey(r4, nil) == identityKey(httptest.NewRequest("GET", "/", nil), nil) {
			t.Error("the Authorization header is part of the default key")
		}
	})
}

// One identity lookup through the container: from the cache, and from
// Python (the graft:flask hook on a real Flask session).
func BenchmarkIdentity(b *testing.B) {
	pythontest.Python(b, "flask")
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			c, _ := newContainer(b, Config{App: "rmflask:app", IdentityHook: "graft:flask", IdentityTTL: bc.ttl})
			srv := httptest.NewServer(c)
			b.Cleanup(srv.Close)
			resp, err := http.PostForm(srv.URL+"/login", url.Values{"user": {"ada"}, "id": {"7"}})
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			req := httptest.NewRequest("GET", "/", nil)
			for _, ck := range resp.Cookies() {
				req.AddCookie(ck)
			}
			ctx := context.Background()
			if id, err := c.Identity(ctx, req); err != nil || id.String("user_id") != "7" {
				b.Fatalf("%v %v", id, err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Identity(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A worker that dies or hangs in a hook gives ErrWorkerDied or ErrTimeout,
// and is replaced.
func TestIdentityHookKillsWorker(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, tc := range []struct {
		hook    string
		timeout time.Duration
		want    error
	}{
		{"rmflask:exit_hook", 0, ErrWorkerDied},
		{"rmflask:slow_hook", 500 * time.Millisecond, ErrTimeout},
	} {
		t.Run(tc.hook, func(t *testing.T) {
			c, _ := newContainer(t, Config{App: "rmflask:app", IdentityHook: tc.hook, Timeout: tc.timeout})
			srv := newServer(t, c)
			_, err := c.Identity(context.Background(), httptest.NewRequest("GET", "/", nil))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), `control call "identity" on worker`) {
				t.Fatalf("Identity: %v, want %v", err, tc.want)
			}
			eventuallyServes(t, srv.URL+"/")
		})
	}
}

// The hook's environ has every key PEP 3333 requires: wsgi.errors was
// missing (a KeyError for a hook that logs through it), and what the hook
// writes there is logged.
func TestIdentityEnvironPEP3333(t *testing.T) {
	pythontest.Python(t, "flask")
	c, logs := newContainer(t, Config{App: "rmflask:app", IdentityHook: "rmflask:pep3333_hook", IdentityTTL: -1})
	id, err := c.Identity(context.Background(), httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if missing, ok := id["missing"].([]any); !ok || len(missing) != 0 {
		t.Errorf("the hook's environ lacks %v", id["missing"])
	}
	logHas(t, logs, 3*time.Second, "the hook writes to wsgi.errors")
}

// A hook raising SystemExit gets its CallError, and its worker exits, as
// for a request, with one thread or several. With several, the thread
// running calls died and the worker lived on: every later call on that
// worker waited for its Timeout.
func TestIdentityHookSystemExit(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "rmflask:app", IdentityHook: "rmflask:sysexit_hook", Threads: threads, Timeout: 5 * time.Second})
			before := poolOf(c).pids()
			for i := range 2 {
				_, err := c.Identity(context.Background(), httptest.NewRequest("GET", "/", nil))
				var ce *CallError
				if !errors.As(err, &ce) || !strings.Contains(ce.Message, "SystemExit: 3") {
					t.Fatalf("Identity call %d: %v; want a CallError with SystemExit: 3", i+1, err)
				}
				waitFor(t, 10*time.Second, "the worker to be replaced", func() bool {
					now := poolOf(c).pids()
					return len(now) == 1 && !slices.Contains(before, now[0])
				})
				before = poolOf(c).pids()
			}
			logHas(t, logs, 3*time.Second, "exit status 3")
		})
	}
}

// TestIdentityHookUnprintable: a hook raising an exception whose __str__
// (and __repr__) raise gets a CallError with a fallback description, and
// the worker lives on, with one thread or several. The worker formatted
// the message itself, outside of the hook's try: the exception escaped
// and killed it (ErrWorkerDied). A returned value that is not JSON and
// whose __repr__ raises is described the same way. So is an exception
// whose __getattr__ raises, which the traceback module of Python 3.11
// and 3.12 cannot format (it looks up __notes__): the traceback then
// holds the stack and that description.
func TestIdentityHookUnprintable(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, threads := range []int{1, 2} {
		for _, tc := range []struct{ hook, want string }{
			{"rmflask:unprintable_hook", "Unprintable: <unprintable Unprintable object>"},
			{"rmflask:unprintable_value_hook", "not JSON-serialisable: _BadRepr object <unprintable _BadRepr object>"},
			{"rmflask:getattr_hook", "AttrRaising: attr-raising-message"},
		} {
			t.Run(fmt.Sprintf("threads=%d/%s", threads, tc.hook), func(t *testing.T) {
				c, _ := newContainer(t, Config{App: "rmflask:app", IdentityHook: tc.hook, Threads: threads, IdentityTTL: -1})
				before := poolOf(c).pids()
				for i := range 2 {
					_, err := c.Identity(context.Background(), httptest.NewRequest("GET", "/", nil))
					var ce *CallError
					if !errors.As(err, &ce) || !strings.Contains(ce.Message, tc.want) || ce.Traceback == "" {
						t.Fatalf("Identity call %d: %v; want a CallError with %q and a traceback", i+1, err, tc.want)
					}
				}
				if now := poolOf(c).pids(); !slices.Equal(now, before) {
					t.Errorf("workers %v became %v: the hook's error killed its worker", before, now)
				}
			})
		}
	}
}

// eventuallyServes waits for url to answer 200 (a replacement worker).
func eventuallyServes(t *testing.T, u string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no 200 from a replacement worker (%v)", u, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const djangoPassword = "correct horse battery staple"

// djangoUsers makes the rmdjango database with its users (ada, bob) and
// returns the workers' environment.
func djangoUsers(t testing.TB) []string {
	t.Helper()
	pythontest.Python(t, "django")
	db := filepath.Join(t.TempDir(), "db.sqlite3")
	env := []string{"GRAFT_DJANGO_DB=" + db, "DJANGO_SETTINGS_MODULE=rmdjango.settings"}
	cmd := exec.Command(pythontest.Python(t), "rmdjango/setup_db.py", djangoPassword)
	cmd.Dir = testdataDir(t)
	cmd.Env = append(cmd.Environ(), append(env, "PYTHONPATH="+testdataDir(t))...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setup_db: %v\n%s", err, out)
	}
	return env
}

// djangoLogin logs user in through the admin's login form (with its CSRF
// token) and returns the client holding the session.
func djangoLogin(t testing.TB, base, user string) *e2eClient {
	t.Helper()
	cl := newE2EClient(t, base, true)
	_, page := cl.get("/admin/login/?next=/admin/")
	m := djangoCSRFToken.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the login form:\n%s", page)
	}
	resp := form(cl, "/admin/login/?next=/admin/", url.Values{
		"csrfmiddlewaretoken": {string(m[1])}, "username": {user}, "password": {djangoPassword}, "next": {"/admin/"},
	})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login %s: %d, want 302", user, resp.StatusCode)
	}
	return cl
}

// One graft:django lookup: Django's session (sqlite3) and user, groups
// included, from the cache and from Python.
func BenchmarkIdentityDjango(b *testing.B) {
	env := djangoUsers(b)
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			c, _ := newContainer(b, Config{App: "rmdjango.wsgi:application", Env: env,
				IdentityHook: "graft:django", IdentityCookies: []string{"sessionid"}, IdentityTTL: bc.ttl})
			srv := httptest.NewServer(c)
			b.Cleanup(srv.Close)
			cl := djangoLogin(b, srv.URL, "ada")
			u, _ := url.Parse(srv.URL)
			req := httptest.NewRequest("GET", "/", nil)
			for _, ck := range cl.hc.Jar.Cookies(u) {
				req.AddCookie(ck)
			}
			ctx := context.Background()
			if id, err := c.Identity(ctx, req); err != nil || id.String("username") != "ada" {
				b.Fatalf("%v %v", id, err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Identity(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestIdentityKey: with IdentityCookies, requests share a cache key when
// and only when Python could not tell their sessions apart: unrelated
// cookies do not split the cache, while anything a lenient parser (Django's,
// werkzeug's) could take for the session cookie does, even where net/http's
// parser sees no such cookie (past its 3000 cookies, or a value it finds
// malformed), which made an attacker's identity the anonymous visitors'.
func TestIdentityKey(t *testing.T) {
	names := []string{"sessionid"}
	key := func(cookie ...string) [32]byte {
		r := httptest.NewRequest("GET", "/", nil)
		for _, c := range cookie {
			r.Header.Add("Cookie", c)
		}
		return identityKey(r, names)
	}
	anonymous := key()
	tests := []struct {
		name   string
		cookie []string
		same   bool // the anonymous key
	}{
		{"unrelated cookies", []string{"_ga=GA1.2.3; theme=dark"}, true},
		{"an empty header", []string{""}, true},
		{"the session", []string{"sessionid=abc"}, false},
		{"the session among others", []string{"_ga=1; sessionid=abc; theme=dark"}, false},
		{"past net/http's 3000 cookies", []string{"sessionid=abc" + strings.Repeat(";", 3001)}, false},
		{"a value net/http refuses", []string{`sessionid=a"b c`}, false},
		{"a name with latin-1 space", []string{"\xa0sessionid=abc"}, false},
		{"a piece without =", []string{"sessionid"}, false},
		{"two Cookie headers", []string{"theme=dark", "sessionid=abc"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := key(tc.cookie...) == anonymous; got != tc.same {
				t.Errorf("same key as a request without a session: %v, want %v", got, tc.same)
			}
		})
	}
	if key("sessionid=abc; _ga=1") != key("_ga=2; sessionid=abc") {
		t.Error("unrelated cookies split the cache")
	}
	if key("sessionid=abc") == key("sessionid=abd") {
		t.Error("two sessions share a key")
	}
}
