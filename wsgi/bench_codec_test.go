package wsgi

import (
	"testing"
)

// Benchmarks of the frame codec: what the Go side pays per request to
// frame a request and to read a response head, with allocations. The
// environ encoding of a whole request is BenchmarkEnviron (bench_test.go).

func BenchmarkFrameHeader(b *testing.B) {
	var buf [frameHeaderSize]byte
	h := frameHeader{kind: 1, flags: 2, stream: 3, length: 4096}
	b.ReportAllocs()
	for b.Loop() {
		putFrameHeader(buf[:], h)
		got, err := parseFrameHeader(buf[:])
		if err != nil || got != h {
			b.Fatalf("%+v, %v", got, err)
		}
	}
}

// BenchmarkEnvBlock encodes the environ pairs of a browser-like request
// into a block: the NUL-separated fast form, and the length-prefixed form
// used when a value contains NUL.
func BenchmarkEnvBlock(b *testing.B) {
	pairs := environ(nil, browserRequest(), "", -1)
	withNUL := append(append([]string{}, pairs...), "PATH_INFO", "/a\x00b")
	for _, bc := range []struct {
		name  string
		pairs []string
	}{{"nul-separated", pairs}, {"length-prefixed", withNUL}} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = appendEnv(buf[:0], bc.pairs)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// BenchmarkEnvironPairs builds the environ pairs alone (no encoding).
func BenchmarkEnvironPairs(b *testing.B) {
	r := browserRequest()
	pairs := make([]string, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		pairs = environ(pairs[:0], r, "", -1)
	}
}

// BenchmarkResponseHead decodes the head block of a typical response, as
// the worker writes it.
func BenchmarkResponseHead(b *testing.B) {
	head := []byte("200 OK\x00Content-Type\x00text/html; charset=utf-8\x00Content-Length\x001234\x00Set-Cookie\x00session=abc; HttpOnly; Path=/\x00Vary\x00Cookie")
	b.ReportAllocs()
	for b.Loop() {
		status, headers, err := parseHead(head)
		if err != nil || status != "200 OK" || len(headers) != 8 {
			b.Fatal(status, headers, err)
		}
	}
}
