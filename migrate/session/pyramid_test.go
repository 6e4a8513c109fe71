package session

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// pyramidAt is the Unix time the Pyramid cookies of the tests are minted
// at (a fraction, as Pyramid's created is time.time()).
const pyramidAt = 1764400000.25

type pyramidReq struct {
	Op      string         `json:"op"`
	Factory map[string]any `json:"factory,omitempty"`
	At      float64        `json:"at,omitempty"`
	Cases   []pyramidArg   `json:"cases"`
}

type pyramidArg struct {
	Expr   string  `json:"expr,omitempty"`
	At     float64 `json:"at,omitempty"`
	Cookie string  `json:"cookie,omitempty"`
	Header string  `json:"header,omitempty"`
	Name   string  `json:"name,omitempty"`
	Direct bool    `json:"direct,omitempty"` // the cookie's value as request.cookies has it, no header
}

type pyramidOut struct {
	Cookie    string         `json:"cookie"`
	SetCookie string         `json:"set_cookie"`
	New       bool           `json:"new"`
	Session   map[string]any `json:"session"`
	Accessed  float64        `json:"accessed"`
	Created   float64        `json:"created"`
	Found     bool           `json:"found"`
	Value     string         `json:"value"`
	Error     string         `json:"error"`
}

// pyramid runs testdata/pyramid_tool.py.
func pyramid(t *testing.T, req pyramidReq) []pyramidOut {
	t.Helper()
	var out []pyramidOut
	runPy(t, "pyramid_tool.py", "pyramid", req, &out)
	if len(out) != len(req.Cases) {
		t.Fatalf("pyramid_tool.py %s: %d results for %d cases", req.Op, len(out), len(req.Cases))
	}
	return out
}

// pyramidCases are sessions as a Python expression and as their JSON.
var pyramidCases = []struct{ name, py, json string }{
	{"login", `{"user": "amy", "_csrft_": "0123abcd"}`, `{"user": "amy", "_csrft_": "0123abcd"}`},
	{"unicode", `{"name": "café ☕ 日本 \U0001F600"}`, `{"name": "café ☕ 日本 😀"}`},
	{"nested", `{"cart": {"1": [2, 3.5, None, True]}, "_f_": ["saved"]}`, `{"cart": {"1": [2, 3.5, null, true]}, "_f_": ["saved"]}`},
	{"big integer", `{"n": 2**70}`, `{"n": 1180591620717411303424}`},
	{"empty", `{}`, `{}`},
}

// pyramidFactories are SignedCookieSessionFactory settings and the Go
// codec for them.
var pyramidFactories = []struct {
	name    string
	factory map[string]any
	codec   Pyramid
}{
	{"defaults", map[string]any{"secret": "s3cret"}, Pyramid{SecretKey: "s3cret"}},
	{"salt and sha256", map[string]any{"secret": "s3cret", "salt": "myapp.", "hashalg": "sha256"},
		Pyramid{SecretKey: "s3cret", Salt: "myapp.", HashAlg: "sha256"}},
	{"sha3_256", map[string]any{"secret": "s3cret", "hashalg": "sha3_256"}, Pyramid{SecretKey: "s3cret", HashAlg: "sha3_256"}},
	{"latin-1 secret", map[string]any{"secret": "clé"}, Pyramid{SecretKey: "clé"}},
	{"utf-8 secret", map[string]any{"secret": "鍵"}, Pyramid{SecretKey: "鍵"}},
	{"no timeout", map[string]any{"secret": "s3cret", "timeout": nil}, Pyramid{SecretKey: "s3cret", Timeout: -1}},
}

func pyClock(f float64) func() time.Time { return func() time.Time { return floatTime(f) } }

