package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/graft-dev/graft/wsgi"
)

// Response is one side's response, captured for comparison: what the
// comparer and the [Options].Normalize hook see.
type Response struct {
	// Status is the status code.
	Status int
	// Header holds the response headers.
	Header http.Header
	// Body holds the body, up to [Options].MaxResponseBytes.
	Body []byte
	// Size is the length of the whole body.
	Size int64
	// Truncated is true when the body was longer than Body; such bodies
	// are compared by length and hash only.
	Truncated bool
	// Sum is the SHA-256 of the whole body.
	Sum [sha256.Size]byte
	// Received is when the status and header were written (when the
	// handler returned, for one that wrote nothing); zero when unknown.
	// A Set-Cookie's Expires date is read against the Date header, else
	// against Received, else against the time of the comparison.
	Received time.Time
}

// Diff is one difference between the Python and the Go response.
type Diff struct {
	// Pointer says where: "status", "header:Name", a JSON pointer into the
	// body ("/user/name", "/items/3"), "body:line N" for a line of a text
	// body, or "body" for the body as a whole.
	Pointer string `json:"pointer"`
	// Python and Go are the two values, shortened; "(missing)" when a side
	// has none.
	Python string `json:"python"`
	Go     string `json:"go"`
}

// DefaultCompareHeaders returns the headers compared when neither the
// route nor [Options].CompareHeaders names any: Content-Type, Location,
// Cache-Control and Set-Cookie; Vary and Content-Language, which a
// shared cache and a client read to tell one user's or one language's
// answer from another's (Flask and Django add "Vary: Cookie" once a view
// reads the session, Django's LocaleMiddleware "Vary: Accept-Language"
// and Content-Language); and the security headers that a Python app's
// middleware adds to every answer (Django's SecurityMiddleware and
// XFrameOptionsMiddleware, flask-talisman), which a Go port must keep:
// X-Frame-Options, X-Content-Type-Options, Referrer-Policy,
// Strict-Transport-Security, Content-Security-Policy and
// Cross-Origin-Opener-Policy (missing on both sides is a match). Set-Cookie
// is compared by the names and attributes of the cookies set (Path,
// Domain, Secure, HttpOnly, SameSite, and the lifetime: deleted, Max-Age,
// or an Expires date), never by value, in any order; Vary and
// Content-Language as sets of names (see [Compare]).
func DefaultCompareHeaders() []string {
	return []string{"Content-Type", "Location", "Cache-Control", "Set-Cookie", "Vary", "Content-Language",
		"X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
		"Strict-Transport-Security", "Content-Security-Policy", "Cross-Origin-Opener-Policy"}
}

// CompareOptions tune [Compare].
type CompareOptions struct {
	// Headers are the headers compared; nil means DefaultCompareHeaders().
	Headers []string
	// MaxDiffs caps the differences reported; 0 means 100.
	MaxDiffs int
	// Base is the URL of the request both responses answer (scheme and
	// host included). When set, a Location is compared by where a client
	// following it goes, resolved against Base: "/a" and "http://h/a"
	// (old werkzeug made every Location absolute) are the same for a
	// request to http://h/. Nil: Location is compared as sent.
	Base *url.URL
	// IgnoreVary are header field names (any case) left out of Vary on
	// both sides, so that a Vary that differs only by them matches: a
	// route's ignore entries "Vary: Accept-Language". The other names of
	// Vary are still compared.
	IgnoreVary []string

	// unordered, if not nil, says which JSON arrays (by pointer) are
	// compared as sorted lists: those learned to come in any order
	// (unordered.go).
	unordered func(ptr string) bool
	// noise, if not nil, says which pointers (patterns, see unordered.go)
	// are learned as noise or ignored: left out of the form by which the
	// elements of unordered arrays are paired.
	noise func(ptr string) bool
	// learnOrder: the comparison is of Python against itself, and an
	// array holding the same elements in another order is compared
	// sorted and recorded (comparer.permuted).
	learnOrder bool
}

// missing is how a value absent from one side is shown.
const missing = "(missing)"

// maxShown is the longest value shown in a Diff.
const maxShown = 200

// maxPointer is the longest pointer kept; longer ones are cut.
const maxPointer = 512

