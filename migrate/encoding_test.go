package migrate

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
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
	br := func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) }
	zs := func(w io.Writer) io.WriteCloser { zw, _ := zstd.NewWriter(w); return zw }
	// A zstd frame of one raw block holding plain, whose header asks for a
	// window of 2^log bytes.
	zsWindow := func(log byte) []byte {
		return append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, (log - 10) << 3, byte(len(plain)<<3 | 1), 0, 0}, plain...)
	}
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
		{"br", "br", enc(br, plain), false, plain},
		{"zstd", "zstd", enc(zs, plain), false, plain},
		{"br then gzip", "br, gzip", enc(gz, enc(br, plain)), false, plain},
		{"not br", "br", plain, false, nil},
		{"not zstd", "zstd", plain, false, nil},
		{"br past the limit", "br", enc(br, big), false, nil},
		{"zstd past the limit", "zstd", enc(zs, big), false, nil},
		{"zstd with a window of 8 MiB", "zstd", zsWindow(23), false, plain},
		{"zstd with a window over 8 MiB", "zstd", zsWindow(24), false, nil},
		{"an encoding not known", "compress", plain, false, nil},
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

// TestDecodedBomb: a small body that decodes to far more than the limit
// (a decompression bomb, 32 MiB of zeros in a few kilobytes) is compared
// as sent, and decoding it allocates about the limit and the decoder's
// window (8 MiB for zstd, 4 MiB here for br), not what it decodes to.
func TestDecodedBomb(t *testing.T) {
	const size = 32 << 20
	const max = 1 << 20
	zeros := make([]byte, 1<<20)
	// repeat has w encode 1 MiB of zeros, and repeats that: gzip members
	// and zstd frames one after the other decode as one body.
	repeat := func(w func(io.Writer) io.WriteCloser) []byte {
		var buf bytes.Buffer
		zw := w(&buf)
		zw.Write(zeros)
		zw.Close()
		return bytes.Repeat(buf.Bytes(), size/len(zeros))
	}
	for _, tc := range []struct {
		coding string
		body   func() []byte
	}{
		{"gzip", func() []byte {
			return repeat(func(w io.Writer) io.WriteCloser { zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed); return zw })
		}},
		{"zstd", func() []byte {
			return repeat(func(w io.Writer) io.WriteCloser {
				zw, _ := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest))
				return zw
			})
		}},
		{"br", func() []byte {
			var buf bytes.Buffer
			zw := brotli.NewWriterLevel(&buf, brotli.BestSpeed)
			for range size / len(zeros) {
				zw.Write(zeros)
			}
			zw.Close()
			return buf.Bytes()
		}},
	} {
		t.Run(tc.coding, func(t *testing.T) {
			body := tc.body()
			r := &Response{Status: 200, Header: http.Header{"Content-Encoding": {tc.coding}}, Body: body, Size: int64(len(body)), Sum: sha256.Sum256(body)}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			got := decoded(r, max)
			runtime.ReadMemStats(&after)
			if got != r {
				t.Fatalf("a %d-byte body decoding to %d bytes was decoded (%d bytes), want it compared as sent", len(body), size, len(got.Body))
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 24<<20 {
				t.Fatalf("decoding a %d-byte %s body with a limit of %d allocated %d bytes", len(body), tc.coding, max, n)
			}
			t.Logf("%d-byte body: %d bytes allocated", len(body), after.TotalAlloc-before.TotalAlloc)
		})
	}
}
