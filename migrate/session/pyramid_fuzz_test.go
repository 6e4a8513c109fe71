package session

import (
	"crypto/hmac"
	"crypto/sha512"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/graft-dev/graft/internal/pythontest"
)

// FuzzPyramidDecode feeds Decode arbitrary cookies: it never panics,
// fails only with the package's errors, and what it decodes encodes back
// to the same session. The seeds are real cookies, minted by Pyramid 2.0
// (testdata/pyramid_tool.py) with the secret fuzzKey at Unix time
// 1764400000.5, a pickled one among them.
func FuzzPyramidDecode(f *testing.F) {
	for _, s := range []string{
		"brz2wF_4PgBDI8Gs1DtGiMdn4gXntf-R2IwRdv0NbmvFmwEtMWXfUuszEkF_sN3ItEIAcRTh1-guQvzXdJGX-VsxNzY0NDAwMDAwLCAxNzY0NDAwMDAwLjUsIHsidXNlciI6ICJhbXkiLCAiX2NzcmZ0XyI6ICIwYTFiIn1d",
		"uZEFyQrd4fEL9xzngMP9CJicX-2stBAsyY3bRiahaPMz2mvHSUMVYOpG4KjCpSXnmIsgIspEB_mMXxckrSNQulsxNzY0NDAwMDAwLCAxNzY0NDAwMDAwLjUsIHsiY2FydCI6IHsiMSI6IFsyLCAzLjUsIG51bGxdfSwgIm4iOiAiY2FmXHUwMGU5In1d",
		"lSL8vQ0lMO1TGCOf42HBsEqUkRM2-tsLKscwM8BW4mG1sHk3ckB-aH9EnOXfVy-K3mLM9GUirqi9qKle92Z03oAFlSEAAAAAAAAASoCbKmlHQdpKpuAgAAB9lIwEdXNlcpSMA2FteZRzh5Qu",
		"", "=", "====", "A", "AAAA",
	} {
		f.Add(s)
	}
	p := &Pyramid{SecretKey: fuzzKey, Now: fuzzNow}
	f.Fuzz(func(t *testing.T, cookie string) {
		roundTripPyramid(t, p, cookie)
	})
}

// FuzzPyramidPayload signs arbitrary payloads, so that the fuzzer reaches
// the JSON decoding behind the signature.
func FuzzPyramidPayload(f *testing.F) {
	for _, s := range []string{
		`[1764400000, 1764400000.5, {"user": "amy"}]`,
		`[1764400000, 1764400000.5, {}]`, `[1764400000, 1764400000.5, []]`, `[1, 2]`,
		`[1764400000, "1764400000", {}]`, `[1e400, 1, {}]`, `{"a": 1}`, "[1764400000, 1, {\"a\": \"\xff\"}]",
		"\x80\x05}\x94.", `[1764400000, 1764400000.5, {"a": 1}] x`, `[-1e300, 1e300, {}]`,
	} {
		f.Add([]byte(s))
	}
	p := &Pyramid{SecretKey: fuzzKey, Now: fuzzNow}
	f.Fuzz(func(t *testing.T, data []byte) {
		cookie := signPyramid(data)
		roundTripPyramid(t, p, cookie)
	})
}

// roundTripPyramid checks that cookie decodes to a session or to one of
// the package's errors, and that a session decoded encodes to a cookie
// that decodes to it again.
func roundTripPyramid(t *testing.T, p *Pyramid, cookie string) {
	t.Helper()
	s, err := p.Decode(cookie)
	if err != nil {
		if !sentinel(err) || s != nil {
			t.Fatalf("Decode(%q) = %v, %v", cookie, s, err)
		}
		return
	}
	enc, err := p.Encode(s)
	if err != nil {
		t.Fatalf("Encode(%v): %v", s, err)
	}
	back, err := p.Decode(enc)
	if err != nil {
		t.Fatalf("Decode(Encode(%v)): %v", s, err)
	}
	a, _ := encodeJSON(map[string]any(s))
	b, _ := encodeJSON(map[string]any(back))
	if string(a) != string(b) {
		t.Fatalf("round trip: %s, then %s", a, b)
	}
}

