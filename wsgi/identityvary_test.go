package wsgi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// identityCaller is a scripted transport that answers identity calls as
// graft's hooks do, with vary, which the test changes: the identity is
// what the request carries of what vary names (the cookies, User-Agent,
// address), nil without any of the cookies.
type identityCaller struct {
	fakeTransport
	calls atomic.Int64
	mu    sync.Mutex
	vary  string // the answers' "vary" JSON; "": none
}

func (ic *identityCaller) setVary(v string) {
	ic.mu.Lock()
	ic.vary = v
	ic.mu.Unlock()
}

func (ic *identityCaller) Call(ctx context.Context, call *Call) (json.RawMessage, error) {
	ic.calls.Add(1)
	env := map[string]string{}
	for i := 0; i+1 < len(call.Env); i += 2 {
		env[call.Env[i]] = call.Env[i+1]
	}
	ic.mu.Lock()
	raw := ic.vary
	ic.mu.Unlock()
	var vary identityVary
	if err := json.Unmarshal([]byte(raw), &vary); err != nil {
		return nil, err
	}
	var pieces []string
	for piece := range strings.SplitSeq(env["HTTP_COOKIE"], "; ") {
		name, _, _ := strings.Cut(piece, "=")
		if slices.Contains(vary.Cookies, name) || vary.NoCache != "" {
			pieces = append(pieces, piece)
		}
	}
	var id Identity
	if len(pieces) > 0 {
		id = Identity{"cookie": strings.Join(pieces, "; ")}
		if len(vary.Headers) > 0 || vary.NoCache != "" {
			id["ua"] = env["HTTP_USER_AGENT"]
		}
		if vary.RemoteAddr || vary.NoCache != "" {
			id["addr"] = env["REMOTE_ADDR"]
		}
	}
	return json.Marshal(map[string]any{"identity": id, "vary": json.RawMessage(raw)})
}