// Compare lists the differences between python's and goResp's responses:
// the status, the headers named in o, and the body: JSON structurally
// (key order and whitespace ignored, numbers compared by their exact
// value, so that Python's 1.0 equals Go's 1 and integers beyond 64 bits
// are not rounded; one Diff per JSON pointer), text (text/*,
// XML, JavaScript, HTML) line by line after normalising line endings and
// trailing whitespace, anything else (and truncated bodies) by length and
// SHA-256. The kind of body is taken from Python's Content-Type. The
// bodies of two redirects (301, 302, 303, 307, 308) are not compared, nor
// their Content-Type (werkzeug and Django type every redirect text/html,
// net/http's Redirect only those of GET and HEAD): clients follow
// Location, which is compared as sent, or with o.Base by where it leads
// (see [CompareOptions]). Nor are those of two 416 answers (Range Not
// Satisfiable), with their Content-Type and X-Content-Type-Options: an
// error note to a download manager or a media player, which retries
// without Range and never shows it, written by each framework its own
// way (werkzeug an HTML page, WhiteNoise nothing, net/http a line of
// text with nosniff). The Content-Range of two 416 answers ("bytes
// */LENGTH", the length of the file) and of two 206 answers (the range and
// the length) is compared even when o.Headers does not list it: it is all
// a 416 says, and two builds of a file can agree on the bytes of a range.
//
// Set-Cookie is compared by cookie, in any order: its name and attributes,
// never its value, names of attributes written one way, Domain in lower
// case without a leading dot, SameSite and Priority capitalised. The
// lifetime is compared by what it does in a browser. A cookie deleted
// (Max-Age of 0 or less, or without Max-Age an Expires not after the
// response) shows "deleted" however it is written. Otherwise Max-Age,
// which browsers obey over Expires, shows with its value and an Expires
// beside it is left out; a Max-Age that is not ["-"]DIGIT*DIGIT ("+100",
// "1.5") is ignored, as RFC 6265 section 5.2.2 has browsers do. An
// Expires alone is read as a lifetime against
// the response's Date header (else [Response].Received) and shows as
// "Expires in Ns". Two lifetimes are the same when equal, within
// [CookieLifetimeSlack] when either was read from an Expires date: Flask's
// permanent session cookie (an Expires 31 days on) matches a Go cookie
// with a Max-Age of 31 days, not one of 30.
//
// Vary is compared as the set of header names it lists, in any order,
// letter case, spacing or number of lines, repeats counted once, "*"
// standing alone; Accept-Encoding is left out of it unless o.Headers
// lists Content-Encoding too (bodies are compared decoded: one side may
// compress, and then must vary on Accept-Encoding, and the other not),
// and so are the names of o.IgnoreVary.
// Content-Language is compared as the set of language tags it lists, in
// any letter case.
func Compare(python, goResp *Response, o CompareOptions) []Diff {
	return compare(python, goResp, o).diffs
}

