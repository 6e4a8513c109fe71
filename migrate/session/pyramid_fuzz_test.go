package session

import (
	"crypto/hmac"
	"crypto/sha512"
	"testing"
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
		s, err := p.Decode(cookie)
		if err != nil {
			if !sentinel(err) || s != nil {
				t.Fatalf("Decode(%q) = %v, %v", cookie, s, err)
			}
			return
		}
		roundTripPyramid(t, p, s)
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
		m := hmac.New(sha512.New, []byte(PyramidSalt+fuzzKey))
		m.Write(data)
		cookie := b64.EncodeToString(append(m.Sum(nil), data...))
		s, err := p.Decode(cookie)
		if err != nil {
			if !sentinel(err) || s != nil {
				t.Fatalf("Decode(%q) = %v, %v", data, s, err)
			}
			return
		}
		roundTripPyramid(t, p, s)
	})
}

// roundTripPyramid checks that s encodes to a cookie that decodes to s.
func roundTripPyramid(t *testing.T, p *Pyramid, s Session) {
	t.Helper()
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
