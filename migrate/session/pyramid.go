package session

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Pyramid defaults, from pyramid.session.SignedCookieSessionFactory
// (Pyramid 2.0) and webob.cookies.SignedSerializer.
const (
	// PyramidCookieName is the factory's cookie_name default.
	PyramidCookieName = "session"
	// PyramidSalt is the factory's salt default.
	PyramidSalt = "pyramid.session."
	// PyramidHashAlg is the factory's hashalg default.
	PyramidHashAlg = "sha512"
	// PyramidTimeout is the factory's timeout default, 1200 seconds.
	PyramidTimeout = 1200 * time.Second
)

// Pyramid reads and writes the cookie of Pyramid's
// SignedCookieSessionFactory (pyramid.session, Pyramid 2.0, with its
// default JSONSerializer). Its zero value is not usable: SecretKey is
// required. A Pyramid is safe for concurrent use once set up.
//
// The cookie is webob's SignedSerializer: base64url, without padding, of
// an HMAC of the serialized value (SHA-512 by default, keyed by the salt
// followed by the secret, no key derivation) followed by the value; the
// value is the JSON array [accessed, created, session], two Unix times in
// seconds (accessed an integer when Pyramid writes it, created a float)
// and the session dict. A session that nobody accessed for longer than
// Timeout is an empty one for Pyramid: Go rejects it with [ErrExpired].
// Values are read as webob reads them, base64 that is not canonical
// included (junk characters, the standard alphabet, padding).
type Pyramid struct {
	// SecretKey is the factory's secret. Cookies are signed with it.
	SecretKey string

	// FallbackKeys are older secrets that cookies are still accepted
	// with. Pyramid itself has no key rotation (it reads one secret):
	// during a rotation, Go accepts the cookies the old secret signed,
	// and Python, with the new secret, starts new sessions for them.
	// Empty strings are skipped, never a key.
	FallbackKeys []string

	// Salt is the factory's salt. Empty means PyramidSalt.
	Salt string

	// HashAlg is the factory's hashalg, a name hashlib.new takes: md5,
	// sha1, sha224, sha256, sha384, sha512, sha512_224, sha512_256,
	// sha3_224, sha3_256, sha3_384 or sha3_512. Empty means
	// PyramidHashAlg.
	HashAlg string

	// Timeout is the factory's timeout: a cookie whose accessed time is
	// older is rejected with [ErrExpired], as Pyramid then starts an empty
	// session. Zero means PyramidTimeout, Pyramid's default; a negative
	// value means none (timeout=None). Pyramid accepts accessed times in
	// the future, and so does Go.
	Timeout time.Duration

	// CookieName is the factory's cookie_name. Empty means
	// PyramidCookieName.
	CookieName string

	// MaxAge is the factory's max_age, for [Pyramid.Cookie]: the cookie's
	// Max-Age. Zero means none, Pyramid's default (a browser-session
	// cookie).
	MaxAge time.Duration

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

func (p *Pyramid) salt() string {
	if p.Salt == "" {
		return PyramidSalt
	}
	return p.Salt
}

func (p *Pyramid) cookieName() string {
	if p.CookieName == "" {
		return PyramidCookieName
	}
	return p.CookieName
}

func (p *Pyramid) timeout() time.Duration {
	if p.Timeout == 0 {
		return PyramidTimeout
	}
	return p.Timeout
}

// pyramidHashes are the hashlib.new names Pyramid's hashalg can be.
var pyramidHashes = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha224": sha256.New224, "sha256": sha256.New,
	"sha384": sha512.New384, "sha512": sha512.New, "sha512_224": sha512.New512_224,
	"sha512_256": sha512.New512_256,
	"sha3_224":   func() hash.Hash { return sha3.New224() },
	"sha3_256":   func() hash.Hash { return sha3.New256() },
	"sha3_384":   func() hash.Hash { return sha3.New384() },
	"sha3_512":   func() hash.Hash { return sha3.New512() },
}

