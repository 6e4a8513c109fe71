package migrate

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"io"
	"net/http"
	"testing"
)

// TestDecoded checks which Content-Encodings are undone before
// comparison, and that everything else is compared as sent.
func TestDecoded(t *testing.T) {
	plain := []byte(`{"a":1}`)
	enc := func(w func(io.Writer) io.WriteCloser, b []byte) []byte {
		var buf bytes.Buffer
		zw := w(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	gz := func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }
	zl := func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }
	raw := func(w io.Writer) io.WriteCloser { fw, _ := flate.NewWriter(w, 5); return fw }
	big := bytes.Repeat([]byte("a"), 2000)
	for _, tc := range []struct {
		name, ce  string
		body      []byte
		truncated bool
		want      []byte // nil: returned as sent
	}{
		{"gzip", "gzip", enc(gz, plain), false, plain},
		{"x-gzip, any case", "X-Gzip", enc(gz, plain), false, plain},
		{"deflate (zlib)", "deflate", enc(zl, plain), false, plain},
		{"deflate (raw)", "deflate", enc(raw, plain), false, plain},
		{"gzip then identity", "gzip, identity", enc(gz, plain), false, plain},
		{"two codings", "deflate, gzip", enc(gz, enc(zl, plain)), false, plain},
		{"br", "br", []byte("\x0b\x03\x80{}\x03"), false, nil},
		{"not gzip", "gzip", plain, false, nil},
		{"cut short", "gzip", enc(gz, plain)[:10], true, nil},
		{"decodes past the limit", "gzip", enc(gz, big), false, nil},
		{"none", "", plain, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Response{Status: 200, Header: http.Header{}, Body: tc.body, Size: int64(len(tc.body)), Truncated: tc.truncated, Sum: sha256.Sum256(tc.body)}
			if tc.ce != "" {
				r.Header.Set("Content-Encoding", tc.ce)
			}
			got := decoded(r, 1000)
			if tc.want == nil {
				if got != r {
					t.Fatalf("decoded to %q, want the response as sent", got.Body)
				}
				return
			}
			if !bytes.Equal(got.Body, tc.want) || got.Size != int64(len(tc.want)) || got.Sum != sha256.Sum256(tc.want) {
				t.Fatalf("decoded to %q (size %d), want %q", got.Body, got.Size, tc.want)
			}
			if got.Header.Get("Content-Encoding") != r.Header.Get("Content-Encoding") || !bytes.Equal(r.Body, tc.body) {
				t.Error("the header or the original response changed")
			}
		})
	}
}