// TestPyramidBothWays: Go decodes the cookies Pyramid's own factory
// wrote, with their times, and Pyramid opens the cookies Go wrote to the
// same session, with the times Go gave them.
func TestPyramidBothWays(t *testing.T) {
	for _, f := range pyramidFactories {
		var args []pyramidArg
		for _, c := range pyramidCases {
			args = append(args, pyramidArg{Expr: c.py, At: pyramidAt})
		}
		minted := pyramid(t, pyramidReq{Op: "mint", Factory: f.factory, Cases: args})
		p := f.codec
		p.Now = pyClock(pyramidAt + 60)
		var back []pyramidArg
		for i, c := range pyramidCases {
			t.Run(f.name+"/"+c.name+"/python-to-go", func(t *testing.T) {
				s, acc, cre, err := p.DecodeTimes(minted[i].Cookie)
				if err != nil {
					t.Fatalf("Decode(%q): %v", minted[i].Cookie, err)
				}
				if !jsonEqual(t, s, c.json) {
					t.Errorf("Decode(Pyramid's %s) = %#v", c.py, s)
				}
				if acc.Unix() != 1764400000 || cre.UnixMilli() != 1764400000250 {
					t.Errorf("accessed %v, created %v; want the mint time", acc, cre)
				}
			})
			var v Session
			if err := json.Unmarshal([]byte(c.json), &v); err != nil {
				t.Fatal(err)
			}
			if c.name == "big integer" {
				v = Session{"n": json.Number("1180591620717411303424")}
			}
			p.Now = pyClock(pyramidAt)
			enc, err := p.EncodeCreated(v, floatTime(pyramidAt-100))
			if err != nil {
				t.Fatal(err)
			}
			p.Now = pyClock(pyramidAt + 60)
			back = append(back, pyramidArg{Cookie: enc})
		}
		opened := pyramid(t, pyramidReq{Op: "open", Factory: f.factory, At: pyramidAt + 60, Cases: back})
		for i, r := range opened {
			t.Run(f.name+"/"+pyramidCases[i].name+"/go-to-python", func(t *testing.T) {
				if r.New || !jsonEqual(t, r.Session, pyramidCases[i].json) {
					t.Errorf("Pyramid opened Go's %q as new=%v %v, want %s", back[i].Cookie, r.New, r.Session, pyramidCases[i].json)
				}
				if r.Accessed != 1764400000 || r.Created != pyramidAt-100 {
					t.Errorf("Pyramid read accessed %v, created %v", r.Accessed, r.Created)
				}
			})
		}
	}
}

