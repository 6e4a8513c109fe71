package session

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// Session is a decoded session dict. JSON objects are map[string]any,
// arrays []any, numbers json.Number (so that Python integers of any size
// survive a round trip through Go), and Flask's tagged values are [Tuple],
// []byte, [Markup], uuid.UUID and time.Time (in UTC, to the second: Flask
// stores HTTP dates). A nil Session encodes as an empty one.
type Session map[string]any

// Unmarshal stores the session in v as encoding/json stores a document in
// v, the document being the session with Flask's tagged values in their
// plain JSON form ([Tuple] an array, []byte base64, [Markup] a string,
// uuid.UUID its string, time.Time RFC 3339). It is the easy way to read a
// session into a struct:
//
//	var s struct {
//		Cart map[string]int `json:"cart"`
//	}
//	err := sess.Unmarshal(&s)
func (s Session) Unmarshal(v any) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	return nil
}

// maxPayload bounds a decompressed payload. Only payloads whose signature
// verified are decompressed, so this guards against a buggy signer, not an
// attacker; cookies are 4 KiB, and Django's stored sessions are rarely
// more than a few KiB.
const maxPayload = 8 << 20

// b64 is base64url without padding, as both itsdangerous and Django write
// it.
var b64 = base64.RawURLEncoding

// decodePayload returns the bytes of a payload in base64url, zlib-
// decompressed when it starts with ".".
func decodePayload(p string) ([]byte, error) {
	compressed := len(p) > 0 && p[0] == '.'
	if compressed {
		p = p[1:]
	}
	data, err := b64.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url: %v", ErrPayload, err)
	}
	if !compressed {
		return data, nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: compressed payload is not zlib: %v", ErrPayload, err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("%w: compressed payload is not zlib: %v", ErrPayload, err)
	}
	if len(out) > maxPayload {
		return nil, fmt.Errorf("%w: payload larger than %d bytes once decompressed", ErrPayload, maxPayload)
	}
	return out, nil
}

// minCompress is the smallest payload encodePayload compresses. Smaller
// ones fit in a cookie either way, and setting up a zlib compressor costs
// far more (hundreds of microseconds, most of a megabyte of garbage) than
// signing them.
const minCompress = 512

// encodePayload is the inverse of decodePayload. Like both frameworks, it
// compresses only when that saves at least two bytes; unlike them, only
// payloads of minCompress bytes or more (the frameworks read both forms).
func encodePayload(data []byte, compress bool) string {
	if compress && len(data) >= minCompress {
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf) // level 6, Python's zlib.compress default
		zw.Write(data)
		zw.Close()
		if buf.Len() < len(data)-1 {
			return "." + b64.EncodeToString(buf.Bytes())
		}
	}
	return b64.EncodeToString(data)
}

// decodeJSON decodes a JSON document with numbers as json.Number, and
// nothing after it.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrPayload, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON document", ErrPayload)
	}
	return v, nil
}

// encodeJSON writes v as compact JSON with every non-ASCII character as a
// \u escape, as Python's json.dumps does by default (ensure_ascii).
// Django's JSONSerializer needs it: it decodes payloads as latin-1.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("session: cannot encode the session as JSON: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return asciiJSON(b), nil
}

// asciiJSON replaces the non-ASCII characters of a JSON document, which
// can only be inside strings, by \u escapes (surrogate pairs above
// U+FFFF).
func asciiJSON(b []byte) []byte {
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r < utf8.RuneSelf:
			out = append(out, b[0])
		case r > 0xFFFF:
			r -= 0x10000
			out = appendU(out, 0xD800+(r>>10))
			out = appendU(out, 0xDC00+(r&0x3FF))
		default:
			out = appendU(out, r)
		}
		b = b[n:]
	}
	return out
}

func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
}

// equalSig compares two signatures in constant time.
func equalSig(a, b string) bool {
	return hmac.Equal([]byte(a), []byte(b))
}

// nowFunc returns now, or time.Now when it is nil.
func nowFunc(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// keys returns the key then the fallbacks, or ErrNoKey. An empty fallback
// is skipped: it is what []string{os.Getenv("OLD_SECRET_KEY")} gives with
// no rotation under way, and a value signed with the empty key is one
// anybody can forge.
func keys(key string, fallbacks []string) ([]string, error) {
	if key == "" {
		return nil, ErrNoKey
	}
	ks := make([]string, 1, 1+len(fallbacks))
	ks[0] = key
	for _, k := range fallbacks {
		if k != "" {
			ks = append(ks, k)
		}
	}
	return ks, nil
}