// TestIdentityVary: the cache keys on what the hook's answers say they
// depend on, learns it from the first answer (looked up uncached), looks
// up again when an answer says something else, and does not cache
// answers the hook says not to; every change is logged once.
func TestIdentityVary(t *testing.T) {
	// lookup looks up the identity of a request with cookie, ua and addr,
	// and checks that it is the request's own: what the request carries
	// of what it names.
	lookup := func(t *testing.T, c *Container, cookie, ua, addr string) {
		t.Helper()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", cookie)
		r.Header.Set("User-Agent", ua)
		r.RemoteAddr = addr + ":1234"
		id, err := c.Identity(t.Context(), r)
		if err != nil {
			t.Error(err)
			return
		}
		if id == nil {
			return // anonymous: nobody's
		}
		pieces := strings.Split(cookie, "; ")
		for got := range strings.SplitSeq(id.String("cookie"), "; ") {
			if !slices.Contains(pieces, got) {
				t.Errorf("cookie %q: %v: another request's answer", cookie, id)
			}
		}
		if u, ok := id["ua"]; ok && u != ua {
			t.Errorf("User-Agent %q: %v: another request's answer", ua, id)
		}
		if a, ok := id["addr"]; ok && a != addr {
			t.Errorf("address %q: %v: another request's answer", addr, id)
		}
	}
	newC := func(t *testing.T, cookies []string, vary string) (*Container, *identityCaller, *pythontest.Buffer) {
		ic := &identityCaller{vary: vary}
		logs := &pythontest.Buffer{}
		c, err := NewWithTransport(Config{App: "fake:app", IdentityHook: "graft:flask", IdentityCookies: cookies, IdentityTTL: time.Hour,
			Logger: slog.New(slog.NewTextHandler(logs, nil))}, ic)
		if err != nil {
			t.Fatal(err)
		}
		return c, ic, logs
	}

	t.Run("learned", func(t *testing.T) {
		c, ic, logs := newC(t, []string{"sid"}, `{"cookies": ["session", "remember_token"], "headers": ["user-agent"], "remote_addr": true}`)
		for _, v := range []struct {
			cookie, ua, addr string
			calls            int64 // after it
		}{
			{"session=a", "ua1", "10.0.0.1", 1}, // the first: uncached
			{"session=a", "ua1", "10.0.0.1", 2},
			{"session=a", "ua1", "10.0.0.1", 2},
			{"session=a; theme=dark", "ua1", "10.0.0.1", 2}, // a cookie the app does not read
			{"session=a", "ua2", "10.0.0.1", 3},
			{"session=a", "ua1", "10.0.0.2", 4},
			{"session=a; remember_token=x", "ua1", "10.0.0.1", 5},
			{"sid=1; session=a", "ua1", "10.0.0.1", 6}, // IdentityCookies' too
			{"theme=dark", "ua1", "10.0.0.1", 7},
			{"", "ua1", "10.0.0.1", 7}, // anonymous: the same key
		} {
			lookup(t, c, v.cookie, v.ua, v.addr)
			if n := ic.calls.Load(); n != v.calls {
				t.Fatalf("%+v: %d calls, want %d", v, n, v.calls)
			}
		}
		if n := strings.Count(logs.String(), "leaves out session and remember_token"); n != 1 {
			t.Errorf("%d WARNs on the cookies IdentityCookies leaves out, want 1; log:\n%s", n, logs)
		}
	})

	t.Run("changed", func(t *testing.T) {
		c, ic, logs := newC(t, []string{"sid"}, `{"cookies": ["a"]}`)
		lookup(t, c, "a=1; b=1", "", "10.0.0.1") // learns a
		lookup(t, c, "a=1; b=1", "", "10.0.0.1") // cached under a
		ic.setVary(`{"cookies": ["b"]}`)
		lookup(t, c, "a=1; b=1", "", "10.0.0.1") // still a's
		calls := ic.calls.Load()
		// A miss: the answer says b, and is not cached under a's key;
		// the lookup is made again under b's.
		lookup(t, c, "a=3; b=2", "", "10.0.0.1")
		if n := ic.calls.Load() - calls; n != 2 {
			t.Errorf("%d calls for the lookup that learned the change, want 2", n)
		}
		// The key is now what any answer said, a and b: answers that
		// read a are keyed on it still (a hook whose reads depend on the
		// request reports only what each lookup read).
		lookup(t, c, "a=3; b=2", "", "10.0.0.1")
		if n := ic.calls.Load() - calls; n != 2 {
			t.Errorf("%d calls, want 2 (a=3; b=2 is cached)", n)
		}
		lookup(t, c, "a=2; b=2", "", "10.0.0.1")
		lookup(t, c, "a=2; b=2", "", "10.0.0.1")
		if n := ic.calls.Load() - calls; n != 3 {
			t.Errorf("%d calls, want 3 (a=2 is another session, then cached)", n)
		}
		for _, miss := range []string{"leaves out a:", "leaves out a and b:"} {
			if n := strings.Count(logs.String(), miss); n != 1 {
				t.Errorf("%d WARNs %q, want 1; log:\n%s", n, miss, logs)
			}
		}
	})

	t.Run("no_cache", func(t *testing.T) {
		c, ic, logs := newC(t, nil, `{"no_cache": "a request_loader"}`)
		for i := range 3 {
			lookup(t, c, "session=a", "ua1", "10.0.0.1")
			if n := ic.calls.Load(); n != int64(i+1) {
				t.Fatalf("lookup %d: %d calls, want %d", i, n, i+1)
			}
		}
		if n := strings.Count(logs.String(), `level=INFO msg="wsgi: identity hook graft:flask: answers are not cached: a request_loader"`); n != 1 {
			t.Errorf("%d INFO lines on the answers not cached, want 1; log:\n%s", n, logs)
		}
	})

	t.Run("concurrent changes", func(t *testing.T) {
		c, ic, _ := newC(t, nil, `{"cookies": ["a"]}`)
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%10 == 5 {
					ic.setVary([]string{`{"cookies": ["a"]}`, `{"cookies": ["b"]}`}[i/10%2])
				}
				lookup(t, c, []string{"a=1; b=1", "a=1; b=2", "a=2; b=1"}[i%3], "", "10.0.0.1")
			}()
		}
		wg.Wait()
	})
}

