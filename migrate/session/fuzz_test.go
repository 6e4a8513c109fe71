package session

import (
	"bytes"
	"compress/zlib"
	"errors"
	"reflect"
	"testing"
	"time"
)

// The seeds are real values, minted by Flask 2.2 and Django 3.2
// (testdata/flask_tool.py, testdata/django_tool.py) with the key
// "fuzz-secret" at Unix time 1764400000.
const fuzzKey = "fuzz-secret"

var fuzzNow = func() time.Time { return time.Unix(1764400000+60, 0) }

// sentinel reports whether err wraps one of the decoders' errors.
func sentinel(err error) bool {
	for _, s := range []error{ErrMalformed, ErrBadSignature, ErrExpired, ErrPayload} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzFlaskDecode feeds Decode arbitrary cookies: it never panics, fails
// only with the package's errors, and what it decodes encodes back to the
// same session.
func FuzzFlaskDecode(f *testing.F) {
	for _, s := range []string{
		"eyJfcGVybWFuZW50Ijp0cnVlLCJjYXJ0Ijp7IjEiOjJ9fQ.aSqbgA.RMGqyru1m1xupHLGg17ymj_IQO0",
		".eJyrVkpSsqpWUgCSSqmOtrZKtTpKKWARIKkUnpqio2BgqOCbWKlgZGBkomBgYAVGCu6-ISCluWClQFLJJtMOJFCUn5NaDBYsUbKKVkpMyc3MU4oFSpSCBYGkkgF-YA4ypgLihEyISfHxSlaGtbW1AJ2TK0s.aSqbgA.gYDcAFP-_EcO2d0QMifLxe4Jo3k",
		".eJyrVkrKyU9SslJKTBqFo5D6UKkWAJFg594.aSqbgA.sQMDOCA7IqfnfK8oATEbA9jNXD4",
		"", ".", "..", "a.b.c",
	} {
		f.Add(s)
	}
	fl := &Flask{SecretKey: fuzzKey, Now: fuzzNow}
	f.Fuzz(func(t *testing.T, cookie string) {
		s, err := fl.Decode(cookie)
		if err != nil {
			if !sentinel(err) || s != nil {
				t.Fatalf("Decode(%q) = %v, %v", cookie, s, err)
			}
			return
		}
		roundTripFlask(t, fl, s)
	})
}

// FuzzFlaskPayload signs arbitrary payloads, so that the fuzzer reaches
// the decompression and tagged-JSON decoding behind the signature.
func FuzzFlaskPayload(f *testing.F) {
	for _, s := range []string{
		`{"cart":{"1":2},"_permanent":true}`,
		`{"b":{" b":"eA=="},"d":{" d":"Wed, 01 May 2024 00:00:00 GMT"},"m":{" m":"<i>"},"roles":{" t":["admin"]},"u":{" u":"00000000000000000000000000000007"},"x":{" di":{" t__":1}}}`,
		`{"a":{" di":{"x":1}}}`, `{"a":{" t":{}}}`, `[1]`, `{"n":1e400}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	fl := &Flask{SecretKey: fuzzKey, Now: fuzzNow}
	f.Fuzz(func(t *testing.T, payload []byte, compress bool) {
		p := rawPayload(payload, compress) + "." + b64.EncodeToString([]byte{0x69, 0x2a, 0x9b, 0x80})
		cookie := p + "." + fl.signature(fuzzKey, p)
		s, err := fl.Decode(cookie)
		if err != nil {
			if !errors.Is(err, ErrPayload) || s != nil {
				t.Fatalf("Decode(signed %q) = %v, %v; want ErrPayload", payload, s, err)
			}
			return
		}
		roundTripFlask(t, fl, s)
	})
}

// rawPayload is a payload, zlib-compressed when compress is set whatever
// its size, so that the fuzzers reach the decompression.
func rawPayload(data []byte, compress bool) string {
	if !compress {
		return b64.EncodeToString(data)
	}
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return "." + b64.EncodeToString(buf.Bytes())
}

func roundTripFlask(t *testing.T, fl *Flask, s Session) {
	t.Helper()
	enc, err := fl.Encode(s)
	if err != nil {
		t.Fatalf("Encode(%#v): %v", s, err)
	}
	back, err := fl.Decode(enc)
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Fatalf("Decode(Encode(%#v)) = %#v, %v", s, back, err)
	}
}

// FuzzDjangoDecode feeds the Django decoders arbitrary values, and signed
// arbitrary payloads.
func FuzzDjangoDecode(f *testing.F) {
	for _, s := range []string{
		"eyJfYXV0aF91c2VyX2lkIjoiNDIiLCJjYXJ0IjpbMSwyXX0:1vPF2W:IHqo9rJpJrwZS5Ku94GWlTv8eHcyXXfcFq7k5FR2_bc",
		".eJyrVkrKyU9SslJKTBqFo5D6UElHKQ-YvJIT02JKDQxSLZVqATB87DM:1vPF2W:jF_CHXU4EzciI7Q99jtBZmB5TA4F0QjvrGfHZfsmXuA",
		"eyJfYXV0aF91c2VyX2lkIjoiNDIifQ:1xXkyp:jkFokbJZdV5uaBcfgr_8P7Nf8pAxwvBrJauj9DrEg6I",
		"WzEsImEiXQ:1vPF2W:TyvQ4MwKQfGJYlqZHx-79FJdt1k",
		// The legacy (pre-3.1) session_data of DecodeStored.
		"YWMzZjdkZDAyMjFlNzBhZTAzMWE1OTM5MjYyYmI5YjYzNDhmYTNlMDp7ImEiOjF9",
		"", ":", "::", "a:b:c",
	} {
		f.Add(s, []byte(`{"a":1}`))
	}
	d := &Django{SecretKey: fuzzKey, LegacySHA1: true, Now: fuzzNow}
	signer := d.signer(DjangoCookieSessionSalt)
	f.Fuzz(func(t *testing.T, value string, payload []byte) {
		for _, dec := range []func(string) (Session, error){d.Decode, d.DecodeStored} {
			if s, err := dec(value); err != nil && (!sentinel(err) || s != nil) {
				t.Fatalf("decode(%q) = %v, %v", value, s, err)
			}
		}
		var v any
		if err := (&DjangoSigner{SecretKey: fuzzKey, LegacySHA1: true}).Loads(value, 0, &v); err != nil && !sentinel(err) {
			t.Fatalf("Loads(%q): %v", value, err)
		}
		signed, err := signer.Sign(rawPayload(payload, len(payload)%2 == 0))
		if err != nil {
			t.Fatal(err)
		}
		s, err := d.Decode(signed)
		if err != nil {
			if !errors.Is(err, ErrPayload) {
				t.Fatalf("Decode(signed %q): %v, want ErrPayload", payload, err)
			}
			return
		}
		enc, err := d.Encode(s)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", s, err)
		}
		if back, err := d.Decode(enc); err != nil || !reflect.DeepEqual(back, s) {
			t.Fatalf("Decode(Encode(%#v)) = %#v, %v", s, back, err)
		}
	})
}

// FuzzCSRFSecret: csrfSecret accepts only tokens of Django's alphabet and
// lengths, and unmasks what csrfMask masked.
func FuzzCSRFSecret(f *testing.F) {
	f.Add("QfzyRDX4vhKh1SOV8zhRhNk5bOPp1CxXrCsQfeZZCuHpxsJdPgOabnwN7qNOKwiG")
	f.Add("aB3aB3aB3aB3aB3aB3aB3aB3aB3aB3xY")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		s := csrfSecret(v)
		if s == nil {
			return
		}
		if len(s) != csrfSecretLength || (len(v) != 32 && len(v) != 64) {
			t.Fatalf("csrfSecret(%q) = %v", v, s)
		}
		if got := csrfSecret(csrfMask(s)); string(got) != string(s) {
			t.Fatalf("csrfSecret(csrfMask(%v)) = %v", s, got)
		}
	})
}
