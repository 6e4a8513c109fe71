package session

import (
	"errors"
	"testing"
)

// TestDjangoLegacyStored decodes the session_data that Django 3.2 writes
// with DEFAULT_HASHING_ALGORITHM = "sha1": the pre-3.1 format,
// base64(hash:json), which its SessionStore.decode still reads (and rows
// that Django before 3.1 wrote are in).
func TestDjangoLegacyStored(t *testing.T) {
	const expr = `{"_auth_user_id": "42", "name": "caf\u00e9", "cart": [1, 2]}`
	var out []djangoOut
	runPy(t, "django_tool.py", "django", djangoReq{Op: "stored_mint", Key: djangoKey,
		Settings: map[string]any{"DEFAULT_HASHING_ALGORITHM": "sha1"}, Cases: []djangoArg{{Expr: expr}}}, &out)
	if len(out) != 1 {
		t.Fatalf("django_tool.py: %+v", out)
	}
	legacy := out[0].Value
	for _, c := range []struct {
		name string
		d    Django
		want error
	}{
		{"key", Django{SecretKey: djangoKey}, nil},
		{"fallback key", Django{SecretKey: "new", FallbackKeys: []string{djangoKey}}, nil},
		{"another key", Django{SecretKey: "another"}, ErrBadSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := c.d.DecodeStored(legacy)
			if !errors.Is(err, c.want) {
				t.Fatalf("DecodeStored(Django's legacy %q): %v, want %v", legacy, err, c.want)
			}
			if err == nil && !jsonEqual(t, s, `{"_auth_user_id": "42", "name": "café", "cart": [1, 2]}`) {
				t.Errorf("DecodeStored = %v", s)
			}
		})
	}
	d := &Django{SecretKey: djangoKey}
	t.Run("tampered", func(t *testing.T) {
		if _, err := d.DecodeStored(tamper(legacy, 3)); err == nil {
			t.Error("DecodeStored accepted a tampered legacy value")
		}
	})
	t.Run("not a cookie", func(t *testing.T) {
		// The signed-cookies backend never had the legacy format.
		if _, err := d.Decode(legacy); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
			t.Errorf("Decode(a legacy row): %v", err)
		}
	})
	// What Go writes, Django configured so reads too.
	v, err := (&Django{SecretKey: djangoKey, Algorithm: "sha1"}).EncodeStored(Session{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	runPy(t, "django_tool.py", "django", djangoReq{Op: "stored_open", Key: djangoKey,
		Settings: map[string]any{"DEFAULT_HASHING_ALGORITHM": "sha1"}, Cases: []djangoArg{{Value: v, Expr: `{"a": "b"}`}}}, &out)
	if !out[0].Equal {
		t.Errorf("Django with DEFAULT_HASHING_ALGORITHM sha1 opened Go's %q as %s", v, out[0].Repr)
	}
}