func (p *Pyramid) hash() (func() hash.Hash, error) {
	name := strings.ToLower(p.HashAlg)
	if name == "" {
		name = PyramidHashAlg
	}
	h, ok := pyramidHashes[name]
	if !ok {
		return nil, fmt.Errorf("session: unsupported Pyramid hashalg %q", p.HashAlg)
	}
	return h, nil
}

// hmacKey is SignedSerializer's salted_secret: salt + secret, in latin-1
// when both are latin-1 text, else in UTF-8.
func (p *Pyramid) hmacKey(secret string) []byte {
	s := p.salt() + secret
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			return []byte(s)
		}
		out = append(out, byte(r))
	}
	return out
}

func (p *Pyramid) sign(h func() hash.Hash, secret string, data []byte) []byte {
	m := hmac.New(h, p.hmacKey(secret))
	m.Write(data)
	return m.Sum(nil)
}

// Decode verifies a session cookie's value and returns the session in it.
// A value that is malformed, not signed by SecretKey or a fallback key,
// or not accessed for longer than Timeout is rejected with
// [ErrMalformed], [ErrBadSignature] or [ErrExpired], and nothing in it is
// decoded; a payload that is not Pyramid's JSON [accessed, created,
// session] (a session of the PickleSerializer, Pyramid 1's default) is
// [ErrPayload].
func (p *Pyramid) Decode(value string) (Session, error) {
	s, _, _, err := p.DecodeTimes(value)
	return s, err
}

// DecodeTimes is [Pyramid.Decode], and also returns the session's times:
// when it was last accessed (session.accessed, which Timeout counts from)
// and created (session.created).
func (p *Pyramid) DecodeTimes(value string) (s Session, accessed, created time.Time, err error) {
	ks, err := keys(p.SecretKey, p.FallbackKeys)
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	h, err := p.hash()
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	raw, ok := webobBase64(value)
	size := h().Size()
	if !ok || len(raw) < size {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("%w: Pyramid session is not base64url of a signature and a value", ErrMalformed)
	}
	sig, data := raw[:size], raw[size:]
	verified := false
	for _, k := range ks {
		if hmac.Equal(sig, p.sign(h, k, data)) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("%w: Pyramid session not signed with this secret, salt and hashalg, or tampered with", ErrBadSignature)
	}
	if len(data) > 0 && data[0] == 0x80 {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("%w: Pyramid session is pickled (PickleSerializer), which Go cannot read", ErrPayload)
	}
	if !utf8.Valid(data) {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("%w: Pyramid session is not UTF-8", ErrPayload)
	}
	tree, err := decodeJSON(data)
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	arr, ok := tree.([]any)
	if !ok || len(arr) != 3 {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("%w: Pyramid session is not [accessed, created, session]", ErrPayload)
	}
	acc, ok1 := pyTime(arr[0])
	cre, ok2 := pyTime(arr[1])
	m, ok3 := arr[2].(map[string]any)
	if !ok1 || !ok2 || !ok3 {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("%w: Pyramid session is not [accessed, created, session]", ErrPayload)
	}
	if t := p.timeout(); t > 0 {
		// Pyramid: now - renewed > timeout, in float seconds.
		now := nowFunc(p.Now)
		age := float64(now.UnixNano())/1e9 - acc
		if age > t.Seconds() {
			return nil, time.Time{}, time.Time{}, fmt.Errorf("%w: Pyramid session not accessed for %.0f s, timeout is %.0f s", ErrExpired, age, t.Seconds())
		}
	}
	return Session(m), floatTime(acc), floatTime(cre), nil
}