// TestIdentityKeySpecParts: the environ keys and the query that graft's
// hooks report key the cache by their values (REMOTE_USER as WithEnviron
// set it, the whole query string), and a merged spec keys on all that
// either part said.
func TestIdentityKeySpecParts(t *testing.T) {
	spec := keySpecFor(Config{}, (&identityVary{Cookies: []string{"session"}}).merge(
		&identityVary{Environ: []string{"REMOTE_USER"}, Query: true}))
	key := func(user, target string) [32]byte {
		r := httptest.NewRequest("GET", target, nil)
		if user != "" {
			r = r.WithContext(WithEnviron(r.Context(), "REMOTE_USER", user))
		}
		k, keyed := spec.key(r)
		if !keyed {
			t.Errorf("%q %q: not keyed", user, target)
		}
		return k
	}
	for _, tc := range []struct {
		name       string
		a, b       [32]byte
		wantShared bool
	}{
		{"same user, same query", key("ada", "/?k=1"), key("ada", "/?k=1"), true},
		{"another path", key("ada", "/x?k=1"), key("ada", "/y?k=1"), true},
		{"another user", key("ada", "/?k=1"), key("bob", "/?k=1"), false},
		{"no user", key("ada", "/"), key("", "/"), false},
		{"an empty user", key("", "/"), key("", "/"), true},
		{"another query", key("ada", "/?k=1"), key("ada", "/?k=2"), false},
		{"no query", key("ada", "/?"), key("ada", "/?k="), false},
	} {
		if shared := tc.a == tc.b; shared != tc.wantShared {
			t.Errorf("%s: shared key %v, want %v", tc.name, shared, tc.wantShared)
		}
	}
	if (&identityVary{Headers: []string{"A"}}).covers(&identityVary{Headers: []string{"A", "B"}}) {
		t.Error("covers: a vary without B covers one with B")
	}
	if !(&identityVary{Headers: []string{"A", "B"}, Query: true}).covers(&identityVary{Headers: []string{"B"}}) {
		t.Error("covers: a vary with A and B does not cover one with B")
	}
}

// TestIdentityAddCookies: the cookies an app's own hook was found to read
// (Container.checkUnlisted) are added to the key spec in force, each
// once, and a request carrying only one of them is keyed by it; past
// maxVaryParts cookies the key is the whole Cookie and Authorization
// headers (still keyed on each cookie, bounded); a spec graft's hook
// reported, or one of whole headers, is left as it is.
func TestIdentityAddCookies(t *testing.T) {
	many := make([]string, maxVaryParts)
	for i := range many {
		many[i] = "c" + strings.Repeat("x", i)
	}
	for _, tc := range []struct {
		name  string
		start *identityKeySpec
		add   []string
		want  []string // the spec's cookies after; nil: the whole headers
	}{
		{"added", &identityKeySpec{cookies: []string{"session"}}, []string{"remember_token", "theme", "theme"}, []string{"session", "remember_token", "theme"}},
		{"already keyed", &identityKeySpec{cookies: []string{"session", "a"}}, []string{"a"}, []string{"session", "a"}},
		{"too many", &identityKeySpec{cookies: []string{"session"}}, many, nil},
		{"whole headers stay", &identityKeySpec{}, []string{"a"}, nil},
		{"graft's hook's spec stays", &identityKeySpec{cookies: []string{"session"}, from: &identityVary{Cookies: []string{"session"}}}, []string{"a"}, []string{"session"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l identityLearner
			l.spec.Store(tc.start)
			l.addCookies(tc.start, tc.add)
			got := l.spec.Load()
			if !slices.Equal(got.cookies, tc.want) || (got.cookies == nil) != (tc.want == nil) {
				t.Fatalf("cookies %q, want %q", got.cookies, tc.want)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", tc.add[0]+"=v")
			if _, keyed := got.key(r); !keyed {
				t.Errorf("a request carrying only %s is not keyed", tc.add[0])
			}
			// A spec the app's own hook learned is not undone by a late first learn.
			if tc.start.from == nil {
				if l.learn(Config{IdentityCookies: []string{"session"}}, slog.New(slog.DiscardHandler), nil) != got {
					t.Errorf("learn(nil) replaced the spec in force")
				}
			}
		})
	}
}
