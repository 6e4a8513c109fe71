package session

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/graft-dev/graft/internal/pythontest"
)

// flaskLoads answers, for each JSON line [cookie, cookie or null], what
// Flask's own session serializer (itsdangerous with Flask's salt, key
// derivation and tagged JSON, no max age) reads from each: [ok1, ok2,
// same], same telling whether both read values equal with their types
// (canon: a tuple is no list, Markup no str).
const flaskLoads = `
import hashlib, json, sys
from flask.sessions import session_json_serializer
from itsdangerous import URLSafeTimedSerializer
from canon import canon
s = URLSafeTimedSerializer(sys.argv[1], salt="cookie-session", serializer=session_json_serializer,
    signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1})
def load(c):
    if c is None:
        return False, None
    try:
        v = s.loads(c)
    except Exception:
        return False, None
    return isinstance(v, dict), canon(v)
for line in sys.stdin:
    a, b = json.loads(line)
    (oka, va), (okb, vb) = load(a), load(b)
    print(json.dumps([oka, okb, oka and okb and va == vb]), flush=True)
`

// surrogateEscape finds a \u escape of a UTF-16 surrogate (of a pair or
// not) in a JSON text.
var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F]`)

// FuzzFlaskPayloadPython signs arbitrary payloads as FuzzFlaskPayload
// does and compares Decode with Flask's own reading of the same cookie:
// Go decodes a session only when Flask reads one (a dict), and the
// session Go decodes, encoded again by Encode, is the one Flask read
// (same values, same Python types). A payload Flask reads that Go
// refuses with ErrPayload is allowed: a clear error, no wrong session.
// So is a lone UTF-16 surrogate escape, which Go decodes as U+FFFD
// (docs/migration.md: a Go string cannot hold it).
func FuzzFlaskPayloadPython(f *testing.F) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		f.Fatal(err)
	}
	oracle := pythontest.StartOracle(f, dir, flaskLoads, []string{"flask"}, fuzzKey)

	for _, s := range []string{
		`{"cart":{"1":2},"_permanent":true}`,
		`{"b":{" b":"eA=="},"d":{" d":"Wed, 01 May 2024 00:00:00 GMT"},"m":{" m":"<i>"},"roles":{" t":["admin"]},"u":{" u":"00000000000000000000000000000007"},"x":{" di":{" t__":1}}}`,
		`{"a":{" di":{"x":1}}}`, `{"a":{" t":{}}}`, `[1]`, `{"n":1e400}`, "{\"a\":\"\xff\"}",
		`{"a":1,"a":2}`, `{"a":NaN}`, `{"a":"\ud800"}`, `{"a":-0.0}`, `{"a":12345678901234567890}`,
		`{"a":{" t":[1]," x":2}}`, `{"a":{" d":"Wed, 01 May 2024 00:00:00 +0100"}}`, `{"a":1.5e300}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	fl := &Flask{SecretKey: fuzzKey, Now: fuzzNow}
	f.Fuzz(func(t *testing.T, payload []byte, compress bool) {
		p := rawPayload(payload, compress) + "." + b64.EncodeToString([]byte{0x69, 0x2a, 0x9b, 0x80})
		cookie := p + "." + fl.signature(fuzzKey, p)
		agreeWithPython(t, "Flask", oracle, fl, payload, cookie)
	})
}

// djangoLoads is flaskLoads for Django's signed_cookies session backend:
// signing.loads with its salt and JSONSerializer (payloads read as
// latin-1), no max age.
const djangoLoads = `
import json, sys
from django.conf import settings
settings.configure(SECRET_KEY=sys.argv[1])
from django.core import signing
from canon import canon
def load(c):
    if c is None:
        return False, None
    try:
        v = signing.loads(c, salt="django.contrib.sessions.backends.signed_cookies", serializer=signing.JSONSerializer)
    except Exception:
        return False, None
    return isinstance(v, dict), canon(v)
for line in sys.stdin:
    a, b = json.loads(line)
    (oka, va), (okb, vb) = load(a), load(b)
    print(json.dumps([oka, okb, oka and okb and va == vb]), flush=True)
`

// FuzzDjangoPayloadPython is FuzzFlaskPayloadPython for Django's cookie
// sessions: Decode of a signed arbitrary payload gives a session only when
// Django reads one, and Encode of it is the session Django read (values
// and Python types).
func FuzzDjangoPayloadPython(f *testing.F) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		f.Fatal(err)
	}
	oracle := pythontest.StartOracle(f, dir, djangoLoads, []string{"django"}, fuzzKey)
	for _, s := range []string{
		`{"_auth_user_id":"42","cart":[1,2]}`, `{"a":1.0,"b":true,"c":null}`, `[1]`, `{"n":1e400}`,
		"{\"a\":\"caf\xc3\xa9\"}", "{\"a\":\"\xff\"}", `{"a":1,"a":2}`, `{"a":NaN}`, `{"a":-0.0}`,
		`{"a":12345678901234567890}`, `{"a":1E2}`, `{"a":"\u00e9"}`, `{}`, ` {"a":1} `,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	d := &Django{SecretKey: fuzzKey, Now: fuzzNow}
	signer := d.signer(DjangoCookieSessionSalt)
	f.Fuzz(func(t *testing.T, payload []byte, compress bool) {
		cookie, err := signer.Sign(rawPayload(payload, compress))
		if err != nil {
			t.Fatal(err)
		}
		agreeWithPython(t, "Django", oracle, d, payload, cookie)
	})
}

