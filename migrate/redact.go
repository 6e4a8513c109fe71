package migrate

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// DefaultRedact returns the words that make a name secret when no
// [Options].Redact adds to them: a header, query parameter, or JSON or
// form field whose name contains one of them (ignoring case, "-", "_"
// and ".") has its value replaced by "[redacted]" in recorded mismatches.
// They cover Cookie, Set-Cookie, Authorization, Proxy-Authorization,
// X-Api-Key, X-Auth-Token, X-CSRF-Token, X-Amz-Security-Token,
// ?access_token=, ?signature=, a "password" field, a session id, and the
// like.
func DefaultRedact() []string {
	return []string{"authorization", "cookie", "token", "secret", "password", "passwd", "passphrase", "pwd",
		"key", "session", "signature", "credential", "csrf", "xsrf", "jwt", "cvv", "cvc"}
}

// redacted replaces a secret value in a recorded mismatch.
const redacted = "[redacted]"

// urlHeaders are the headers whose values are URLs: their query
// parameters are redacted by name.
var urlHeaders = []string{"Location", "Content-Location", "Referer"}

// redactor is the one rule that hides secrets in recorded mismatches: a
// name is secret when its folded form contains one of the words.
type redactor struct {
	words []string // folded
}

// newRedactor returns the rule of DefaultRedact plus extra and the tester
// override header.
func newRedactor(extra []string, overrideHeader string) *redactor {
	r := &redactor{}
	for _, w := range append(append(DefaultRedact(), extra...), overrideHeader) {
		if f := fold(w); f != "" {
			r.words = append(r.words, f)
		}
	}
	return r
}

// fold lower-cases name and drops the separators that spell one name
// several ways (access_token, access-token, accessToken).
func fold(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// secret reports whether the value of name must be hidden.
func (r *redactor) secret(name string) bool {
	f := fold(name)
	for _, w := range r.words {
		if strings.Contains(f, w) {
			return true
		}
	}
	return false
}

// header returns a copy of h with the values of secret headers redacted,
// and the secret query parameters of URL headers.
func (r *redactor) header(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for k, vs := range out {
		for i, v := range vs {
			vs[i] = r.headerValue(k, v)
		}
	}
	return out
}

// headerValue returns the value v of header name, redacted.
func (r *redactor) headerValue(name, v string) string {
	if r.secret(name) {
		return redacted
	}
	for _, u := range urlHeaders {
		if strings.EqualFold(name, u) {
			return r.url(v)
		}
	}
	return v
}

// url redacts the secret parameters of a URL (or of a request target),
// in its query and in a fragment made of parameters (an OAuth implicit
// grant's #access_token=...), leaving the rest as written.
func (r *redactor) url(u string) string {
	u, frag, hasFrag := strings.Cut(u, "#")
	if hasFrag {
		if strings.Contains(frag, "=") {
			frag = r.query(frag)
		}
		frag = "#" + frag
	}
	path, query, ok := strings.Cut(u, "?")
	if !ok {
		return u + frag
	}
	return path + "?" + r.query(query) + frag
}

// query redacts the values of secret parameters of a URL-encoded query
// (or form body), leaving the rest as written.
func (r *redactor) query(q string) string {
	parts := strings.Split(q, "&")
	changed := false
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if r.secret(name) {
			parts[i] = k + "=" + redacted
			changed = true
		}
	}
	if !changed {
		return q
	}
	return strings.Join(parts, "&")
}

// body redacts the secret fields of a body of the media type of hdr's
// Content-Type: JSON (by object key, whatever the nesting), URL-encoded
// forms (by name) and HTML (the <input> and <meta> tags named secret).
// Other bodies are returned as they are.
func (r *redactor) body(hdr http.Header, b []byte) []byte {
	switch mt, _, _ := mime.ParseMediaType(hdr.Get("Content-Type")); {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return r.json(b)
	case mt == "application/x-www-form-urlencoded":
		return []byte(r.query(string(b)))
	case mt == "text/html" || mt == "application/xhtml+xml":
		return []byte(r.html(string(b)))
	}
	return b
}

// htmlTag finds the <input> and <meta> tags of an HTML text; htmlAttr, the
// attributes of a tag (name, and the value quoted or not).
var (
	htmlTag  = regexp.MustCompile(`(?i)<(?:input|meta)\b[^>]*>`)
	htmlAttr = regexp.MustCompile(`(?i)([a-z-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)`)
)