// pyramidLoads answers, for each JSON line [cookie, cookie or null], what
// Pyramid 2.0's SignedCookieSessionFactory(secret) makes of each as the
// value of its cookie (request.cookies["session"]) at Unix time
// 1764400060 (fuzzNow): [ok1, ok2, same, expired1], ok telling that
// it read a session (not a new one, not timed out), same that both read
// equal values with their types (canon), expired that it read one past
// its timeout (which it empties).
const pyramidLoads = `
import json, sys, warnings
from unittest import mock
warnings.simplefilter("ignore")
from pyramid.session import SignedCookieSessionFactory
from canon import canon
NOW = 1764400060
factory = SignedCookieSessionFactory(sys.argv[1])
class CookieRequest:
    def __init__(self, c):
        self.cookies = {"session": c}
    def add_response_callback(self, callback):
        pass
def load(c):
    if c is None:
        return False, None, False
    try:
        with mock.patch("time.time", return_value=NOW):
            s = factory(CookieRequest(c))
            expired = not s.new and NOW - s.renewed > 1200
            return not s.new and not expired, canon(dict.copy(s)), expired
    except Exception:
        return False, None, False
for line in sys.stdin:
    a, b = json.loads(line)
    (oka, va, expa), (okb, vb, _) = load(a), load(b)
    print(json.dumps([oka, okb, oka and okb and va == vb, expa]), flush=True)
`

// FuzzPyramidPayloadPython signs arbitrary payloads as FuzzPyramidPayload
// does and compares Decode with Pyramid's own reading of the same cookie:
// Go decodes a session only when Pyramid reads one, and the session Go
// decodes, encoded again by Encode, is the one Pyramid read (same values,
// same Python types); Go's ErrExpired is a session Pyramid read as timed
// out. A payload Pyramid reads that Go refuses with ErrPayload is allowed
// (timestamps as strings, a state that is a list of pairs, NaN): a clear
// error, no wrong session. So is a lone UTF-16 surrogate escape, which Go
// decodes as U+FFFD.
func FuzzPyramidPayloadPython(f *testing.F) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		f.Fatal(err)
	}
	oracle := pythontest.StartOracle(f, dir, pyramidLoads, []string{"pyramid"}, fuzzKey)
	for _, s := range []string{
		`[1764400000, 1764400000.5, {"user": "amy", "cart": {"1": [2, 3.5, null, true]}}]`,
		`[1764400000, 1764400000.5, {}]`, `[1764400000, 1764400000.5, []]`, `[1764400000, 1764400000.5, [["a", 1]]]`,
		`[1764398000, 1764398000, {"a": 1}]`, `[1764398860, 1, {"a": 1}]`, `[1764398859.5, 1, {"a": 1}]`,
		`[1764500000, 1, {"a": 1}]`, `["1764400000", 1, {"a": 1}]`, `[true, 1, {"a": 1}]`, `[1e400, 1, {"a": 1}]`,
		`[NaN, 1, {"a": 1}]`, `[1764400000, 1, {"a": NaN}]`, `[1764400000, 1, {"a": "\ud800"}]`,
		`[1764400000, 1, {"a": 1, "a": 2}]`, `[1764400000, 1, {"n": 12345678901234567890, "f": 1.0, "e": 1E2}]`,
		"[1764400000, 1, {\"a\": \"caf\xc3\xa9\"}]", "[1764400000, 1, {\"a\": \"\xff\"}]", `[1764400000, 1]`,
		`[1764400000, 1, {"a": 1}, 4]`, `{"a": 1}`, "\x80\x05}\x94.", ` [1764400000, 1, {"a": 1}] `, `"abc"`,
		`[1764400000, null, {"a": 1}]`, `[-1e300, 1e300, {"a": 1}]`, `[1764400000, 1, {"a": 1e400}]`,
	} {
		f.Add([]byte(s))
	}
	p := &Pyramid{SecretKey: fuzzKey, Now: fuzzNow}
	f.Fuzz(func(t *testing.T, data []byte) {
		cookie := signPyramid(data)
		s, a, err := askPyramid(t, oracle, p, cookie)
		if err != nil && !errors.Is(err, ErrPayload) && !errors.Is(err, ErrExpired) {
			t.Fatalf("Decode(signed %q): %v, want ErrPayload or ErrExpired", data, err)
		}
		ok, okAgain, same, expired := a.ok, a.okAgain, a.same, a.expired
		switch {
		case errors.Is(err, ErrExpired) && !expired:
			t.Fatalf("payload %q: Go says expired (%v), Pyramid does not", data, err)
		case err == nil && !ok:
			t.Fatalf("payload %q: Go decodes %#v, Pyramid reads no session", data, s)
		case err == nil && !okAgain:
			t.Fatalf("payload %q: Go decodes %#v, whose Encode Pyramid cannot read", data, s)
		case err == nil && !same && !surrogateEscape.Match(data):
			t.Fatalf("payload %q: Go decodes %#v, which Encode writes as another session than Pyramid read", data, s)
		}
	})
}

