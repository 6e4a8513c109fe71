package migrate

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CookieLifetimeSlack is how far apart two lifetimes of a cookie may be
// and still count as the same when one of them is read from an Expires
// date (see [Compare]); two Max-Age values are compared exactly. The
// date is read against the moment its response was made (its Date
// header, else [Response].Received), on the one host whose clock both
// sides read (Python's workers are the Go process's children), so the
// slack covers only the one-second resolution of the dates and the time
// an app takes between computing the date and sending its response.
const CookieLifetimeSlack = 5 * time.Second

// cookieAttrs are the Set-Cookie attributes by their folded names, as
// parseCookie writes them.
var cookieAttrs = map[string]string{
	"expires": "Expires", "max-age": "Max-Age", "domain": "Domain", "path": "Path", "secure": "Secure",
	"httponly": "HttpOnly", "samesite": "SameSite", "partitioned": "Partitioned", "priority": "Priority",
}

// lifeKind is what a cookie's lifetime attributes do.
type lifeKind int

const (
	lifeSession lifeKind = iota // neither Max-Age nor Expires: kept until the browser closes
	lifeDeleted                 // Max-Age of 0 or less, or without Max-Age an Expires not after the response
	lifeMaxAge                  // for Max-Age seconds, exactly
	lifeExpires                 // until an Expires date, read as a lifetime against the response's time
	lifeOther                   // an Expires that is not a date: compared as written
)

// cookieShape is what is compared of one Set-Cookie value.
type cookieShape struct {
	// name is the cookie's name, never its value.
	name string
	// attrs are its attributes other than the lifetime, sorted.
	attrs []string
	// base is name and attrs, as one string.
	base   string
	kind   lifeKind
	life   time.Duration // lifeMaxAge (capped at maxLifetime), lifeExpires
	maxAge int64         // lifeMaxAge: the seconds, as written
	text   string        // lifeOther: how it shows
}

// parseCookie returns the shape of the Set-Cookie value v, reading an
// Expires date against ref, the time the response was made. Names are
// written one way, Domain in lower case without a leading dot, SameSite
// and Priority capitalised.
func parseCookie(v string, ref time.Time) cookieShape {
	parts := strings.Split(v, ";")
	name, _, _ := strings.Cut(parts[0], "=")
	var attrs []string
	maxAge, expires, hasExpires := "", "", false
	for _, p := range parts[1:] {
		k, val, hasVal := strings.Cut(strings.TrimSpace(p), "=")
		k, val = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(val)
		if k == "" {
			continue
		}
		canon, known := cookieAttrs[k]
		if !known {
			canon = k
		}
		switch k {
		case "expires":
			expires, hasExpires = val, true
			continue
		case "max-age":
			if validMaxAge(val) { // else ignored, as by a browser
				maxAge = val
			}
			continue
		case "domain":
			val = strings.TrimPrefix(strings.ToLower(val), ".")
		case "samesite", "priority":
			val = strings.ToUpper(val[:min(1, len(val))]) + strings.ToLower(val[min(1, len(val)):])
		case "secure", "httponly", "partitioned":
			hasVal = false
		}
		if hasVal {
			canon += "=" + val
		}
		attrs = append(attrs, canon)
	}
	name = strings.TrimSpace(name)
	slices.Sort(attrs)
	c := cookieShape{name: name, attrs: attrs, base: showCookie(name, attrs)}
	switch {
	case maxAge != "":
		// Browsers obey Max-Age over Expires. A number beyond int64
		// (validMaxAge let only digits through) is cut to the nearest
		// int64, which ParseInt returns with its range error: a lifetime
		// beyond any other, or a deletion.
		n, _ := strconv.ParseInt(maxAge, 10, 64)
		switch {
		case n <= 0:
			c.kind = lifeDeleted
		default:
			c.kind, c.maxAge, c.life = lifeMaxAge, n, time.Duration(min(n, int64(maxLifetime/time.Second)))*time.Second
		}
	case hasExpires:
		t, err := parseCookieTime(expires)
		switch {
		case err != nil:
			c.kind, c.text = lifeOther, "Expires (not a date)"
		case !t.After(ref):
			c.kind = lifeDeleted
		default:
			c.kind, c.life = lifeExpires, t.Sub(ref)
		}
	}
	return c
}

