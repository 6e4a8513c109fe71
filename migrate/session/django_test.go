package session

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// djangoCases are signed values as a Python expression and as their JSON.
var djangoCases = []struct {
	name, py, json string
	compress       bool
}{
	{"session", `{"_auth_user_id": "42", "_auth_user_backend": "django.contrib.auth.backends.ModelBackend", "cart": [1, 2]}`,
		`{"_auth_user_id": "42", "_auth_user_backend": "django.contrib.auth.backends.ModelBackend", "cart": [1, 2]}`, false},
	{"unicode", `{"name": "café ☕ 日本 \U0001F600"}`, `{"name": "café ☕ 日本 \ud83d\ude00"}`, true},
	{"compressed", `{"blob": "ab" * 500}`, `{"blob": "` + strings.Repeat("ab", 500) + `"}`, true},
	{"list", `[1, "a", None, True, 1.5]`, `[1, "a", null, true, 1.5]`, false},
	{"string", `"hello"`, `"hello"`, true},
	{"big integer", `{"n": 2**70}`, `{"n": 1180591620717411303424}`, false},
}

type djangoReq struct {
	Op       string         `json:"op"`
	Key      string         `json:"key"`
	Settings map[string]any `json:"settings,omitempty"`
	Cases    []djangoArg    `json:"cases"`
}

type djangoArg struct {
	Expr      string `json:"expr,omitempty"`
	Value     string `json:"value,omitempty"`
	Salt      string `json:"salt,omitempty"`
	Compress  bool   `json:"compress,omitempty"`
	Algorithm string `json:"algorithm,omitempty"`
	At        int64  `json:"at,omitempty"`
	Key       string `json:"key,omitempty"`
	MaxAge    *int64 `json:"max_age,omitempty"`
	Cookie    string `json:"cookie,omitempty"`
	Token     string `json:"token,omitempty"`
	Header    string `json:"header,omitempty"` // a raw Cookie header
	Untimed   bool   `json:"untimed,omitempty"`
}

