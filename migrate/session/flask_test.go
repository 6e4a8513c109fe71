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

	"github.com/google/uuid"
)

// flaskCases are sessions as a Python expression and as the Session Go
// decodes it to.
var flaskCases = []struct {
	name string
	py   string
	go_  Session
}{
	{"plain", `{"user_id": 42, "name": "alice", "ok": True, "none": None, "ratio": 0.5}`,
		Session{"user_id": json.Number("42"), "name": "alice", "ok": true, "none": nil, "ratio": json.Number("0.5")}},
	{"cart", `{"cart": {"1": 2, "3": 1}}`,
		Session{"cart": map[string]any{"1": json.Number("2"), "3": json.Number("1")}}},
	{"tuple", `{"roles": ("admin", "staff"), "nested": [(1, 2), {"t": (3,)}]}`,
		Session{"roles": Tuple{"admin", "staff"}, "nested": []any{Tuple{json.Number("1"), json.Number("2")}, map[string]any{"t": Tuple{json.Number("3")}}}}},
	{"bytes", `{"raw": b"\x00\xffhi"}`, Session{"raw": []byte("\x00\xffhi")}},
	{"markup", `{"m": Markup("<b>hi</b>")}`, Session{"m": Markup("<b>hi</b>")}},
	{"uuid", `{"u": uuid.UUID("5f0c3e0a-8a4b-4c1e-9d2f-0123456789ab")}`,
		Session{"u": uuid.MustParse("5f0c3e0a-8a4b-4c1e-9d2f-0123456789ab")}},
	{"datetime", `{"d": datetime.datetime(2024, 5, 1, 12, 30, 5, tzinfo=timezone.utc)}`,
		Session{"d": time.Date(2024, 5, 1, 12, 30, 5, 0, time.UTC)}},
	{"dict with a tag as its only key", `{"x": {" t": [1]}, "y": {" di": "z"}}`,
		Session{"x": map[string]any{" t": []any{json.Number("1")}}, "y": map[string]any{" di": "z"}}},
	{"unicode", `{"name": "café ☕ 日本 \U0001F600", "k\u00e9y": "v"}`,
		Session{"name": "café ☕ 日本 \U0001F600", "kéy": "v"}},
	{"compressed", `{"blob": "x" * 2000, "cart": {"1": 1}}`,
		Session{"blob": strings.Repeat("x", 2000), "cart": map[string]any{"1": json.Number("1")}}},
	{"big integer", `{"n": 2**70, "neg": -5}`, Session{"n": json.Number("1180591620717411303424"), "neg": json.Number("-5")}},
	{"permanent", `{"_permanent": True, "user": "bob"}`, Session{"_permanent": true, "user": "bob"}},
}

type flaskReq struct {
	Op        string   `json:"op"`
	Key       string   `json:"key"`
	Fallbacks []string `json:"fallbacks,omitempty"`
	MaxAge    int64    `json:"max_age,omitempty"`
	Cases     []pyCase `json:"cases"`
}

type pyCase struct {
	Expr   string `json:"expr,omitempty"`
	At     int64  `json:"at,omitempty"`
	Cookie string `json:"cookie,omitempty"`
}

type pyOpened struct {
	Equal bool   `json:"equal"`
	Repr  string `json:"repr"`
	Error string `json:"error"`
}

// mintFlask has Flask set the sessions of exprs, signed with key (and,
// with fallbacks, Flask 3.1's rotation), and returns the cookies.
func mintFlask(t *testing.T, key string, at int64, exprs ...string) []string {
	t.Helper()
	req := flaskReq{Op: "mint", Key: key}
	for _, e := range exprs {
		req.Cases = append(req.Cases, pyCase{Expr: e, At: at})
	}
	var out []struct{ Cookie string }
	runPy(t, "flask_tool.py", "flask", req, &out)
	if len(out) != len(exprs) {
		t.Fatalf("flask_tool.py minted %d cookies for %d sessions", len(out), len(exprs))
	}
	cookies := make([]string, len(out))
	for i, o := range out {
		cookies[i] = o.Cookie
	}
	return cookies
}

// openFlask has Flask's session interface open cookies, and compares
// the sessions with the Python expressions.
func openFlask(t *testing.T, key string, fallbacks []string, cookies, exprs []string) []pyOpened {
	t.Helper()
	req := flaskReq{Op: "open", Key: key, Fallbacks: fallbacks}
	for i := range cookies {
		req.Cases = append(req.Cases, pyCase{Cookie: cookies[i], Expr: exprs[i]})
	}
	var out []pyOpened
	runPy(t, "flask_tool.py", "flask", req, &out)
	if len(out) != len(cookies) {
		t.Fatalf("flask_tool.py opened %d of %d cookies", len(out), len(cookies))
	}
	return out
}

