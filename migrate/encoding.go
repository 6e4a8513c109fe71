package migrate

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// decoded returns r with its body decoded by its Content-Encoding (gzip,
// x-gzip, deflate, br or zstd, applied in the order listed), so that a
// body one side compresses and the other does not (a compression
// middleware on one side, Django's GZipMiddleware, flask-compress) compares
// by what it holds, and is shown decoded. The header is kept as sent:
// Content-Encoding is compared only when it is listed in the headers
// compared. r is returned as it is when it has no such encoding, when its
// body was cut short (Truncated), when it uses another encoding, when it
// does not decode, or when it decodes to more than max bytes (decoding
// stops there: a small body that would decode to gigabytes costs no more
// than max bytes and the decoder's window).
func decoded(r *Response, max int64) *Response {
	ces := r.Header.Values("Content-Encoding")
	if len(ces) == 0 || r.Truncated || len(r.Body) == 0 {
		return r
	}
	var codings []string
	for _, v := range ces {
		for _, c := range strings.Split(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	if len(codings) == 0 {
		return r
	}
	body := r.Body
	for i := len(codings) - 1; i >= 0; i-- { // the last applied first
		b, ok := decode(codings[i], body, max)
		if !ok {
			return r
		}
		body = b
	}
	c := *r
	c.Body, c.Size, c.Sum = body, int64(len(body)), sha256.Sum256(body)
	return &c
}

// zstdMaxWindow is the largest window a zstd body may ask for: 8 MiB, the
// limit RFC 9659 sets for the zstd content coding (a frame asking for more
// is not decoded, and the body is compared as sent).
const zstdMaxWindow = 8 << 20

// decode undoes one content coding of b, reading at most max bytes of
// what it decodes to.
func decode(coding string, b []byte, max int64) ([]byte, bool) {
	var rd io.Reader
	switch coding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, false
		}
		rd = zr
	case "deflate": // zlib, as RFC 9110 says; some servers send raw deflate
		if zr, err := zlib.NewReader(bytes.NewReader(b)); err == nil {
			rd = zr
		} else {
			rd = flate.NewReader(bytes.NewReader(b))
		}
	case "br":
		rd = brotli.NewReader(bytes.NewReader(b)) // a window of 16 MiB at most
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, false
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, false
	}
	out, err := io.ReadAll(io.LimitReader(rd, max+1))
	if err != nil || int64(len(out)) > max {
		return nil, false
	}
	return out, true
}