type djangoOut struct {
	Value  string `json:"value"`
	Equal  bool   `json:"equal"`
	Repr   string `json:"repr"`
	Error  string `json:"error"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	Vary   string `json:"vary"`
}

const djangoKey = "django-test-key"

// django runs testdata/django_tool.py with SECRET_KEY djangoKey.
func django(t *testing.T, op string, cases ...djangoArg) []djangoOut {
	t.Helper()
	var out []djangoOut
	runPy(t, "django_tool.py", "django", djangoReq{Op: op, Key: djangoKey, Cases: cases}, &out)
	if len(out) != len(cases) {
		t.Fatalf("django_tool.py %s: %d results for %d cases", op, len(out), len(cases))
	}
	return out
}

// jsonEqual reports whether v encodes to the JSON document want.
func jsonEqual(t *testing.T, v any, want string) bool {
	t.Helper()
	var a, b any
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(a, b)
}

// TestDjangoSigningBothWays: Go loads what signing.dumps wrote, and
// signing.loads reads what Go dumped, for the default salt and another.
func TestDjangoSigningBothWays(t *testing.T) {
	for _, salt := range []string{DjangoSigningSalt, "myapp.invites"} {
		var args []djangoArg
		for _, c := range djangoCases {
			args = append(args, djangoArg{Expr: c.py, Salt: salt, Compress: c.compress})
		}
		minted := django(t, "dumps", args...)
		s := &DjangoSigner{SecretKey: djangoKey, Salt: salt}
		if salt == DjangoSigningSalt {
			s.Salt = "" // the default
		}
		var back []djangoArg
		for i, c := range djangoCases {
			t.Run(salt+"/"+c.name+"/python-to-go", func(t *testing.T) {
				var got any
				if err := s.Loads(minted[i].Value, 0, &got); err != nil {
					t.Fatalf("Loads(%q): %v", minted[i].Value, err)
				}
				if !jsonEqual(t, got, c.json) {
					t.Errorf("Loads(Django's %s) = %#v", c.py, got)
				}
				if c.name == "compressed" && !strings.HasPrefix(minted[i].Value, ".") {
					t.Errorf("Django's value %q is not compressed", minted[i].Value)
				}
			})
			var v any
			if err := json.Unmarshal([]byte(c.json), &v); err != nil {
				t.Fatal(err)
			}
			if c.name == "big integer" {
				v = map[string]any{"n": json.Number("1180591620717411303424")}
			}
			dumped, err := s.Dumps(v, c.compress)
			if err != nil {
				t.Fatalf("Dumps(%s): %v", c.json, err)
			}
			if c.name == "compressed" && !strings.HasPrefix(dumped, ".") {
				t.Errorf("Go's value %q is not compressed", dumped)
			}
			back = append(back, djangoArg{Value: dumped, Salt: salt, Expr: c.py})
		}
		for i, r := range django(t, "loads", back...) {
			t.Run(salt+"/"+djangoCases[i].name+"/go-to-python", func(t *testing.T) {
				if !r.Equal || r.Error != "" {
					t.Errorf("signing.loads(Go's %q) = %s (error %q), want %s", back[i].Value, r.Repr, r.Error, djangoCases[i].py)
				}
			})
		}
	}
}

// TestDjangoSessionCookie: the signed-cookies backend's SessionStore and
// Go read each other's cookies; likewise the database backend's
// session_data.
func TestDjangoSessionCookie(t *testing.T) {
	d := &Django{SecretKey: djangoKey}
	sessions := []struct{ py, json string }{
		{`{"_auth_user_id": "42", "_auth_user_hash": "abc", "cart": {"1": 2}}`, `{"_auth_user_id": "42", "_auth_user_hash": "abc", "cart": {"1": 2}}`},
		{`{"note": "é" * 300}`, `{"note": "` + strings.Repeat("é", 300) + `"}`},
		{`{}`, `{}`},
	}
	for _, backend := range []struct {
		name         string
		mint, open   string
		decode       func(string) (Session, error)
		encode       func(Session) (string, error)
		wantCompress bool
	}{
		{"signed_cookies", "session_mint", "session_open", d.Decode, d.Encode, true},
		{"db", "stored_mint", "stored_open", d.DecodeStored, d.EncodeStored, true},
	} {
		var args []djangoArg
		for _, s := range sessions {
			args = append(args, djangoArg{Expr: s.py})
		}
		minted := django(t, backend.mint, args...)
		var back []djangoArg
		for i, s := range sessions {
			t.Run(backend.name+"/python-to-go/"+s.py[:min(len(s.py), 20)], func(t *testing.T) {
				got, err := backend.decode(minted[i].Value)
				if err != nil {
					t.Fatalf("decode(%q): %v", minted[i].Value, err)
				}
				if !jsonEqual(t, got, s.json) {
					t.Errorf("decode(Django's %s) = %v", s.py, got)
				}
			})
			var v Session
			dec := json.NewDecoder(strings.NewReader(s.json))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			enc, err := backend.encode(v)
			if err != nil {
				t.Fatal(err)
			}
			back = append(back, djangoArg{Value: enc, Expr: s.py})
		}
		for i, r := range django(t, backend.open, back...) {
			t.Run(backend.name+"/go-to-python/"+sessions[i].py[:min(len(sessions[i].py), 20)], func(t *testing.T) {
				if !r.Equal {
					t.Errorf("Django opened Go's %q as %s, want %s", back[i].Value, r.Repr, sessions[i].py)
				}
			})
		}
	}
	// The two salts keep the two formats apart.
	cookie, _ := d.Encode(Session{"a": "b"})
	if _, err := d.DecodeStored(cookie); !errors.Is(err, ErrBadSignature) {
		t.Errorf("DecodeStored(a cookie): %v, want ErrBadSignature", err)
	}
}

// TestDjangoLegacySHA1: Django 3.2 still accepts SHA-1 signatures; Go
// does with LegacySHA1, and signs with SHA-1 on request.
func TestDjangoLegacySHA1(t *testing.T) {
	v := django(t, "dumps", djangoArg{Expr: `{"a": 1}`, Salt: DjangoSigningSalt, Algorithm: "sha1"})[0].Value
	for _, c := range []struct {
		name string
		s    DjangoSigner
		want error
	}{
		{"sha256 only", DjangoSigner{SecretKey: djangoKey}, ErrBadSignature},
		{"legacy sha1 accepted", DjangoSigner{SecretKey: djangoKey, LegacySHA1: true}, nil},
		{"sha1 algorithm", DjangoSigner{SecretKey: djangoKey, Algorithm: "sha1"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got map[string]int
			err := c.s.Loads(v, 0, &got)
			if !errors.Is(err, c.want) || (err == nil && got["a"] != 1) {
				t.Errorf("Loads(sha1 value) = %v, %v; want %v", got, err, c.want)
			}
		})
	}
	sha1Value, err := (&DjangoSigner{SecretKey: djangoKey, Algorithm: "sha1"}).Dumps(map[string]int{"a": 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if r := django(t, "loads", djangoArg{Value: sha1Value, Salt: DjangoSigningSalt, Expr: `{"a": 1}`})[0]; !r.Equal {
		t.Errorf("Django 3.2 rejected Go's SHA-1 value: %s %s", r.Repr, r.Error)
	}
	if _, err := (&DjangoSigner{SecretKey: "k", Algorithm: "md5"}).Sign("x"); err == nil || !strings.HasPrefix(err.Error(), "session: ") {
		t.Errorf("Sign with md5: %v", err)
	}
}

// TestDjangoKeyRotation checks SECRET_KEY_FALLBACKS both ways.
func TestDjangoKeyRotation(t *testing.T) {
	old := django(t, "dumps", djangoArg{Expr: `{"u": 1}`, Salt: DjangoSigningSalt, Key: "old-key"})[0].Value
	for _, c := range []struct {
		name string
		s    DjangoSigner
		want error
	}{
		{"fallback", DjangoSigner{SecretKey: "new-key", FallbackKeys: []string{"x", "old-key"}}, nil},
		{"no fallback", DjangoSigner{SecretKey: "new-key"}, ErrBadSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got any
			if err := c.s.Loads(old, 0, &got); !errors.Is(err, c.want) {
				t.Errorf("Loads: %v, want %v", err, c.want)
			}
		})
	}
	v, err := (&DjangoSigner{SecretKey: "new-key", FallbackKeys: []string{"old-key"}}).Dumps(map[string]int{"u": 2}, false)
	if err != nil {
		t.Fatal(err)
	}
	r := django(t, "loads",
		djangoArg{Value: v, Salt: DjangoSigningSalt, Key: "new-key", Expr: `{"u": 2}`},
		djangoArg{Value: v, Salt: DjangoSigningSalt, Key: "old-key", Expr: `{"u": 2}`})
	if !r[0].Equal || r[1].Error != "BadSignature" {
		t.Errorf("signing.loads of Go's rotated value: new key %+v, old key %+v; want equal, BadSignature", r[0], r[1])
	}
}

// TestDjangoExpiry checks max age both ways.
func TestDjangoExpiry(t *testing.T) {
	now := time.Now()
	hourAgo := django(t, "dumps", djangoArg{Expr: `{"a": 1}`, Salt: DjangoSigningSalt, At: now.Unix() - 3600})[0].Value
	for _, c := range []struct {
		name   string
		maxAge time.Duration
		want   error
	}{
		{"no limit", 0, nil},
		{"2h", 2 * time.Hour, nil},
		{"10m", 10 * time.Minute, ErrExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got any
			if err := (&DjangoSigner{SecretKey: djangoKey}).Loads(hourAgo, c.maxAge, &got); !errors.Is(err, c.want) {
				t.Errorf("Loads(an hour old, %v): %v, want %v", c.maxAge, err, c.want)
			}
		})
	}
	// Sessions: SESSION_COOKIE_AGE, two weeks by default.
	stale := django(t, "session_mint", djangoArg{Expr: `{"a": 1}`, At: now.Unix() - 15*24*3600})[0].Value
	if _, err := (&Django{SecretKey: djangoKey}).Decode(stale); !errors.Is(err, ErrExpired) {
		t.Errorf("Decode(15-day-old session): %v, want ErrExpired", err)
	}
	if _, err := (&Django{SecretKey: djangoKey, MaxAge: 30 * 24 * time.Hour}).Decode(stale); err != nil {
		t.Errorf("Decode(15-day-old session, max age 30 days): %v", err)
	}
	goStale, _ := (&Django{SecretKey: djangoKey, Now: func() time.Time { return now.Add(-15 * 24 * time.Hour) }}).Encode(Session{"a": json.Number("1")})
	tampered, _ := (&Django{SecretKey: djangoKey}).Encode(Session{"a": json.Number("1")})
	tampered = tamper(tampered, 3)
	for i, r := range django(t, "session_open", djangoArg{Value: goStale, Expr: `{}`}, djangoArg{Value: tampered, Expr: `{}`}) {
		if !r.Equal {
			t.Errorf("case %d: Django opened Go's stale or tampered session as %s, want {}", i, r.Repr)
		}
	}
	r := django(t, "loads", djangoArg{Value: goStale, Salt: DjangoCookieSessionSalt, MaxAge: ptr(int64(1209600)), Expr: `{}`},
		djangoArg{Value: tampered, Salt: DjangoCookieSessionSalt, Expr: `{}`})
	if r[0].Error != "SignatureExpired" || r[1].Error != "BadSignature" {
		t.Errorf("signing.loads: stale %q, tampered %q; want SignatureExpired, BadSignature", r[0].Error, r[1].Error)
	}
}

func ptr[T any](v T) *T { return &v }

// TestDjangoUntimed: values of signing.Signer, with no timestamp, both
// ways.
func TestDjangoUntimed(t *testing.T) {
	const salt = "myapp.unsubscribe"
	py := django(t, "dumps", djangoArg{Expr: `{"user": 7, "list": "news"}`, Salt: salt, Untimed: true})[0].Value
	s := &DjangoSigner{SecretKey: djangoKey, Salt: salt, Untimed: true}
	var got map[string]any
	if err := s.Loads(py, 0, &got); err != nil || got["list"] != "news" {
		t.Fatalf("Loads(Django's Signer value %q) = %v, %v", py, got, err)
	}
	if err := s.Loads(py, time.Hour, &got); err == nil || errors.Is(err, ErrExpired) || !strings.HasPrefix(err.Error(), "session: ") {
		t.Errorf("Loads with a max age and no timestamp: %v, want a usage error", err)
	}
	if err := (&DjangoSigner{SecretKey: djangoKey, Salt: salt}).Loads(py, 0, &got); !errors.Is(err, ErrMalformed) {
		t.Errorf("timed Loads of an untimed value: %v, want ErrMalformed", err)
	}
	v, err := s.Dumps(map[string]any{"user": 8}, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(v, ":") != 1 {
		t.Errorf("untimed value %q has a timestamp", v)
	}
	if r := django(t, "loads", djangoArg{Value: v, Salt: salt, Untimed: true, Expr: `{"user": 8}`})[0]; !r.Equal {
		t.Errorf("Signer.unsign_object(Go's %q) = %s, %s", v, r.Repr, r.Error)
	}
}

// TestDjangoDatabaseKeyHint: the cookie of a database session holds a
// key, and the error says so.
func TestDjangoDatabaseKeyHint(t *testing.T) {
	_, err := (&Django{SecretKey: "k"}).Decode("x2f9k3l0a8b7c6d5e4f3g2h1i0j9k8l7")
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "DecodeStored") {
		t.Errorf("Decode(a session key): %v", err)
	}
}

// TestDjangoRejects checks bad values with no Python involved.
func TestDjangoRejects(t *testing.T) {
	s := &DjangoSigner{SecretKey: "k", Now: func() time.Time { return time.Unix(1764400000, 0) }}
	good, err := s.Dumps(map[string]int{"a": 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := s.hash()
	resign := func(v string) string { return v + ":" + s.signature(h, "k", v) }
	ts := base62Encode(1764400000)
	flask, _ := (&Flask{SecretKey: "k"}).Encode(Session{"a": 1})
	otherSalt, _ := (&DjangoSigner{SecretKey: "k", Salt: "other", Now: s.Now}).Dumps(map[string]int{"a": 1}, false)
	otherKey, _ := (&DjangoSigner{SecretKey: "k2", Now: s.Now}).Dumps(map[string]int{"a": 1}, false)
	for _, c := range []struct {
		name, value string
		want        error
	}{
		{"empty", "", ErrMalformed},
		{"no colon", "abc", ErrMalformed},
		{"tampered payload", tamper(good, 1), ErrBadSignature},
		{"tampered signature", tamper(good, len(good)-2), ErrBadSignature},
		{"a Flask cookie", flask, ErrMalformed},
		{"other salt", otherSalt, ErrBadSignature},
		{"other key", otherKey, ErrBadSignature},
		{"no timestamp", resign("e30"), ErrMalformed},
		{"bad timestamp", resign("e30:!x"), ErrMalformed},
		{"huge timestamp", resign("e30:zzzzzzzzzzzz"), ErrMalformed},
		{"payload not base64", resign("e3!:" + ts), ErrPayload},
		{"payload not zlib", resign(".e30:" + ts), ErrPayload},
		{"payload not JSON (pickle)", resign(b64.EncodeToString([]byte("\x80\x04}q\x00.")) + ":" + ts), ErrPayload},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got any
			err := s.Loads(c.value, 0, &got)
			if !errors.Is(err, c.want) || got != nil {
				t.Errorf("Loads(%q) = %v, %v; want %v", c.value, got, err, c.want)
			}
		})
	}
	// A session must be a dict.
	list := (&DjangoSigner{SecretKey: "k", Salt: DjangoCookieSessionSalt})
	lv, _ := list.Dumps([]int{1}, false)
	if _, err := (&Django{SecretKey: "k"}).Decode(lv); !errors.Is(err, ErrPayload) {
		t.Errorf("Decode(a list): %v, want ErrPayload", err)
	}
	if _, err := (&Django{}).Decode(good); !errors.Is(err, ErrNoKey) {
		t.Errorf("Decode with no key: %v", err)
	}
	if _, err := (&DjangoSigner{}).Sign("x"); !errors.Is(err, ErrNoKey) {
		t.Errorf("Sign with no key: %v", err)
	}
	// Sign and Unsign of a plain string, with its time.
	v, _ := s.Sign("hello:world")
	got, at, err := s.Unsign(v, time.Minute)
	if err != nil || got != "hello:world" || at.Unix() != 1764400000 {
		t.Errorf("Unsign(Sign) = %q, %v, %v", got, at, err)
	}
}

func TestBase62(t *testing.T) {
	for _, c := range []struct {
		n int64
		s string
	}{{0, "0"}, {61, "z"}, {62, "10"}, {1764400000, "1vPF2W"}, {-62, "-10"}} {
		if got := base62Encode(c.n); got != c.s {
			t.Errorf("base62Encode(%d) = %q, want %q", c.n, got, c.s)
		}
		if got, ok := base62Decode(c.s); !ok || got != c.n {
			t.Errorf("base62Decode(%q) = %d, %v", c.s, got, ok)
		}
	}
	for _, bad := range []string{"", "-", "a_b", "zzzzzzzzzzz"} {
		if _, ok := base62Decode(bad); ok {
			t.Errorf("base62Decode(%q) succeeded", bad)
		}
	}
}

// TestDjangoLoad covers the request helper.
func TestDjangoLoad(t *testing.T) {
	d := &Django{SecretKey: "k"}
	v, _ := d.Encode(Session{"_auth_user_id": "7"})
	for _, c := range []struct {
		name   string
		cookie *http.Cookie
		want   Session
		err    error
	}{
		{"no cookie", nil, Session{}, nil},
		{"sessionid", &http.Cookie{Name: "sessionid", Value: v}, Session{"_auth_user_id": "7"}, nil},
		{"tampered", &http.Cookie{Name: "sessionid", Value: tamper(v, 0)}, nil, ErrBadSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.cookie != nil {
				r.AddCookie(c.cookie)
			}
			got, err := d.Load(r)
			if !errors.Is(err, c.err) || !reflect.DeepEqual(got, c.want) {
				t.Errorf("Load = %v, %v; want %v, %v", got, err, c.want, c.err)
			}
		})
	}
}