// TestFlaskDecodesPython decodes cookies that Flask's own session
// interface set in a real request.
func TestFlaskDecodesPython(t *testing.T) {
	const key = "flask-test-key"
	exprs := make([]string, len(flaskCases))
	for i, c := range flaskCases {
		exprs[i] = c.py
	}
	cookies := mintFlask(t, key, 0, exprs...)
	f := &Flask{SecretKey: key}
	for i, c := range flaskCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.Decode(cookies[i])
			if err != nil {
				t.Fatalf("Decode(%q): %v", cookies[i], err)
			}
			if !reflect.DeepEqual(got, c.go_) {
				t.Errorf("Decode(Flask's %s)\n got %#v\nwant %#v", c.py, got, c.go_)
			}
			if c.name == "compressed" && !strings.HasPrefix(cookies[i], ".") {
				t.Errorf("Flask's cookie %q is not compressed", cookies[i])
			}
		})
	}
}

// TestFlaskPythonOpensGo has Flask's session interface open the cookies
// Go encoded, and finds the same Python values, types included.
func TestFlaskPythonOpensGo(t *testing.T) {
	var names, exprs []string
	var sessions []Session
	for _, c := range flaskCases {
		names, sessions, exprs = append(names, c.name), append(sessions, c.go_), append(exprs, c.py)
	}
	cookies := flaskOpensGo(t, names, sessions, exprs)
	for i, c := range flaskCases {
		if c.name == "compressed" && !strings.HasPrefix(cookies[i], ".") {
			t.Errorf("Go's cookie %q is not compressed", cookies[i])
		}
	}
}

// flaskOpensGo encodes each of sessions with Go and has Flask's session
// interface open the cookies (one Python run for all), checking, in a
// subtest per name, that Flask finds the Python value of the matching
// expression, types included. It returns the cookies.
func flaskOpensGo(t *testing.T, names []string, sessions []Session, exprs []string) []string {
	t.Helper()
	const key = "flask-test-key"
	f := &Flask{SecretKey: key}
	var cookies []string
	for i, s := range sessions {
		v, err := f.Encode(s)
		if err != nil {
			t.Fatalf("%s: Encode: %v", names[i], err)
		}
		cookies = append(cookies, v)
	}
	got := openFlask(t, key, nil, cookies, exprs)
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			if !got[i].Equal || got[i].Error != "" {
				t.Errorf("Flask opened Go's %#v (cookie %q) as %s (error %q), want %s", sessions[i], cookies[i], got[i].Repr, got[i].Error, exprs[i])
			}
		})
	}
	return cookies
}