// compare is Compare, returning the comparer with what it found.
func compare(python, goResp *Response, o CompareOptions) *comparer {
	max := o.MaxDiffs
	if max <= 0 {
		max = 100
	}
	c := &comparer{max: max, unordered: o.unordered, noise: o.noise, learnOrder: o.learnOrder}
	if python.Status != goResp.Status {
		c.add("status", strconv.Itoa(python.Status), strconv.Itoa(goResp.Status))
	}
	headers := o.Headers
	if headers == nil {
		headers = DefaultCompareHeaders()
	}
	redirects := redirect(python.Status) && redirect(goResp.Status)
	unsatisfiable := python.Status == http.StatusRequestedRangeNotSatisfiable && goResp.Status == http.StatusRequestedRangeNotSatisfiable
	encoding := slices.ContainsFunc(headers, func(h string) bool { return strings.EqualFold(h, "Content-Encoding") })
	var drop []string
	for _, name := range o.IgnoreVary {
		drop = append(drop, strings.ToLower(strings.TrimSpace(name)))
	}
	for _, h := range headers {
		h = http.CanonicalHeaderKey(h)
		if h == "Content-Type" && (redirects || unsatisfiable) || h == "X-Content-Type-Options" && unsatisfiable {
			continue // the type of the body (and how to read it), which is not compared either
		}
		if h == "Set-Cookie" {
			if pv, gv, same := compareCookies(python, goResp); !same {
				c.add("header:"+h, pv, gv)
			}
			continue
		}
		if h == "Location" && o.Base != nil && sameLocation(python.Header, goResp.Header, o.Base) {
			continue
		}
		if h == "Vary" {
			if pv, gv := varyValue(python.Header.Values(h), encoding, drop), varyValue(goResp.Header.Values(h), encoding, drop); pv != gv {
				c.add("header:"+h, pv, gv)
			}
			continue
		}
		pv, gv := headerValue(python.Header, h), headerValue(goResp.Header, h)
		if pv != gv {
			c.add("header:"+h, pv, gv)
		}
	}
	partial := python.Status == goResp.Status && (unsatisfiable || python.Status == http.StatusPartialContent)
	if partial && !slices.ContainsFunc(headers, func(h string) bool { return strings.EqualFold(h, "Content-Range") }) {
		// The range a 206 holds and the file length it and a 416 state:
		// the bytes alone can agree for two builds of a file, and a 416
		// says nothing else (its body is not compared).
		if pv, gv := headerValue(python.Header, "Content-Range"), headerValue(goResp.Header, "Content-Range"); pv != gv {
			c.add("header:Content-Range", pv, gv)
		}
	}
	if !redirects && !unsatisfiable {
		c.body(python, goResp)
	}
	return c
}

// redirect reports whether status is a redirect to the URL in Location
// (301, 302, 303, 307, 308), whose body is a courtesy note that a client
// following the redirect never shows: frameworks write different ones
// (werkzeug an HTML page, Django nothing, net/http's Redirect a link),
// so it is not compared, nor is its Content-Type.
func redirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

type comparer struct {
	diffs []Diff
	// patterns holds each diff's pattern: its pointer with "*" for the
	// index of an element of an unordered array (unordered.go), which
	// the noise and ignore lists are matched against.
	patterns []string
	max      int

	unordered  func(ptr string) bool // CompareOptions.unordered
	noise      func(ptr string) bool // CompareOptions.noise
	learnOrder bool                  // CompareOptions.learnOrder
	// permuted are the arrays found in another order while learning.
	permuted []string
	// canonBytes counts the bytes of the canonical forms written to pair
	// elements (unordered.go), bounded by maxCanonBytes.
	canonBytes int
	// reordered: an array learned as unordered came in another order.
	reordered bool
}

func (c *comparer) full() bool { return len(c.diffs) >= c.max }

func (c *comparer) add(ptr, py, gov string) { c.addAt(ptr, ptr, py, gov) }

// addAt adds a difference at ptr whose pattern is pat.
func (c *comparer) addAt(ptr, pat, py, gov string) {
	if c.full() {
		return
	}
	if len(ptr) > maxPointer { // bounded memory for the per-pointer counts
		ptr = cutUTF8(ptr, maxPointer) + "…"
	}
	if len(pat) > maxPointer {
		pat = cutUTF8(pat, maxPointer) + "…"
	}
	c.diffs = append(c.diffs, Diff{Pointer: ptr, Python: shorten(py), Go: shorten(gov)})
	c.patterns = append(c.patterns, pat)
}

func shorten(s string) string { return shortenTo(s, maxShown) }

// shortenTo returns s, or, when longer than n bytes, its first n bytes
// (UTF-8 kept whole) followed by "… (size bytes)".
func shortenTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutUTF8(s, n) + fmt.Sprintf("… (%d bytes)", len(s))
}