// codec is what the two session formats have in common for
// agreeWithPython: *Flask and *Django.
type codec interface {
	Decode(cookie string) (Session, error)
	Encode(s Session) (string, error)
}

// agreeWithPython checks c's Decode of cookie, signed over payload,
// against the framework's own reading of it (oracle answers [ok, okAgain,
// same] for [cookie, cookie encoded again]): Go decodes a session only when
// the framework reads one, and Encode of it is the session the framework
// read; a refusal of Go's must be ErrPayload.
func agreeWithPython(t *testing.T, framework string, oracle *pythontest.Oracle, c codec, payload []byte, cookie string) {
	t.Helper()
	s, err := c.Decode(cookie)
	var again *string
	if err == nil {
		enc, err := c.Encode(s)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", s, err)
		}
		again = &enc
	} else if !errors.Is(err, ErrPayload) {
		t.Fatalf("Decode(signed %q): %v, want ErrPayload", payload, err)
	}
	var out [3]bool
	oracle.Ask(t, []any{cookie, again}, &out)
	ok, okAgain, same := out[0], out[1], out[2]
	switch {
	case err == nil && !ok:
		t.Fatalf("payload %q: Go decodes %#v, %s reads no session", payload, s, framework)
	case err == nil && !okAgain:
		t.Fatalf("payload %q: Go decodes %#v, whose Encode %s cannot read", payload, s, framework)
	case err == nil && !same && !surrogateEscape.Match(payload):
		t.Fatalf("payload %q: Go decodes %#v, which Encode writes as another session than %s read", payload, s, framework)
	}
}

// djangoUnmask answers, for each JSON line (a string), what Django 3.2's
// CsrfViewMiddleware makes of it as the session's CSRF value
// (_unmask_cipher_token, which _compare_masked_tokens applies to it
// unsanitized): {"fails": true} when it raises (a server error), else the
// secret it unmasks.
const djangoUnmask = `
import json, sys
from django.conf import settings
settings.configure()
from django.middleware.csrf import _unmask_cipher_token
for line in sys.stdin:
    try:
        out = {"fails": False, "secret": _unmask_cipher_token(json.loads(line))}
    except Exception:
        out = {"fails": True, "secret": ""}
    print(json.dumps(out), flush=True)
`

// FuzzSessionCSRFSecretPython checks sessionCSRFSecret, the reading of a
// CSRF_USE_SESSIONS secret, against Django's own: Go fails where Django
// raises, and otherwise gives the secret Django unmasks when it has
// Django's 32 characters (the only length a token can match), none
// otherwise.
func FuzzSessionCSRFSecretPython(f *testing.F) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		f.Fatal(err)
	}
	oracle := pythontest.StartOracle(f, dir, djangoUnmask, []string{"django"})
	masked := csrfMask(csrfRandom())
	for _, s := range []string{
		"", "a", masked, masked[:32], masked[:33], masked[:63], masked + "x", masked + "-", masked + "xyz-",
		masked[:31] + "-" + masked[32:], masked[:32] + "-" + masked[33:], "not a token!", masked[:40] + "é",
		"é" + masked[1:], "ab-", strings.Repeat("-", 32) + "a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.ValidString(v) {
			return // a decoded session holds valid strings only
		}
		secret, found, err := sessionCSRFSecret(v, true)
		var dj struct {
			Fails  bool   `json:"fails"`
			Secret string `json:"secret"`
		}
		oracle.Ask(t, v, &dj)
		switch {
		case !found:
			t.Fatalf("%q: not found", v)
		case dj.Fails != (err != nil):
			t.Fatalf("%q: Go error %v, Django raises: %v", v, err, dj.Fails)
		case err != nil:
		case len(dj.Secret) == csrfSecretLength && string(secretChars(secret)) != dj.Secret:
			t.Fatalf("%q: Go's secret %q, Django's %q", v, secretChars(secret), dj.Secret)
		case len(dj.Secret) != csrfSecretLength && secret != nil:
			t.Fatalf("%q: Go's secret %q, Django's %q, which no token matches", v, secretChars(secret), dj.Secret)
		}
	})
}

// secretChars writes a secret's character indexes as characters.
func secretChars(secret []byte) []byte {
	out := make([]byte, len(secret))
	for i, b := range secret {
		out[i] = csrfChars[b]
	}
	return out
}
