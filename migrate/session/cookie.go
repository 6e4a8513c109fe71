package session

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/graft-dev/graft/internal/hdrname"
)

// A request can carry several cookies with one name: a subdomain, or a
// path below the app's, can set a second one, and the browser sends
// both. Each framework reads one of them, and Go must read the same one,
// or it decodes another session than Python's, or masks a CSRF token for
// another secret than the one Django checks it against:
//
//   - Django (django.http.cookie.parse_cookie) keeps the last;
//   - Flask (werkzeug's request.cookies, a MultiDict whose get returns
//     the first value) the first.
//
// Go's r.Cookie returns the first cookie whose name and value are valid
// for Go (it skips others that Python reads), so it stands for neither.
// Several Cookie header lines are read as one, joined with "; " in
// order, as graft's WSGI container passes them to Python. The functions
// below split the header as each framework does, and unquote the value
// with Python's algorithm (http.cookies._unquote, which werkzeug 2.2
// copies).

// cookieHeader returns r's Cookie header lines as one.
func cookieHeader(r *http.Request) string {
	lines := r.Header["Cookie"]
	if len(lines) == 1 {
		return lines[0]
	}
	return strings.Join(lines, "; ")
}

// djangoCookie returns the value Django reads for the cookie name, and
// whether there is one: that of the last "name=value" chunk of the
// header split at every ";", key and value stripped of white space.
func djangoCookie(r *http.Request, name string) (string, bool) {
	var val string
	found := false
	for chunk := range strings.SplitSeq(cookieHeader(r), ";") {
		k, v, ok := strings.Cut(chunk, "=")
		if ok && pyStrip(k) == name { // a chunk without "=" has the name ""
			val, found = pyStrip(v), true
		}
	}
	if !found {
		return "", false
	}
	return pyUnquote(val), true
}

// pyStrip is Python's str.strip(): white space is unicode.IsSpace and
// the ASCII separators 0x1c to 0x1f.
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || 0x1c <= r && r <= 0x1f })
}

// flaskCookie returns the value Flask reads for the cookie name, and
// whether there is one: that of the first cookie of the header as
// werkzeug 2.2's _cookie_re reads it. A cookie is a key up to "=" or
// ";", stripped; then, after "=", a quoted string (which may hold ";")
// when only white space follows it up to a ";", else everything up to
// the next ";", white space around it stripped; a key without "=" has the
// value "". Chunks with an empty key are skipped.
func flaskCookie(r *http.Request, name string) (string, bool) {
	h := cookieHeader(r)
	for i := 0; i < len(h); {
		j := i
		for j < len(h) && h[j] != '=' && h[j] != ';' {
			j++
		}
		key := strings.Trim(h[i:j], asciiSpace)
		val, end := "", j+1 // no "=": no value, and the cookie ends at the ";"
		if j < len(h) && h[j] == '=' {
			val, end = werkzeugValue(h, j+1)
		}
		i = end
		if key != "" && key == name {
			return pyUnquote(val), true
		}
	}
	return "", false
}

// asciiSpace is the white space of Python's bytes.strip and of \s in a
// bytes regular expression.
const asciiSpace = " \t\n\r\v\f"

// werkzeugValue reads the value that starts after the "=" at h[i:], and
// returns it with the index after its ";".
func werkzeugValue(h string, i int) (val string, end int) {
	for i < len(h) && strings.IndexByte(asciiSpace, h[i]) >= 0 {
		i++
	}
	if i < len(h) && h[i] == '"' {
		q := i + 1
		for q < len(h) && h[q] != '"' {
			if h[q] == '\\' {
				q++
			}
			q++
		}
		if q < len(h) { // the closing quote
			k := q + 1
			for k < len(h) && strings.IndexByte(asciiSpace, h[k]) >= 0 {
				k++
			}
			if k == len(h) || h[k] == ';' {
				return h[i : q+1], k + 1
			}
		}
	}
	semi := strings.IndexByte(h[i:], ';')
	if semi < 0 {
		semi = len(h) - i
	}
	return strings.TrimRight(h[i:i+semi], asciiSpace), i + semi + 1
}

// pyUnquote is Python's http.cookies._unquote: a value in double quotes
// loses them, and in it "\ooo" (octal, up to \377) is that byte and "\c"
// is c.
func pyUnquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	return unescape(s[1:len(s)-1], false)
}

// unescape replaces in s "\ooo" (octal, up to \377) by that byte and "\c"
// by c, as Python's http.cookies and WebOb unquote cookie values; a final
// lone backslash stays, and so does one before "\n" when newline is set
// (WebOb's pattern, whose "." does not match "\n").
func unescape(s string, newline bool) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) || (newline && s[i+1] == '\n') {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && '0' <= s[i+1] && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// addVaryCookie adds "Cookie" to h's Vary header unless it lists it (or
// "*") already, as Flask and Django do for a response that read or set a
// session or CSRF cookie: a shared cache must not give it to another
// user.
func addVaryCookie(h http.Header) { hdrname.AddVary(h, "Cookie") }