// TestFlaskRejectedByPython checks that Flask rejects what Go signed with
// another key, what Go signed too long ago, and Go's cookies tampered
// with: so the Go side is not laxer than Python, nor the reverse.
func TestFlaskRejectedByPython(t *testing.T) {
	const key = "flask-test-key"
	good, err := (&Flask{SecretKey: key}).Encode(Session{"user": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := (&Flask{SecretKey: key, Now: func() time.Time { return time.Now().Add(-32 * 24 * time.Hour) }}).Encode(Session{"user": "bob"})
	foreign, _ := (&Flask{SecretKey: "another-key"}).Encode(Session{"user": "bob"})
	for _, c := range []struct {
		name, cookie, error string
	}{
		{"tampered payload", tamper(good, 2), "BadTimeSignature"},
		{"tampered signature", tamper(good, len(good)-3), "BadTimeSignature"},
		{"another key", foreign, "BadTimeSignature"},
		{"older than PERMANENT_SESSION_LIFETIME", old, "SignatureExpired"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := openFlask(t, key, nil, []string{c.cookie}, []string{"{}"})[0]
			if !got.Equal || got.Error != c.error {
				t.Errorf("Flask opened %q as %s with error %q; want an empty session and %s", c.cookie, got.Repr, got.Error, c.error)
			}
			if _, err := (&Flask{SecretKey: key}).Decode(c.cookie); err == nil {
				t.Errorf("Go decoded %q that Flask rejects", c.cookie)
			}
		})
	}
}

// tamper changes the character at i, keeping it in the base64url
// alphabet.
func tamper(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestFlaskKeyRotation checks SECRET_KEY_FALLBACKS both ways: Go accepts
// cookies Flask signed with the old key when it is a fallback, and signs
// with the new key, which Flask 3.1's rotation accepts and the old key
// alone does not.
func TestFlaskKeyRotation(t *testing.T) {
	cookie := mintFlask(t, "old-key", 0, `{"user": "carol"}`)[0]
	for _, c := range []struct {
		name string
		f    Flask
		want error
	}{
		{"old key as fallback", Flask{SecretKey: "new-key", FallbackKeys: []string{"older-key", "old-key"}}, nil},
		{"old key as the key", Flask{SecretKey: "old-key"}, nil},
		{"without the old key", Flask{SecretKey: "new-key", FallbackKeys: []string{"older-key"}}, ErrBadSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := c.f.Decode(cookie)
			if !errors.Is(err, c.want) || (err == nil && s["user"] != "carol") {
				t.Errorf("Decode: %v, %v; want %v", s, err, c.want)
			}
		})
	}

	rotated, err := (&Flask{SecretKey: "new-key", FallbackKeys: []string{"old-key"}}).Encode(Session{"user": "dave"})
	if err != nil {
		t.Fatal(err)
	}
	if got := openFlask(t, "new-key", []string{"old-key"}, []string{rotated}, []string{`{"user": "dave"}`})[0]; !got.Equal {
		t.Errorf("Flask with SECRET_KEY new-key and fallback old-key opened Go's cookie as %s (%s)", got.Repr, got.Error)
	}
	if got := openFlask(t, "old-key", nil, []string{rotated}, []string{`{}`})[0]; got.Error != "BadTimeSignature" {
		t.Errorf("Flask with only the old key: %s (%q), want BadTimeSignature: Go must sign with the new key", got.Repr, got.Error)
	}
}

// TestFlaskExpiry checks max age against cookies Flask signed in the past
// and in the future.
func TestFlaskExpiry(t *testing.T) {
	now := time.Now()
	day := int64(24 * 3600)
	cookies := mintFlask(t, "k", 0, `{"a": 1}`)
	cookies = append(cookies, mintFlask(t, "k", now.Unix()-32*day, `{"a": 1}`)...)
	cookies = append(cookies, mintFlask(t, "k", now.Unix()+3600, `{"a": 1}`)...)
	for _, c := range []struct {
		name   string
		cookie string
		maxAge time.Duration
		want   error
	}{
		{"fresh", cookies[0], 0, nil},
		{"32 days, default 31", cookies[1], 0, ErrExpired},
		{"32 days, max age 40", cookies[1], 40 * 24 * time.Hour, nil},
		{"32 days, max age 1h", cookies[1], time.Hour, ErrExpired},
		{"signed in the future", cookies[2], 0, ErrExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := (&Flask{SecretKey: "k", MaxAge: c.maxAge}).Decode(c.cookie)
			if !errors.Is(err, c.want) {
				t.Errorf("Decode: %v, want %v", err, c.want)
			}
		})
	}
}