// cutUTF8 returns the first n bytes of s, or fewer so as not to cut a
// UTF-8 sequence; s must be longer than n.
func cutUTF8(s string, n int) string {
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

// sameLocation reports whether the Location headers of py and gr lead to
// the same URL, each resolved against base (dot segments removed, as a
// client does); false unless each has one that parses.
func sameLocation(py, gr http.Header, base *url.URL) bool {
	pv, gv := py.Values("Location"), gr.Values("Location")
	if len(pv) != 1 || len(gv) != 1 {
		return false
	}
	pu, perr := url.Parse(pv[0])
	gu, gerr := url.Parse(gv[0])
	return perr == nil && gerr == nil && base.ResolveReference(pu).String() == base.ResolveReference(gu).String()
}

// requestBase returns the URL r was sent to, as the app sees it: the
// scheme of wsgi.url_scheme (wsgi.RequestScheme: the scheme a trusted
// proxy gave, see middleware.TrustProxies, else https over TLS), the Host
// and the request target as sent.
func requestBase(r *http.Request) *url.URL {
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil || r.RequestURI == "" {
		c := *r.URL
		u = &c
	}
	u.Scheme = wsgi.RequestScheme(r)
	if u.Host == "" {
		u.Host = r.Host
	}
	return u
}

// headerValue returns the comparable form of header h (Set-Cookie is
// compared by compareCookies, Vary by varyValue).
func headerValue(hdr http.Header, h string) string {
	vals := hdr.Values(h)
	if len(vals) == 0 {
		return missing
	}
	switch h {
	case "Content-Type":
		mt, params, err := mime.ParseMediaType(strings.Join(vals, ", "))
		if err != nil {
			return strings.ToLower(strings.TrimSpace(strings.Join(vals, ", ")))
		}
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := params[k]
			if k == "charset" {
				v = strings.ToLower(v)
			}
			mt += "; " + k + "=" + v
		}
		return mt
	case "Cache-Control":
		var dirs []string
		for _, v := range vals {
			for _, d := range strings.Split(v, ",") {
				if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
					dirs = append(dirs, d)
				}
			}
		}
		sort.Strings(dirs)
		return strings.Join(dirs, ", ")
	case "Content-Language":
		return languageValue(vals)
	}
	return strings.Join(vals, ", ")
}

// bodyKind is how a body is compared.
type bodyKind int

const (
	kindBytes bodyKind = iota
	kindJSON
	kindText
)

func kindOf(hdr http.Header) bodyKind {
	mt, _, err := mime.ParseMediaType(hdr.Get("Content-Type"))
	if err != nil {
		return kindBytes
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return kindJSON
	case strings.HasPrefix(mt, "text/"), mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/x-www-form-urlencoded":
		return kindText
	}
	return kindBytes
}

func (c *comparer) body(py, gov *Response) {
	if py.Truncated || gov.Truncated {
		c.bytes(py, gov)
		return
	}
	if bytes.Equal(py.Body, gov.Body) {
		return
	}
	switch kindOf(py.Header) {
	case kindJSON:
		pv, perr := decodeJSON(py.Body)
		gv, gerr := decodeJSON(gov.Body)
		switch {
		case perr == nil && gerr == nil:
			c.json("", "", pv, gv)
		case perr == nil:
			c.add("body", "JSON", "not JSON: "+gerr.Error())
		case gerr == nil:
			c.add("body", "not JSON: "+perr.Error(), "JSON")
		default: // neither is JSON: compare them as text
			c.text(py.Body, gov.Body)
		}
	case kindText:
		c.text(py.Body, gov.Body)
	default:
		c.bytes(py, gov)
	}
}

func (c *comparer) bytes(py, gov *Response) {
	if py.Size != gov.Size || py.Sum != gov.Sum {
		c.add("body", sizeHash(py), sizeHash(gov))
	}
}

func sizeHash(r *Response) string {
	return fmt.Sprintf("%d bytes, sha256 %s", r.Size, hex.EncodeToString(r.Sum[:8]))
}

// decodeJSON decodes one JSON value, keeping numbers as written.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

