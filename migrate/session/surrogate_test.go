package session

import (
	"errors"
	"reflect"
	"testing"
)

// TestPayloadText: a Flask payload that is not UTF-8 is ErrPayload, as
// Flask reads no session from it (itsdangerous decodes it strictly); Go
// decoded it with U+FFFD in place of the bad bytes (FuzzFlaskPayloadPython).
// Django reads payloads as latin-1, and so does Go. A lone UTF-16
// surrogate escape decodes with U+FFFD in its place, as docs/migration.md
// says (Python keeps it; a Go string cannot hold it).
func TestPayloadText(t *testing.T) {
	fl := &Flask{SecretKey: fuzzKey, Now: fuzzNow}
	dj := &Django{SecretKey: fuzzKey, Now: fuzzNow}
	flask := func(payload string) string {
		p := rawPayload([]byte(payload), false) + "." + b64.EncodeToString([]byte{0x69, 0x2a, 0x9b, 0x80})
		return p + "." + fl.signature(fuzzKey, p)
	}
	django := func(payload string) string {
		v, err := dj.signer(DjangoCookieSessionSalt).Sign(rawPayload([]byte(payload), false))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name, payload string
		flask, django error  // want
		value         string // of "a", when decoded
	}{
		{"not UTF-8", "{\"a\":\"\xff\"}", ErrPayload, nil, "\u00ff"},
		{"lone surrogate", `{"a":"\ud800x"}`, nil, nil, "\ufffdx"},
		{"bad UTF-8 with a lone surrogate", "{\"a\":\"\\ud800\xff\"}", ErrPayload, nil, "\ufffd\u00ff"},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, nil, nil, "\U0001F600"},
		{"UTF-8 text", "{\"a\":\"caf\u00e9\"}", nil, nil, "caf\u00e9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, side := range []struct {
				name   string
				decode func(string) (Session, error)
				value  string
				want   error
			}{{"Flask", fl.Decode, flask(c.payload), c.flask}, {"Django", dj.Decode, django(c.payload), c.django}} {
				s, err := side.decode(side.value)
				if !errors.Is(err, side.want) || err == nil && side.want != nil {
					t.Fatalf("%s: Decode = %#v, %v; want %v", side.name, s, err, side.want)
				}
				if err != nil {
					continue
				}
				want := c.value
				if side.name == "Django" && c.name == "UTF-8 text" {
					want = "caf\u00c3\u00a9" // latin-1, as Django reads it
				}
				if got := s["a"]; !reflect.DeepEqual(got, want) {
					t.Errorf("%s: a = %q, want %q", side.name, got, want)
				}
			}
		})
	}
}