// validMaxAge reports whether v is a Max-Age value a browser takes (RFC
// 6265 section 5.2.2, as RFC 6265bis words it): a DIGIT, or "-" and a
// DIGIT, then DIGITs only. Any other value ("+100", "1.5", "10s", "-",
// "") makes the browser ignore the attribute, so that the cookie's
// lifetime is what its other attributes say.
func validMaxAge(v string) bool {
	digits := strings.TrimPrefix(v, "-")
	if digits == "" {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// sortKind is c's kind, with Max-Age and Expires as one.
func (c cookieShape) sortKind() lifeKind {
	if c.kind == lifeExpires {
		return lifeMaxAge
	}
	return c.kind
}

// maxLifetime caps a Max-Age read as a time.Duration, so that it fits
// one.
const maxLifetime = 100 * 365 * 24 * time.Hour

// lifetime shows c's lifetime, as String writes it among the attributes;
// "" for a session cookie.
func (c cookieShape) lifetime() string {
	switch c.kind {
	case lifeDeleted:
		return "deleted"
	case lifeMaxAge:
		return "Max-Age=" + strconv.FormatInt(c.maxAge, 10)
	case lifeExpires:
		return "Expires in " + strconv.FormatInt(int64(c.life.Round(time.Second)/time.Second), 10) + "s"
	case lifeOther:
		return c.text
	}
	return ""
}

// String shows the cookie: its name and its attributes, lifetime
// included, sorted.
func (c cookieShape) String() string {
	life := c.lifetime()
	if life == "" {
		return c.base
	}
	attrs := append(slices.Clip(c.attrs), life)
	slices.Sort(attrs)
	return showCookie(c.name, attrs)
}

// showCookie writes a cookie's name and its sorted attributes:
// "name (A; B=v)", or the name alone.
func showCookie(name string, attrs []string) string {
	if len(attrs) == 0 {
		return name
	}
	return name + " (" + strings.Join(attrs, "; ") + ")"
}

// sameLifetime reports whether a and b keep their cookies alike: the same
// kind of lifetime, and for lifetimes in seconds the same number of them,
// within CookieLifetimeSlack when either was read from an Expires date.
func sameLifetime(a, b cookieShape) bool {
	live := func(c cookieShape) bool { return c.kind == lifeMaxAge || c.kind == lifeExpires }
	switch {
	case live(a) && live(b):
		if a.kind == lifeMaxAge && b.kind == lifeMaxAge {
			return a.maxAge == b.maxAge
		}
		d := a.life - b.life
		return d <= CookieLifetimeSlack && d >= -CookieLifetimeSlack
	case a.kind != b.kind:
		return false
	}
	return a.text == b.text
}

// responseTime is the time a response was made, which its cookies'
// Expires dates are read against: its Date header, else r.Received, else
// now.
func responseTime(r *Response, now time.Time) time.Time {
	if d := r.Header.Get("Date"); d != "" {
		if t, err := http.ParseTime(d); err == nil {
			return t
		}
	}
	if !r.Received.IsZero() {
		return r.Received
	}
	return now
}

// cookies returns the shapes of r's Set-Cookie headers, sorted by base
// and lifetime (a Max-Age and an Expires by their seconds, so that the
// cookies of one name pair up by what they do).
func cookies(r *Response, now time.Time) []cookieShape {
	vals := r.Header.Values("Set-Cookie")
	ref := responseTime(r, now)
	out := make([]cookieShape, 0, len(vals))
	for _, v := range vals {
		out = append(out, parseCookie(v, ref))
	}
	slices.SortFunc(out, func(a, b cookieShape) int {
		return cmp.Or(strings.Compare(a.base, b.base), cmp.Compare(a.sortKind(), b.sortKind()), cmp.Compare(a.life, b.life),
			cmp.Compare(a.maxAge, b.maxAge), strings.Compare(a.text, b.text))
	})
	return out
}

// compareCookies compares the Set-Cookie headers of py and gr: by the
// cookies set, their names and attributes (never their values), in any
// order, their lifetimes by what they do (see sameLifetime). It returns
// how each side shows, and whether they are the same.
func compareCookies(py, gr *Response) (pv, gv string, same bool) {
	now := time.Now()
	pc, gc := cookies(py, now), cookies(gr, now)
	same = len(pc) == len(gc)
	for i := 0; same && i < len(pc); i++ {
		same = pc[i].base == gc[i].base && sameLifetime(pc[i], gc[i])
	}
	return showCookies(pc), showCookies(gc), same
}

// showCookies shows a side's cookies, "(missing)" when it sets none.
func showCookies(cs []cookieShape) string {
	if len(cs) == 0 {
		return missing
	}
	shown := make([]string, len(cs))
	for i, c := range cs {
		shown[i] = c.String()
	}
	slices.Sort(shown)
	return "cookies: " + strings.Join(shown, ", ")
}

// parseCookieTime reads a cookie's Expires date, in the formats of
// RFC 1123 (and the others of http.ParseTime) and of Netscape's cookies
// (dashes in the date, with a year of four or two digits).
func parseCookieTime(s string) (time.Time, error) {
	t, err := http.ParseTime(s)
	if err != nil {
		t, err = time.Parse("Mon, 02-Jan-2006 15:04:05 MST", s)
	}
	if err != nil {
		t, err = time.Parse("Mon, 02-Jan-06 15:04:05 MST", s)
	}
	return t, err
}