// escapePointer escapes a key for a JSON pointer (RFC 6901).
func escapePointer(k string) string {
	if !strings.ContainsAny(k, "~/") {
		return k
	}
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func rootOr(p string) string {
	if p == "" {
		return "body"
	}
	return p
}

// json compares pv and gv at ptr, whose pattern is pat (see unordered.go).
func (c *comparer) json(ptr, pat string, pv, gv any) {
	if c.full() {
		return
	}
	switch p := pv.(type) {
	case map[string]any:
		g, ok := gv.(map[string]any)
		if !ok {
			c.addAt(rootOr(ptr), rootOr(pat), render(pv), render(gv))
			return
		}
		keys := make([]string, 0, len(p)+len(g))
		for k := range p {
			keys = append(keys, k)
		}
		for k := range g {
			if _, dup := p[k]; !dup {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := ptr + "/" + escapePointer(k)
			subpat := sub
			if pat != ptr {
				subpat = pat + "/" + escapePointer(k)
			}
			a, inP := p[k]
			b, inG := g[k]
			switch {
			case !inP:
				c.addAt(sub, subpat, missing, render(b))
			case !inG:
				c.addAt(sub, subpat, render(a), missing)
			default:
				c.json(sub, subpat, a, b)
			}
		}
	case []any:
		g, ok := gv.([]any)
		if !ok {
			c.addAt(rootOr(ptr), rootOr(pat), render(pv), render(gv))
			return
		}
		c.array(ptr, pat, p, g)
	case json.Number:
		g, ok := gv.(json.Number)
		if !ok || !numbersEqual(p, g) {
			c.addAt(rootOr(ptr), rootOr(pat), render(pv), render(gv))
		}
	default: // string, bool, nil
		if pv != gv {
			c.addAt(rootOr(ptr), rootOr(pat), render(pv), render(gv))
		}
	}
}

// numbersEqual compares two JSON numbers by their exact decimal value,
// whatever their size or form: 1, 1.0, 1e0 and 10E-1 are equal, and so are
// 0 and -0.0, while 10000000000000000001 and 10000000000000000000 (beyond
// int64, where float64 would round them alike) are not.
func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	ai, aerr := strconv.ParseInt(string(a), 10, 64)
	bi, berr := strconv.ParseInt(string(b), 10, 64)
	if aerr == nil && berr == nil {
		return ai == bi
	}
	ad, aok := parseDecimal(string(a))
	bd, bok := parseDecimal(string(b))
	return aok && bok && ad == bd
}

// decimal is the exact value of a JSON number literal in a canonical
// form: digits (no leading or trailing zero; "" for zero) times ten to
// the power exp, negated when neg. An exponent beyond ±2^62, which no
// program writes, is kept as written (bigExp, with the shift in exp):
// such numbers are equal when written with the same exponent.
type decimal struct {
	neg    bool
	digits string
	exp    int64
	bigExp string
}

// parseDecimal returns the canonical form of a JSON number literal; ok is
// false if s is not one. It works on the text, so that a number with a
// huge exponent or a million digits costs no more than reading it.
func parseDecimal(s string) (d decimal, ok bool) {
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	mant, exp, hasExp := s, "", false
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp, hasExp = s[:i], s[i+1:], true
	}
	expSign := ""
	if exp != "" && (exp[0] == '+' || exp[0] == '-') {
		expSign, exp = exp[:1], exp[1:]
	}
	ip, frac, dot := strings.Cut(mant, ".")
	if !allDigits(ip) || dot && !allDigits(frac) || hasExp && !allDigits(exp) {
		return decimal{}, false
	}
	digits := strings.TrimLeft(ip+frac, "0")
	if digits == "" {
		return decimal{}, true // zero, whatever its sign and exponent
	}
	d.digits = strings.TrimRight(digits, "0")
	d.exp = int64(len(digits)-len(d.digits)) - int64(len(frac))
	if !hasExp {
		return d, true
	}
	if e, err := strconv.ParseInt(expSign+exp, 10, 64); err == nil && e > -1<<62 && e < 1<<62 {
		d.exp += e
		return d, true
	}
	if expSign == "+" {
		expSign = ""
	}
	d.bigExp = expSign + strings.TrimLeft(exp, "0")
	return d, true
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// render shows a JSON value compactly.
func render(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// normalizeText splits a text body into lines with line endings and
// trailing whitespace removed, and trailing blank lines dropped.
func normalizeText(b []byte) []string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\f\v")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func (c *comparer) text(pb, gb []byte) {
	if bytes.Equal(pb, gb) {
		return
	}
	pl, gl := normalizeText(pb), normalizeText(gb)
	if slices.Equal(pl, gl) {
		return
	}
	for i := 0; i < len(pl) || i < len(gl); i++ {
		a, b := missing, missing
		if i < len(pl) {
			a = pl[i]
		}
		if i < len(gl) {
			b = gl[i]
		}
		if a != b {
			c.add("body:line "+strconv.Itoa(i+1), a, b)
			if c.full() {
				return
			}
		}
	}
}

// wholeRequestHeaders are the request headers with which a client asks
// for less than the whole representation: nothing (304 Not Modified) when
// its validators are current, part of it (206) with Range, under If-Range
// only while they are. A request without them asks for the whole answer.
var wholeRequestHeaders = [...]string{"If-None-Match", "If-Modified-Since", "If-Range", "Range"}

// validatorsOnly reports whether python's and goResp's answers to a GET or
// HEAD with the request header req differ only in whether the validators
// the client sent are current, each side judging them right by the ETag
// and Last-Modified it sends itself: one answered 304 (or, to a Range
// with If-Range, 206) because they match its own, the other 200 (or 206)
// because they do not. Two implementations that serve the same file with
// validators of their own (werkzeug's ETag, WhiteNoise's, Static's) do
// this for every conditional request a browser sends, with the
// validators of the side it last heard from: not a difference in what
// they serve, but it cannot be told from one either without the whole
// answer of each side, which the caller then asks for (the request
// without [wholeRequestHeaders]) and compares instead.
//
// A side whose status its own validators do not explain (a 304 for an
// ETag it does not send, a 200 to an If-Modified-Since its Last-Modified
// is not after, a 206 for an If-Range it does not match) makes this false:
// a Go port that never answers 304 stays a mismatch. So do other status
// pairs (404 against 200, 412, 416), and a 206 against a 200 without
// If-Range (one side ignored Range: not about validators).
func validatorsOnly(method string, req http.Header, python, goResp *Response) bool {
	if method != http.MethodGet && method != http.MethodHead || python.Status == goResp.Status {
		return false
	}
	if req.Get("If-None-Match") == "" && req.Get("If-Modified-Since") == "" && req.Get("If-Range") == "" {
		return false
	}
	for _, s := range [...]int{python.Status, goResp.Status} {
		if s != http.StatusOK && s != http.StatusPartialContent && s != http.StatusNotModified {
			return false
		}
	}
	if python.Status != http.StatusNotModified && goResp.Status != http.StatusNotModified && req.Get("If-Range") == "" {
		return false // 206 against 200: one side ignored Range
	}
	return ownValidators(req, python) && ownValidators(req, goResp)
}

// ownValidators reports whether r's status is what the conditions of req
// call for when judged by r's own ETag and Last-Modified (RFC 9110
// section 13.2.2: If-None-Match, else If-Modified-Since; then Range under
// If-Range); a 200 is always allowed once the answer is not 304, as a
// server may ignore Range.
func ownValidators(req http.Header, r *Response) bool {
	switch r.Status {
	case http.StatusNotModified:
		return notModified(req, r.Header)
	case http.StatusPartialContent:
		ir := req.Get("If-Range")
		return req.Get("Range") != "" && !notModified(req, r.Header) && (ir == "" || ifRangeMatches(ir, r.Header))
	case http.StatusOK:
		return !notModified(req, r.Header)
	}
	return false
}

// notModified reports whether req's If-None-Match (weak comparison) or,
// without one, its If-Modified-Since holds against the validators in hdr:
// a GET or HEAD so conditioned is answered 304.
func notModified(req, hdr http.Header) bool {
	if inm := req.Values("If-None-Match"); len(inm) > 0 {
		etag := strings.TrimPrefix(strings.TrimSpace(hdr.Get("Etag")), "W/")
		for _, v := range inm {
			for tag := range strings.SplitSeq(v, ",") {
				tag = strings.TrimSpace(tag)
				if tag == "*" || etag != "" && strings.TrimPrefix(tag, "W/") == etag {
					return true
				}
			}
		}
		return false
	}
	ims, err := http.ParseTime(req.Get("If-Modified-Since"))
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(hdr.Get("Last-Modified"))
	return err == nil && !lm.After(ims)
}

// ifRangeMatches reports whether If-Range value v holds against the
// validators in hdr: a strong ETag equal to the response's, or a date
// equal to its Last-Modified.
func ifRangeMatches(v string, hdr http.Header) bool {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		return v == strings.TrimSpace(hdr.Get("Etag"))
	}
	if strings.HasPrefix(v, "W/") {
		return false // a weak validator never allows a range
	}
	d, err := http.ParseTime(v)
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(hdr.Get("Last-Modified"))
	return err == nil && lm.Equal(d)
}