// FuzzPyramidDecodePython feeds Decode arbitrary cookie values and
// compares it with Pyramid's own reading of the same value (the oracle of
// FuzzPyramidPayloadPython): Go decodes a session exactly when Pyramid
// reads one, the same one, so that the base64 that Pyramid reads though
// it is not canonical (junk characters, the standard alphabet, padding)
// is read by Go too; Go's ErrExpired is a session Pyramid read as timed
// out; a refusal of a session Pyramid reads can only be ErrPayload.
func FuzzPyramidDecodePython(f *testing.F) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		f.Fatal(err)
	}
	oracle := pythontest.StartOracle(f, dir, pyramidLoads, []string{"pyramid"}, fuzzKey)
	const good = "brz2wF_4PgBDI8Gs1DtGiMdn4gXntf-R2IwRdv0NbmvFmwEtMWXfUuszEkF_sN3ItEIAcRTh1-guQvzXdJGX-VsxNzY0NDAwMDAwLCAxNzY0NDAwMDAwLjUsIHsidXNlciI6ICJhbXkiLCAiX2NzcmZ0XyI6ICIwYTFiIn1d"
	for _, s := range []string{
		good, good + "=", good + "==", good + "A", good + "AA=", good[:20] + "=" + good[20:], good[:20] + "==" + good[20:],
		good[:21] + "=" + good[21:], good[:10] + "!" + good[10:], good[:10] + " é\t" + good[10:], good[:10] + "€" + good[10:],
		"=" + good, good[:len(good)-1], good[:len(good)-2] + "=" + good[len(good)-2:], "", "====", "A===", "AB==CD",
		"uZEFyQrd4fEL9xzngMP9CJicX-2stBAsyY3bRiahaPMz2mvHSUMVYOpG4KjCpSXnmIsgIspEB_mMXxckrSNQulsxNzY0NDAwMDAwLCAxNzY0NDAwMDAwLjUsIHsiY2FydCI6IHsiMSI6IFsyLCAzLjUsIG51bGxdfSwgIm4iOiAiY2FmXHUwMGU5In1d",
		"lSL8vQ0lMO1TGCOf42HBsEqUkRM2-tsLKscwM8BW4mG1sHk3ckB-aH9EnOXfVy-K3mLM9GUirqi9qKle92Z03oAFlSEAAAAAAAAASoCbKmlHQdpKpuAgAAB9lIwEdXNlcpSMA2FteZRzh5Qu",
	} {
		f.Add(s)
	}
	p := &Pyramid{SecretKey: fuzzKey, Now: fuzzNow}
	f.Fuzz(func(t *testing.T, cookie string) {
		if !utf8.ValidString(cookie) || strings.ContainsRune(cookie, 0) {
			return // not a str that webob gives the factory
		}
		s, a, err := askPyramid(t, oracle, p, cookie)
		if err != nil && !sentinel(err) {
			t.Fatalf("Decode(%q): %v", cookie, err)
		}
		ok, okAgain, same, expired := a.ok, a.okAgain, a.same, a.expired
		switch {
		case errors.Is(err, ErrExpired) != expired:
			t.Fatalf("%q: Go %v, Pyramid expired: %v", cookie, err, expired)
		case err != nil && ok && !errors.Is(err, ErrPayload):
			t.Fatalf("%q: Go %v, Pyramid reads a session", cookie, err)
		case err == nil && (!ok || !okAgain || !same):
			t.Fatalf("%q: Go decodes %#v; Pyramid reads it: %v, reads Go's Encode: %v, the same: %v", cookie, s, ok, okAgain, same)
		}
	})
}

// pyramidAnswer is what Pyramid's oracle (FuzzPyramidPayloadPython's)
// says of a cookie: it reads a session from it (ok), from Go's Encode of
// what Go decoded (okAgain), the same one from both (same), and the
// cookie's session timed out (expired).
type pyramidAnswer struct{ ok, okAgain, same, expired bool }

// askPyramid decodes cookie with p, encodes again what it decoded, and
// asks the oracle about both.
func askPyramid(t *testing.T, oracle *pythontest.Oracle, p *Pyramid, cookie string) (Session, pyramidAnswer, error) {
	t.Helper()
	s, err := p.Decode(cookie)
	var again *string
	if err == nil {
		enc, err := p.Encode(s)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", s, err)
		}
		again = &enc
	}
	var out [4]bool
	oracle.Ask(t, []any{cookie, again}, &out)
	return s, pyramidAnswer{out[0], out[1], out[2], out[3]}, err
}

// signPyramid is the cookie Pyramid's default factory writes for the
// serialized value data, with fuzzKey: base64url of its HMAC-SHA512
// (keyed by the salt and the secret) followed by data.
func signPyramid(data []byte) string {
	m := hmac.New(sha512.New, []byte(PyramidSalt+fuzzKey))
	m.Write(data)
	return b64.EncodeToString(append(m.Sum(nil), data...))
}