// TestPyramidRejects: what Pyramid does not read as the session (another
// secret, salt or hashalg, a tampered value, garbage) Go rejects with
// the error that says why, and what Pyramid reads (base64 that is not
// canonical: junk, the standard alphabet, padding) Go reads; a session
// past its timeout, which Pyramid
// empties, is ErrExpired, to the second as Pyramid counts; a pickled
// session (Pyramid 1's default serializer) verifies and is ErrPayload.
func TestPyramidRejects(t *testing.T) {
	def := map[string]any{"secret": "s3cret"}
	m := func(factory map[string]any) string {
		return pyramid(t, pyramidReq{Op: "mint", Factory: factory,
			Cases: []pyramidArg{{Expr: `{"user": "amy"}`, At: pyramidAt}}})[0].Cookie
	}
	good := m(def)
	pickled := m(map[string]any{"secret": "s3cret", "pickle": true})
	cases := []struct {
		name, cookie string
		now          float64
		want         error
	}{
		{"other secret", m(map[string]any{"secret": "other"}), pyramidAt, ErrBadSignature},
		{"other salt", m(map[string]any{"secret": "s3cret", "salt": "x."}), pyramidAt, ErrBadSignature},
		{"other hashalg", m(map[string]any{"secret": "s3cret", "hashalg": "sha384"}), pyramidAt, ErrBadSignature},
		{"tampered signature", tamper(good, 3), pyramidAt, ErrBadSignature},
		{"tampered value", tamper(good, len(good)-5), pyramidAt, ErrBadSignature},
		{"truncated", good[:len(good)-1], pyramidAt, ErrBadSignature},
		{"short", good[:40], pyramidAt, ErrMalformed},
		{"a character replaced by junk", good[:50] + "!" + good[51:], pyramidAt, ErrMalformed},
		{"junk inserted", good[:50] + "!*." + good[50:], pyramidAt, nil},
		{"standard alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(good), pyramidAt, nil},
		{"padded", good + "==", pyramidAt, nil},
		{"a character too many", good + "A", pyramidAt, ErrMalformed},
		{"latin-1 junk", good[:50] + "é" + good[50:], pyramidAt, nil},
		{"not UTF-8", good[:50] + "\xe9" + good[50:], pyramidAt, ErrMalformed},
		{"beyond latin-1", good[:50] + "€" + good[50:], pyramidAt, ErrMalformed},
		{"expired", good, 1764400000 + 1200.5, ErrExpired},
		{"at the timeout", good, 1764400000 + 1200, nil},
		{"accessed in the future", good, 1764400000 - 3600, nil},
		{"pickled", pickled, pyramidAt, ErrPayload},
	}
	var args []pyramidArg
	for _, c := range cases {
		args = append(args, pyramidArg{Cookie: c.cookie})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &Pyramid{SecretKey: "s3cret", Now: pyClock(c.now)}
			s, err := p.Decode(c.cookie)
			if !errors.Is(err, c.want) || (err != nil) != (c.want != nil) {
				t.Fatalf("Decode: %v, %v; want %v", s, err, c.want)
			}
			if err != nil && s != nil {
				t.Fatalf("Decode returned a session with %v", err)
			}
			// What Pyramid makes of it at that time.
			r := pyramid(t, pyramidReq{Op: "open", Factory: def, At: c.now, Cases: []pyramidArg{{Cookie: c.cookie, Direct: true}}})[0]
			pyOK := !r.New && len(r.Session) > 0
			if pyOK != (err == nil) {
				t.Fatalf("Pyramid: new=%v session %v; Go: %v", r.New, r.Session, err)
			}
			if c.want == ErrExpired && r.New {
				t.Fatalf("Pyramid read the expired cookie as a new session (not as expired)")
			}
		})
	}
	t.Run("pickled, read by a pickle factory", func(t *testing.T) {
		r := pyramid(t, pyramidReq{Op: "open", Factory: map[string]any{"secret": "s3cret", "pickle": true},
			At: pyramidAt, Cases: []pyramidArg{{Cookie: pickled}}})[0]
		if r.New || r.Session["user"] != "amy" {
			t.Fatalf("Pyramid's pickle factory: %+v", r)
		}
	})
	if _, err := (&Pyramid{SecretKey: "s3cret", HashAlg: "whirlpool"}).Decode(good); err == nil || !strings.HasPrefix(err.Error(), "session: ") {
		t.Errorf("unknown hashalg: %v", err)
	}
	if _, err := (&Pyramid{}).Decode(good); !errors.Is(err, ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
}

// TestPyramidKeyRotation: with the old secret as a fallback Go reads the
// cookies it signed, and signs with the new one, which Pyramid with the
// new secret reads.
func TestPyramidKeyRotation(t *testing.T) {
	old := pyramid(t, pyramidReq{Op: "mint", Factory: map[string]any{"secret": "old"},
		Cases: []pyramidArg{{Expr: `{"user": "amy"}`, At: pyramidAt}}})[0].Cookie
	p := &Pyramid{SecretKey: "new", FallbackKeys: []string{"", "old"}, Now: pyClock(pyramidAt)}
	s, err := p.Decode(old)
	if err != nil || s["user"] != "amy" {
		t.Fatalf("Decode(old secret's cookie) = %v, %v", s, err)
	}
	if _, err := (&Pyramid{SecretKey: "new", Now: p.Now}).Decode(old); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("without the fallback: %v", err)
	}
	enc, err := p.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	r := pyramid(t, pyramidReq{Op: "open", Factory: map[string]any{"secret": "new"}, At: pyramidAt, Cases: []pyramidArg{{Cookie: enc}}})[0]
	if r.New || r.Session["user"] != "amy" {
		t.Fatalf("Pyramid with the new secret: %+v", r)
	}
}