// html redacts the value (content, for <meta>) of the <input> and <meta>
// tags of an HTML text whose name is secret: a form's hidden CSRF token
// (Django's csrfmiddlewaretoken, Flask-WTF's csrf_token), a prefilled
// password, <meta name="csrf-token">. The rest is left as written.
func (r *redactor) html(s string) string {
	return htmlTag.ReplaceAllStringFunc(s, func(tag string) string {
		attrs := htmlAttr.FindAllStringSubmatchIndex(tag, -1)
		secret := false
		for _, a := range attrs {
			if k := strings.ToLower(tag[a[2]:a[3]]); k == "name" || k == "id" || k == "property" {
				if r.secret(strings.Trim(tag[a[4]:a[5]], `"'`)) {
					secret = true
				}
			}
		}
		if !secret {
			return tag
		}
		var b strings.Builder
		last := 0
		for _, a := range attrs {
			if k := strings.ToLower(tag[a[2]:a[3]]); k == "value" || k == "content" {
				b.WriteString(tag[last:a[4]])
				b.WriteString(`"` + redacted + `"`)
				last = a[5]
			}
		}
		b.WriteString(tag[last:])
		return b.String()
	})
}

// json replaces the value of every secret key of the JSON text b (an
// object or array as a whole) with "[redacted]", keeping the rest as
// written. A text cut short (a body kept in part) is redacted up to the
// cut; a secret value the cut goes through is replaced up to the end.
func (r *redactor) json(b []byte) []byte {
	type frame struct{ object, wantKey bool }
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []byte
	last := 0 // b[:last] is in out
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			stack[n-1].wantKey = false
			if key, _ := tok.(string); r.secret(key) {
				start := int(dec.InputOffset())
				for start < len(b) && strings.IndexByte(" \t\r\n:", b[start]) >= 0 {
					start++
				}
				var raw json.RawMessage
				err := dec.Decode(&raw)
				end := int(dec.InputOffset())
				if err != nil {
					end = len(b)
				}
				out = append(append(out, b[last:start]...), `"`+redacted+`"`...)
				last = end
				if err != nil {
					break
				}
				stack[n-1].wantKey = true
			}
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'), json.Delim('}'):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			valueDone()
		default:
			valueDone()
		}
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// secretSegment returns the index of the first segment of JSON pointer p
// that is a secret key, or -1.
func (r *redactor) secretSegment(segs []string) int {
	for i, seg := range segs {
		if r.secret(strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")) {
			return i
		}
	}
	return -1
}

// pointer reports whether a JSON pointer goes through a secret key.
func (r *redactor) pointer(p string) bool {
	return strings.HasPrefix(p, "/") && r.secretSegment(strings.Split(p[1:], "/")) >= 0
}

// shownPointer returns JSON pointer p as it is shown: cut after its first
// secret key, with "[redacted]" for the rest. The keys below a secret key
// are part of its value, which is hidden: a secret used as a key (a map
// of tokens, of sessions by id) would otherwise show in the pointer.
// Other pointers ("header:Name", "status", those without a secret key
// or ending with one) are returned as they are.
func (r *redactor) shownPointer(p string) string {
	if !strings.HasPrefix(p, "/") {
		return p
	}
	segs := strings.Split(p[1:], "/")
	if i := r.secretSegment(segs); i >= 0 && i < len(segs)-1 {
		return "/" + strings.Join(segs[:i+1], "/") + "/" + redacted
	}
	return p
}

// diffs returns copies of the differences between py and gr with their
// secret values redacted: of a secret header, a URL header's secret
// parameters, a JSON pointer through a secret key (the pointer shown as
// shownPointer says; differences under one secret key become one), the
// secret keys inside JSON values, and the secret fields of a line of a
// form or HTML body.
func (r *redactor) diffs(ds []Diff, py *Response) []Diff {
	out := make([]Diff, 0, len(ds))
	// The shown pointers through a secret key, and their index in out.
	at := map[string]int{}
	mt, _, _ := mime.ParseMediaType(py.Header.Get("Content-Type")) // the kind compared
	form := mt == "application/x-www-form-urlencoded"
	html := mt == "text/html" || mt == "application/xhtml+xml"
	for _, d := range ds {
		one := func(v string) string {
			switch {
			case v == missing:
				return v
			case strings.EqualFold(d.Pointer, "header:Set-Cookie"):
				return v // the names and attributes of the cookies set: Compare never shows values
			case strings.HasPrefix(d.Pointer, "header:"):
				return r.headerValue(d.Pointer[len("header:"):], v)
			case strings.HasPrefix(d.Pointer, "/"):
				if r.pointer(d.Pointer) {
					return redacted
				}
				return string(r.json([]byte(v)))
			case strings.HasPrefix(d.Pointer, "body:line ") && form:
				return r.query(v)
			case strings.HasPrefix(d.Pointer, "body:line ") && html:
				return r.html(v)
			}
			return v
		}
		ptr := r.shownPointer(d.Pointer)
		if ptr != d.Pointer {
			if j, ok := at[ptr]; ok { // another key under the same secret key
				if out[j].Python != one(d.Python) || out[j].Go != one(d.Go) {
					out[j].Python, out[j].Go = redacted, redacted
				}
				continue
			}
			at[ptr] = len(out)
		}
		out = append(out, Diff{Pointer: ptr, Python: one(d.Python), Go: one(d.Go)})
	}
	return out
}