// TestFlaskRejects checks that bad values fail with the right error and
// decode nothing, with no Python involved.
func TestFlaskRejects(t *testing.T) {
	f := &Flask{SecretKey: "k", Now: func() time.Time { return time.Unix(1764400000, 0) }}
	good, err := f.Encode(Session{"a": json.Number("1")})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	resign := func(payload, ts string) string {
		return payload + "." + ts + "." + f.signature("k", payload+"."+ts)
	}
	django, _ := (&Django{SecretKey: "k"}).Encode(Session{"a": json.Number("1")})
	for _, c := range []struct {
		name, value string
		want        error
	}{
		{"empty", "", ErrMalformed},
		{"no dot", "abc", ErrMalformed},
		{"one dot", "abc.def", ErrMalformed},
		{"tampered payload", tamper(good, 0), ErrBadSignature},
		{"tampered timestamp", parts[0] + "." + tamper(parts[1], 0) + "." + parts[2], ErrBadSignature},
		{"tampered signature", tamper(good, len(good)-1), ErrBadSignature},
		{"no signature", parts[0] + "." + parts[1] + ".", ErrBadSignature},
		{"a Django cookie", django, ErrMalformed},
		{"another salt", good[:strings.LastIndex(good, ".")+1] + (&Flask{SecretKey: "k", Salt: "other"}).signature("k", parts[0]+"."+parts[1]), ErrBadSignature},
		{"timestamp not base64", resign(parts[0], "!!"), ErrMalformed},
		{"timestamp too long", resign(parts[0], "AAAAAAAAAAAAAA"), ErrMalformed},
		{"payload not base64", resign("e30!", parts[1]), ErrPayload},
		{"payload not zlib", resign(".e30", parts[1]), ErrPayload},
		{"payload not JSON", resign(b64.EncodeToString([]byte("{nope")), parts[1]), ErrPayload},
		{"payload a list", resign(b64.EncodeToString([]byte("[1]")), parts[1]), ErrPayload},
		{"bad bytes tag", resign(b64.EncodeToString([]byte(`{"a":{" b":"!!"}}`)), parts[1]), ErrPayload},
		{"bad uuid tag", resign(b64.EncodeToString([]byte(`{"a":{" u":"nope"}}`)), parts[1]), ErrPayload},
		{"bad date tag", resign(b64.EncodeToString([]byte(`{"a":{" d":"yesterday"}}`)), parts[1]), ErrPayload},
		{"tuple tag on an object", resign(b64.EncodeToString([]byte(`{"a":{" t":{}}}`)), parts[1]), ErrPayload},
		{"two documents", resign(b64.EncodeToString([]byte(`{} {}`)), parts[1]), ErrPayload},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := f.Decode(c.value)
			if !errors.Is(err, c.want) || s != nil {
				t.Errorf("Decode(%q) = %v, %v; want nil, %v", c.value, s, err, c.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "session: ") {
				t.Errorf("error %q has no package prefix", err)
			}
		})
	}
	if _, err := (&Flask{}).Decode(good); !errors.Is(err, ErrNoKey) {
		t.Errorf("Decode with no key: %v, want ErrNoKey", err)
	}
	if _, err := (&Flask{}).Encode(Session{}); !errors.Is(err, ErrNoKey) {
		t.Errorf("Encode with no key: %v, want ErrNoKey", err)
	}
}

// TestFlaskLoadAndCookie covers the request helpers.
func TestFlaskLoadAndCookie(t *testing.T) {
	now := time.Unix(1764400000, 0)
	f := &Flask{SecretKey: "k", Now: func() time.Time { return now }}
	rec := httptest.NewRecorder()
	if err := f.Save(rec, Session{"_permanent": true, "user": "eve"}); err != nil {
		t.Fatal(err)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != "session" || cs[0].Path != "/" || !cs[0].HttpOnly ||
		!cs[0].Expires.Equal(now.Add(FlaskMaxAge)) {
		t.Fatalf("Save set %v", rec.Header()["Set-Cookie"])
	}
	if c, _ := f.Cookie(Session{"user": "eve"}); !c.Expires.IsZero() {
		t.Errorf("a session that is not permanent got an expiry: %v", c)
	}
	for _, c := range []struct {
		name   string
		cookie *http.Cookie
		want   Session
		err    error
	}{
		{"no cookie", nil, Session{}, nil},
		{"session", cs[0], Session{"_permanent": true, "user": "eve"}, nil},
		{"other name", &http.Cookie{Name: "other", Value: cs[0].Value}, Session{}, nil},
		{"bad", &http.Cookie{Name: "session", Value: "x.y.z"}, nil, ErrBadSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.cookie != nil {
				r.AddCookie(c.cookie)
			}
			got, err := f.Load(r)
			if !errors.Is(err, c.err) || !reflect.DeepEqual(got, c.want) {
				t.Errorf("Load = %v, %v; want %v, %v", got, err, c.want, c.err)
			}
		})
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "sess", Value: cs[0].Value})
	if got, err := (&Flask{SecretKey: "k", CookieName: "sess", Now: f.Now}).Load(r); err != nil || got["user"] != "eve" {
		t.Errorf("Load with CookieName sess: %v, %v", got, err)
	}
}

// TestSessionUnmarshal reads a session into a struct.
func TestSessionUnmarshal(t *testing.T) {
	s := Session{"cart": map[string]any{"1": json.Number("2")}, "roles": Tuple{"a"}, "raw": []byte("hi"),
		"when": time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}
	var v struct {
		Cart  map[string]int `json:"cart"`
		Roles []string       `json:"roles"`
		Raw   []byte         `json:"raw"`
		When  time.Time      `json:"when"`
	}
	if err := s.Unmarshal(&v); err != nil {
		t.Fatal(err)
	}
	if v.Cart["1"] != 2 || len(v.Roles) != 1 || string(v.Raw) != "hi" || v.When.Year() != 2024 {
		t.Errorf("Unmarshal: %+v", v)
	}
	if err := s.Unmarshal(&struct{ Cart string }{}); err == nil || !strings.HasPrefix(err.Error(), "session: ") {
		t.Errorf("Unmarshal into a wrong type: %v", err)
	}
}