// webobBase64 decodes a cookie value as SignedSerializer.loads does:
// bytes_(value) (latin-1: a character beyond U+00FF fails), padded with
// "=" to a multiple of 4, then base64.urlsafe_b64decode, which reads the
// standard alphabet too and, not validating, skips characters of
// neither (and "=" before the last two of a group), and stops at the
// padding that ends a group (binascii.a2b_base64, strict_mode=False).
// Pyramid writes canonical base64url; this reads the values Pyramid
// reads that are not.
func webobBase64(value string) ([]byte, bool) {
	b := make([]byte, 0, len(value)+3)
	for _, r := range value {
		if r > 0xFF { // utf8.RuneError for invalid UTF-8 too: not a str
			return nil, false
		}
		b = append(b, byte(r))
	}
	for n := len(b); n%4 != 0; n++ {
		b = append(b, '=')
	}
	out := make([]byte, 0, len(b)*3/4)
	quad, pads := 0, 0
	var left byte
	for _, c := range b {
		if c == '=' {
			if quad >= 2 {
				pads++
				if quad+pads >= 4 {
					return out, true
				}
			}
			continue
		}
		var v byte
		switch {
		case 'A' <= c && c <= 'Z':
			v = c - 'A'
		case 'a' <= c && c <= 'z':
			v = c - 'a' + 26
		case '0' <= c && c <= '9':
			v = c - '0' + 52
		case c == '-' || c == '+':
			v = 62
		case c == '_' || c == '/':
			v = 63
		default:
			continue
		}
		pads = 0
		switch quad {
		case 0:
			left, quad = v, 1
		case 1:
			out = append(out, left<<2|v>>4)
			left, quad = v&0x0f, 2
		case 2:
			out = append(out, left<<4|v>>2)
			left, quad = v&0x03, 3
		case 3:
			out = append(out, left<<6|v)
			left, quad = 0, 0
		}
	}
	return out, quad == 0
}

// pyTime reads a JSON number as Pyramid's float(): seconds since the
// epoch.
func pyTime(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// floatTime is the time of f seconds since the epoch, to the
// microsecond (time.time()'s precision).
func floatTime(f float64) time.Time {
	if f > 1e12 || f < -1e12 { // beyond any real date: no overflow
		return time.Unix(int64(f), 0)
	}
	return time.UnixMicro(int64(math.Round(f * 1e6)))
}

// Encode returns the value of a session cookie holding s, signed with
// SecretKey, accessed and created now, that Pyramid's session factory
// opens: Python views then see the same session. s must hold JSON values
// only.
func (p *Pyramid) Encode(s Session) (string, error) {
	return p.EncodeCreated(s, time.Time{})
}

// EncodeCreated is [Pyramid.Encode] for a session created at created (as
// [Pyramid.DecodeTimes] returned it), accessed now: what Pyramid writes
// when a view changes an existing session, or reads it past the
// factory's reissue_time. A zero created means now.
func (p *Pyramid) EncodeCreated(s Session, created time.Time) (string, error) {
	if p.SecretKey == "" {
		return "", ErrNoKey
	}
	h, err := p.hash()
	if err != nil {
		return "", err
	}
	now := nowFunc(p.Now)
	if created.IsZero() {
		created = now
	}
	if s == nil {
		s = Session{}
	}
	// Pyramid writes accessed as int(time.time()), created as time.time().
	cre := strconv.FormatFloat(float64(created.UnixMicro())/1e6, 'f', -1, 64)
	if !strings.Contains(cre, ".") {
		cre += ".0"
	}
	acc := json.Number(strconv.FormatInt(now.Unix(), 10))
	data, err := encodeJSON([]any{acc, json.Number(cre), map[string]any(s)})
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(append(p.sign(h, p.SecretKey, data), data...)), nil
}

// Load returns the session of r, from its cookie CookieName (from the
// last one when r has several with that name, the one webob reads). With
// no such cookie, or an empty one, it returns an empty session and no
// error, as Pyramid starts a new session; a cookie that Decode rejects is
// an error, and so is a Cookie header that webob fails on (a cookie whose
// value is not UTF-8: [ErrMalformed]).
func (p *Pyramid) Load(r *http.Request) (Session, error) {
	v, _, err := webobCookie(r, p.cookieName())
	if err != nil {
		return nil, err
	}
	if v == "" {
		return Session{}, nil
	}
	return p.Decode(v)
}

// Cookie returns the session cookie holding s as the factory's defaults
// set it: path "/", SameSite=Lax, no HttpOnly, no Secure, and a Max-Age
// of MaxAge when it is set. An empty session is a cookie holding an empty
// session, as Pyramid writes after session.invalidate(). Change its Path,
// Domain, Secure, HttpOnly and SameSite to match the factory's options
// before setting it.
func (p *Pyramid) Cookie(s Session) (*http.Cookie, error) {
	v, err := p.Encode(s)
	if err != nil {
		return nil, err
	}
	c := &http.Cookie{Name: p.cookieName(), Value: v, Path: "/", SameSite: http.SameSiteLaxMode}
	if p.MaxAge > 0 {
		c.MaxAge = int(p.MaxAge / time.Second)
		c.Expires = nowFunc(p.Now).Add(p.MaxAge).UTC()
	}
	return c, nil
}

// Save sets the session cookie holding s on w, as [Pyramid.Cookie] makes
// it. Pyramid adds no Vary header.
func (p *Pyramid) Save(w http.ResponseWriter, s Session) error {
	c, err := p.Cookie(s)
	if err != nil {
		return err
	}
	http.SetCookie(w, c)
	return nil
}

// webobCookieRe is webob's _rx_cookie (webob.cookies, 1.8), with Python's
// bytes \s spelled out.
var webobCookieRe = func() *regexp.Regexp {
	legal := `[\w\d`
	for _, c := range "~!@#$%^&*()_+=-`.?|:/(){}<>'" {
		legal += `\` + string(c) // re.escape: every one literal, "-" too
	}
	legal += `]`
	quoted := `"(?:\\"|.)*?"`
	expires := `\w{3},[ \t\n\r\f\v][\w\d-]{9,11}[ \t\n\r\f\v][\d:]{8}[ \t\n\r\f\v]GMT`
	unquoted := `(?:` + legal + `|\\(?:[0-3][0-7][0-7]|.))*`
	return regexp.MustCompile(`(` + legal + `+?)[ \t\n\r\f\v]*=[ \t\n\r\f\v]*(` + quoted + `|` + expires + `|` + unquoted + `)`)
}()

