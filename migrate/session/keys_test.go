package session

import (
	"errors"
	"testing"
)

// TestEmptyFallbackKey checks that an empty fallback key, which
// []string{os.Getenv("OLD_SECRET_KEY")} gives with no rotation under way,
// is never a key: a session signed with the empty key, which anybody can
// make, is refused by the Flask and Django codecs as by the signer.
func TestEmptyFallbackKey(t *testing.T) {
	flask := &Flask{SecretKey: "the-real-secret", FallbackKeys: []string{""}}
	v, err := (&Flask{SecretKey: "tmp"}).Encode(Session{"user": "admin"})
	if err != nil {
		t.Fatal(err)
	}
	signed, _, _ := cutLast(v, ".")
	forgedFlask := signed + "." + flask.signature("", signed)

	django := &Django{SecretKey: "the-real-secret", FallbackKeys: []string{"", ""}}
	ds := django.signer(DjangoCookieSessionSalt)
	dv, err := (&Django{SecretKey: "tmp"}).signer(DjangoCookieSessionSalt).Dumps(map[string]any{"_auth_user_id": "1"}, true)
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := cutLast(dv, ":")
	h, err := ds.hash()
	if err != nil {
		t.Fatal(err)
	}
	forgedDjango := body + ":" + ds.signature(h, "", body)

	for _, c := range []struct {
		name   string
		decode func() error
	}{
		{"flask", func() error { _, err := flask.Decode(forgedFlask); return err }},
		{"django session", func() error { _, err := django.Decode(forgedDjango); return err }},
		{"django signer", func() error { _, _, err := ds.Unsign(forgedDjango, 0); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.decode(); !errors.Is(err, ErrBadSignature) {
				t.Errorf("a value signed with the empty key: %v, want ErrBadSignature", err)
			}
		})
	}

	// The real key still works beside an empty fallback.
	good, err := (&Flask{SecretKey: "the-real-secret"}).Encode(Session{"user": "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := flask.Decode(good); err != nil || s["user"] != "carol" {
		t.Errorf("Decode with an empty fallback: %v, %v", s, err)
	}
}
