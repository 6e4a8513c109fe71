package wsgi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
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
		// The values, against net/url and the request.
		env := map[string]string{}
		for i := 0; i < len(pairs); i += 2 {
			env[pairs[i]] = pairs[i+1]
		}
		// (A target net/http reads: origin-form.)
		if target, _, _ := strings.Cut(uri, "#"); strings.HasPrefix(target, "/") {
			if env["REQUEST_URI"] != target || env["RAW_URI"] != target {
				t.Fatalf("REQUEST_URI %q, RAW_URI %q for the target %q", env["REQUEST_URI"], env["RAW_URI"], uri)
			}
			rawPath, rawQuery, _ := strings.Cut(target, "?")
			if env["QUERY_STRING"] != rawQuery {
				t.Fatalf("QUERY_STRING %q for the target %q", env["QUERY_STRING"], target)
			}
			if decoded, err := url.PathUnescape(rawPath); err == nil && env["SCRIPT_NAME"]+env["PATH_INFO"] != decoded {
				t.Fatalf("SCRIPT_NAME %q + PATH_INFO %q, but the path %q decodes to %q", env["SCRIPT_NAME"], env["PATH_INFO"], rawPath, decoded)
			}
		}
		if sn, pi := env["SCRIPT_NAME"], env["PATH_INFO"]; sn != "" && pi != "" && pi[0] != '/' {
			t.Fatalf("SCRIPT_NAME %q with PATH_INFO %q: the app's path is not under its mount", sn, pi)
		}
		if env["graft.request_id"] != hval {
			t.Fatalf("graft.request_id %q, set to %q", env["graft.request_id"], hval)
		}
		if h := r.Host; h != "" && env["HTTP_HOST"] != h || h == "" && seen["HTTP_HOST"] {
			t.Fatalf("HTTP_HOST %q for Host %q", env["HTTP_HOST"], h)
		}
		if extraHeaders > 0 {
			ck := http.CanonicalHeaderKey(hname)
			key := envKeyFor(ck)
			if ck == "Content-Type" {
				key = "CONTENT_TYPE"
			}
			sep := ","
			if ck == "Cookie" {
				sep = "; "
			}
			if v, ok := env[key]; ok && ck != "Accept" && v != hval+sep+hval+"2" {
				t.Fatalf("%s = %q for the header %s: %q", key, v, ck, r.Header[ck])
			}
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

// FuzzFrameConnData sends a sequence of DATA, HINTS and END frames of a
// few streams, written in arbitrary pieces, through a socketpair and reads
// them back as the worker's reader does: every part is one frame or a run
// of consecutive DATA frames of one stream, with their bytes in order and
// intact (while earlier parts are still held), and at most the limit
// unless it is a single frame.
func FuzzFrameConnData(f *testing.F) {
	f.Add([]byte{0, 1, 3, 5, 0, 1, 7, 7, 0, 2, 1, 1, 1, 1, 0, 0, 2, 2, 0, 0}, []byte{3, 50, 9}, uint16(100))
	f.Add([]byte{0, 1, 255, 255, 0, 1, 255, 255, 0, 1, 255, 255, 0, 1, 255, 255, 0, 1, 255, 255, 2, 1, 0, 0}, []byte{200}, uint16(0))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 1, 1, 3, 1, 0, 0, 0, 1, 2, 2}, []byte{}, uint16(1))
	f.Fuzz(func(t *testing.T, spec, cuts []byte, max16 uint16) {
		limit := int(max16)<<4 + 1
		type frame struct {
			kind   byte
			stream uint16
			data   []byte
		}
		var frames []frame
		var wire []byte
		for i := 0; i+3 < len(spec) && len(frames) < 64; i += 4 {
			fr := frame{stream: uint16(spec[i+1]%3 + 1)}
			switch spec[i] % 4 {
			case 0, 1:
				fr.kind = frameData
				fr.data = make([]byte, int(spec[i+2])*int(spec[i+3]))
				for j := range fr.data {
					fr.data[j] = byte(len(frames)*7 + j)
				}
			case 2:
				fr.kind = frameEnd
			case 3:
				fr.kind = frameHints
				fr.data = []byte("Link\x00</s.css>")
			}
			frames = append(frames, fr)
			wire = append(wire, testFrame(fr.kind, fr.stream, fr.data)...)
		}
		c, peer := socketPairConns(t)
		go func() {
			defer syscall.Shutdown(peer, syscall.SHUT_WR)
			b := wire
			for i := 0; len(b) > 0; i++ {
				n := len(b)
				if len(cuts) > 0 {
					// At most about 64 writes: tiny pieces of a large
					// input would only make the fuzzer slow.
					n = min(n, max(int(cuts[i%len(cuts)])*97+1, len(wire)/64))
				}
				if _, err := syscall.Write(peer, b[:n]); err != nil {
					return
				}
				b = b[n:]
			}
		}()
		ids, parts := dataParts(t, newFrameConn(c), limit, 3)
		next := 0 // the first frame not yet matched
		for i, p := range parts {
			if next == len(frames) {
				t.Fatalf("part %d (%d bytes) beyond the frames sent", i, len(p.Data))
			}
			fr := frames[next]
			if fr.stream != ids[i] {
				t.Fatalf("part %d: stream %d, want frame %d's %d", i, ids[i], next, fr.stream)
			}
			switch fr.kind {
			case frameData:
				if p.Kind != PartData {
					t.Fatalf("part %d: kind %d, want DATA (frame %d)", i, p.Kind, next)
				}
				var want []byte
				n := 0
				for next < len(frames) && frames[next].kind == frameData && frames[next].stream == ids[i] &&
					(n == 0 || len(want) < len(p.Data) && len(frames[next].data) > 0) {
					want = append(want, frames[next].data...)
					next++
					n++
				}
				if !bytes.Equal(p.Data, want) {
					t.Fatalf("part %d: %d bytes that are not frames %d..%d (%d bytes)", i, len(p.Data), next-n, next-1, len(want))
				}
				if n > 1 && len(p.Data) > limit {
					t.Fatalf("part %d: %d frames in %d bytes, over the maximum %d", i, n, len(p.Data), limit)
				}
			case frameEnd:
				if p.Kind != PartEnd {
					t.Fatalf("part %d: kind %d, want END (frame %d)", i, p.Kind, next)
				}
				next++
			case frameHints:
				if p.Kind != PartHints {
					t.Fatalf("part %d: kind %d, want HINTS (frame %d)", i, p.Kind, next)
				}
				next++
			}
		}
		if next != len(frames) {
			t.Fatalf("%d of %d frames arrived", next, len(frames))
		}
	})
}