// webobCookie returns the value webob's request.cookies (which Pyramid's
// session reads) has for the cookie name, and whether there is one: the
// header read as bytes with webob's cookie regex, the last match with
// that name kept, its value unquoted by webob's _unquote. webob fails on
// a header where a cookie with a valid name has a value that is not
// UTF-8 (Pyramid answers 500): so does webobCookie, with ErrMalformed.
func webobCookie(r *http.Request, name string) (string, bool, error) {
	// Latin-1 to UTF-8, so that "." matches one byte of the header, as
	// in Python's bytes regex.
	h := latin1([]byte(cookieHeader(r)))
	var val string
	found := false
	for _, m := range webobCookieRe.FindAllSubmatch(h, -1) {
		k := toLatin1(string(m[1]))
		if !webobValidName(k) {
			continue
		}
		v := webobUnquote(toLatin1(string(m[2])))
		if !utf8.ValidString(v) {
			return "", false, fmt.Errorf("%w: the value of the cookie %q is not UTF-8, which webob (Pyramid) fails on", ErrMalformed, k)
		}
		if k == name {
			val, found = v, true
		}
	}
	return val, found, nil
}

// webobValidName is webob's _valid_cookie_name: a token, not starting
// with "$", not a cookie attribute's name.
func webobValidName(k string) bool {
	if k == "" || k[0] == '$' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	switch strings.ToLower(k) {
	case "path", "comment", "domain", "max-age", "expires", "secure", "httponly", "samesite":
		return false
	}
	return true
}

// toLatin1 is the inverse of latin1 for the text it returns.
func toLatin1(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf }) {
		return s
	}
	var b bytes.Buffer
	for _, r := range s {
		b.WriteByte(byte(r))
	}
	return b.String()
}

// webobUnquote is webob's _unquote: the value loses its double quotes, if
// any, and "\ooo" (octal, up to \377) is that byte and "\c" is c, quoted
// or not.
func webobUnquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return unescape(s, true)
}
