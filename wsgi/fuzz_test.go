package wsgi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// validToken reports whether s is an RFC 9110 token, as net/http requires
// of header names it accepts.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// FuzzEnviron feeds arbitrary request bytes into environ, then checks the
// environ block round trip: unique keys, no injected keys, values intact.
func FuzzEnviron(f *testing.F) {
	f.Add("/a%00REMOTE_USER%00admin", "x=%00&y", "X-Auth_User", "evil", "example.com:80", "/app")
	f.Add("/caf\xc3\xa9/%2F", "q=\xe9", "X-Latin", "caf\xe9", "[::1]:8080", "")
	f.Add("/", "", "Cookie", "a=1\x00REMOTE_USER\x00x", "", "/")
	f.Add("*", "", "Connection", "X-A", "h", "")
	f.Fuzz(func(t *testing.T, path, query, hname, hval, host, mount string) {
		uri := path
		if query != "" {
			uri += "?" + query
		}
		r := &http.Request{
			Method:     "GET",
			RequestURI: uri,
			URL:        &url.URL{Path: "/"},
			Proto:      "HTTP/1.1",
			Header:     http.Header{},
			Host:       host,
			RemoteAddr: "192.0.2.1:1234",
		}
		extraHeaders := 0
		if validToken(hname) {
			ck := http.CanonicalHeaderKey(hname)
			r.Header[ck] = []string{hval, hval + "2"}
			extraHeaders++
		}
		r.Header["Accept"] = []string{"a"}
		ctx := WithEnviron(context.Background(), "graft.request_id", hval)
		r = r.WithContext(WithMount(ctx, mount))
		pairs := environ(nil, r, MountPrefix(r.Context()), -1)
		if len(pairs)%2 != 0 {
			t.Fatalf("odd pairs %q", pairs)
		}
		allowed := map[string]bool{"REQUEST_METHOD": true, "SCRIPT_NAME": true, "PATH_INFO": true, "QUERY_STRING": true,
			"REQUEST_URI": true, "RAW_URI": true, "SERVER_NAME": true, "SERVER_PORT": true, "SERVER_PROTOCOL": true,
			"REMOTE_ADDR": true, "REMOTE_PORT": true, "wsgi.url_scheme": true, "HTTP_HOST": true, "HTTPS": true,
			"CONTENT_TYPE": true, "CONTENT_LENGTH": true, "graft.request_id": true}
		seen := map[string]bool{}
		for i := 0; i < len(pairs); i += 2 {
			k := pairs[i]
			if seen[k] {
				t.Fatalf("duplicate key %q in %q", k, pairs)
			}
			seen[k] = true
			if !allowed[k] && !strings.HasPrefix(k, "HTTP_") {
				t.Fatalf("unexpected key %q", k)
			}
			if strings.HasPrefix(k, "HTTP_") && strings.Contains(k[5:], "_") && strings.Contains(hname, "_") {
				if http.CanonicalHeaderKey(hname) != "" && envKeyFor(http.CanonicalHeaderKey(hname)) == k {
					t.Fatalf("underscore header %q became %q", hname, k)
				}
			}
		}
		if _, ok := seen["REMOTE_USER"]; ok {
			t.Fatal("REMOTE_USER injected")
		}
		block, lp := appendEnv(nil, pairs)
		got, err := parseEnv(block, lp)
		if err != nil {
			t.Fatalf("parseEnv: %v", err)
		}
		if !slices.Equal(got, pairs) && !(len(got) == 0 && len(pairs) == 0) {
			t.Fatalf("round trip changed the environ:\n got %q\nwant %q", got, pairs)
		}
		hasNUL := slices.ContainsFunc(pairs, func(s string) bool { return strings.IndexByte(s, 0) >= 0 })
		if lp != hasNUL {
			t.Fatalf("length-prefixed %v, NUL present %v", lp, hasNUL)
		}
	})
}

// FuzzFrame checks the frame header, environ block and response head codecs.
func FuzzFrame(f *testing.F) {
	f.Add([]byte{18, 0, 1, 0, 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte("200 OK\x00Content-Type\x00text/plain"))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Add([]byte("a\x00b\x00\x00"))
	f.Add([]byte("\x05\x00\x00\x00\x00\x00\x00\x00200 OK\x00Content-Length\x005")) // a sized HEAD
	f.Add([]byte("\x06\x00\x00\x00200 OKbody"))                                    // a RESP
	f.Add([]byte("Link\x00</a.css>; rel=preload\x00Link\x00</b.js>"))              // HINTS
	f.Fuzz(func(t *testing.T, data []byte) {
		// Frame header: decode, re-encode, compare.
		if h, err := parseFrameHeader(data); err == nil {
			var b [frameHeaderSize]byte
			putFrameHeader(b[:], h)
			if !bytes.Equal(b[:], data[:frameHeaderSize]) {
				t.Fatalf("header round trip %x -> %+v -> %x", data[:8], h, b)
			}
			if h.length > maxFrame {
				t.Fatalf("accepted oversized frame %d", h.length)
			}
		} else if len(data) >= frameHeaderSize {
			if h.length <= maxFrame {
				t.Fatalf("rejected a valid header %x: %v", data[:8], err)
			}
		}
		// Environ block: any strings, split at 0xFF, round trip.
		parts := strings.Split(string(data), "\xff")
		if len(parts)%2 != 0 {
			parts = append(parts, "")
		}
		block, lp := appendEnv(nil, parts)
		got, err := parseEnv(block, lp)
		if err != nil {
			t.Fatalf("parseEnv(appendEnv(%q)): %v", parts, err)
		}
		if !slices.Equal(got, parts) {
			t.Fatalf("environ round trip:\n got %q\nwant %q", got, parts)
		}
		// Arbitrary blocks must never panic.
		parseEnv(data, false)
		parseEnv(data, true)
		// Response frames: never panic; what decodes is well formed.
		for _, kind := range []byte{frameResp, frameHead, frameData, frameFile, frameEnd, frameError, frameHints} {
			for _, flags := range []byte{0, 1} {
				p, err := decodePart(frameHeader{kind: kind, flags: flags}, data)
				if err != nil {
					if !errors.Is(err, ErrProtocol) {
						t.Fatalf("decodePart(%d, %q): %v does not wrap ErrProtocol", kind, data, err)
					}
					continue
				}
				if p.Length < 0 || p.Offset < 0 || p.Count < 0 || len(p.Header)%2 != 0 {
					t.Fatalf("decodePart(%d, %d, %q) = %+v", kind, flags, data, p)
				}
				if len(data) > 0 && len(p.Data) > 0 && &p.Data[0] == &data[len(data)-len(p.Data)] {
					t.Fatalf("decodePart(%d, %q): Data aliases the frame", kind, data)
				}
			}
		}
		// Response heads: never panic; a parsed head re-joins to the input.
		if status, hdr, err := parseHead(data); err == nil {
			joined := strings.Join(append([]string{status}, hdr...), "\x00")
			if joined != string(data) || len(hdr)%2 != 0 {
				t.Fatalf("parseHead(%q) = %q %q", data, status, hdr)
			}
		}
	})
}