// TestPyramidCookiePicks asks webob (request.cookies, which Pyramid's
// session reads) which value it reads for a cookie in raw Cookie headers,
// and checks that Go's Load reads the same.
func TestPyramidCookiePicks(t *testing.T) {
	headers := [][]string{
		{"session=a"}, {"session=a; session=b"}, {"x=1; session=a; y=2; session=b; z=3"},
		{"session=a; x=1", "session=b"}, {"session=a; session="}, {"session=; session=b"},
		{"session; session=b"}, {"session = a ; x=1"}, {"session=\ta\t; x=1"},
		{`session="a\"b\101\\"`}, {`session="a;b"; session=c`}, {`session="a"b`},
		{`session="a; b=c`}, {`session=a\b`}, {`session=a\101b`}, {`session=a"b; x=1`},
		{"session=a=b"}, {"session=a,b"}, {"session=a b"}, {"xsession=a"}, {"session=\xe9a; x=1"},
		{"Session=a"}, {"session=Wed, 01-Jan-2025 00:00:00 GMT"}, {"a=\"x\\\xe9\"; session=b"},
		{`session=a\`}, {"$session=a"}, {""}, {"session=a; x=\"\xe9\""}, {"session=a; path=\xe9"},
		{"session=a; x=\\351"}, {"session=\"a\nb\"; x=1"}, {"session=\"a\\\nb\""},
	}
	var args []pyramidArg
	for _, h := range headers {
		args = append(args, pyramidArg{Header: string(latin1([]byte(strings.Join(h, "; ")))), Name: "session"})
	}
	got := pyramid(t, pyramidReq{Op: "cookie", Cases: args})
	for i, h := range headers {
		t.Run(strings.Join(h, "|"), func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header["Cookie"] = h
			v, found, err := webobCookie(r, "session")
			if (err != nil) != (got[i].Error != "") || found != got[i].Found || v != got[i].Value {
				t.Errorf("Go read %q (found %v, %v), webob %q (found %v, %s)", v, found, err, got[i].Value, got[i].Found, got[i].Error)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v", err)
			}
		})
	}
}

// TestPyramidLoadAndSave: Load reads the request's cookie (an empty
// session without one), Save sets the cookie as Pyramid's defaults do, and
// Pyramid reads the session Go saved.
func TestPyramidLoadAndSave(t *testing.T) {
	p := &Pyramid{SecretKey: "s3cret", Now: pyClock(pyramidAt)}
	r := httptest.NewRequest("GET", "/", nil)
	if s, err := p.Load(r); err != nil || s == nil || len(s) != 0 {
		t.Fatalf("Load without a cookie: %v, %v", s, err)
	}
	w := httptest.NewRecorder()
	if err := p.Save(w, Session{"user": "amy"}); err != nil {
		t.Fatal(err)
	}
	sc := w.Header().Get("Set-Cookie")
	if !strings.HasPrefix(sc, "session=") || !strings.HasSuffix(sc, "; Path=/; SameSite=Lax") {
		t.Errorf("Set-Cookie: %s", sc)
	}
	r.Header.Set("Cookie", "session=x; "+strings.SplitN(sc, ";", 2)[0])
	if s, err := p.Load(r); err != nil || s["user"] != "amy" {
		t.Fatalf("Load: %v, %v", s, err)
	}
	res := pyramid(t, pyramidReq{Op: "open", Factory: map[string]any{"secret": "s3cret"}, At: pyramidAt,
		Cases: []pyramidArg{{Header: r.Header.Get("Cookie")}}})[0]
	if res.New || res.Session["user"] != "amy" {
		t.Errorf("Pyramid read %+v", res)
	}
	// Pyramid's own Set-Cookie, for the same defaults.
	py := pyramid(t, pyramidReq{Op: "mint", Factory: map[string]any{"secret": "s3cret"},
		Cases: []pyramidArg{{Expr: `{"user": "amy"}`, At: pyramidAt}}})[0].SetCookie
	if !strings.HasSuffix(py, "; Path=/; SameSite=Lax") {
		t.Errorf("Pyramid's Set-Cookie %s: the test's expectation is stale", py)
	}
	p.MaxAge = time.Hour
	c, err := p.Cookie(Session{})
	if err != nil || c.MaxAge != 3600 || c.Value == "" {
		t.Errorf("Cookie with MaxAge: %+v, %v", c, err)
	}
	if _, err := (&Pyramid{}).Cookie(nil); !errors.Is(err, ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
}
