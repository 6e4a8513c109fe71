package session

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// The cost of reading a session in Go, the alternative being a round trip
// to a Python worker.

func BenchmarkFlaskDecode(b *testing.B) {
	f := &Flask{SecretKey: "bench-key", FallbackKeys: []string{"old"}}
	v, err := f.Encode(Session{"cart": map[string]any{"1": json.Number("2"), "3": json.Number("1")}, "user": "alice", "roles": Tuple{"staff"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFlaskEncode(b *testing.B) {
	f := &Flask{SecretKey: "bench-key"}
	s := Session{"cart": map[string]any{"1": json.Number("2"), "3": json.Number("1")}, "user": "alice", "roles": Tuple{"staff"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Encode(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDjangoLoad(b *testing.B) {
	d := &Django{SecretKey: "bench-key"}
	v, err := d.Encode(Session{"_auth_user_id": "42", "_auth_user_backend": "django.contrib.auth.backends.ModelBackend", "_auth_user_hash": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "sessionid="+v)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Load(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDjangoCSRFToken(b *testing.B) {
	var c DjangoCSRF
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "csrftoken="+csrfMask(csrfRandom()))
	b.ReportAllocs()
	for b.Loop() {
		c.Token(httptest.NewRecorder(), r)
	}
}
