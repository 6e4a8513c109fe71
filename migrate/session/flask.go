package session

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Flask defaults, from Flask's configuration and SecureCookieSessionInterface.
const (
	// FlaskCookieName is Flask's SESSION_COOKIE_NAME default.
	FlaskCookieName = "session"
	// FlaskSalt is the salt of SecureCookieSessionInterface.
	FlaskSalt = "cookie-session"
	// FlaskMaxAge is Flask's PERMANENT_SESSION_LIFETIME default, 31 days.
	FlaskMaxAge = 31 * 24 * time.Hour
)

// Flask reads and writes Flask's default session cookie
// (flask.sessions.SecureCookieSessionInterface). Its zero value is not
// usable: SecretKey is required. A Flask is safe for concurrent use once
// set up.
type Flask struct {
	// SecretKey is the app's SECRET_KEY. Cookies are signed with it.
	SecretKey string

	// FallbackKeys are older keys that cookies are still accepted with,
	// as Flask 3.1's SECRET_KEY_FALLBACKS: rotate by making the old key a
	// fallback and a new one SecretKey, in Go and Python alike. Empty
	// strings are skipped, never a key.
	FallbackKeys []string

	// MaxAge is the app's PERMANENT_SESSION_LIFETIME: Flask rejects older
	// cookies, permanent or not. Zero means FlaskMaxAge, Flask's default.
	MaxAge time.Duration

	// CookieName is the app's SESSION_COOKIE_NAME. Empty means
	// FlaskCookieName.
	CookieName string

	// Salt is the session interface's salt. Empty means FlaskSalt; only
	// apps with their own session interface change it.
	Salt string

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

func (f *Flask) salt() string {
	if f.Salt == "" {
		return FlaskSalt
	}
	return f.Salt
}

func (f *Flask) maxAge() time.Duration {
	if f.MaxAge == 0 {
		return FlaskMaxAge
	}
	return f.MaxAge
}

func (f *Flask) cookieName() string {
	if f.CookieName == "" {
		return FlaskCookieName
	}
	return f.CookieName
}

// signature is itsdangerous's: HMAC-SHA1 keyed by HMAC-SHA1(key, salt)
// (key_derivation="hmac"), in base64url.
func (f *Flask) signature(key, value string) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(f.salt()))
	m = hmac.New(sha1.New, m.Sum(nil))
	m.Write([]byte(value))
	return b64.EncodeToString(m.Sum(nil))
}

// Decode verifies a session cookie's value and returns the session in it.
// A value that is malformed, not signed by SecretKey or a fallback key,
// older than MaxAge or dated in the future is rejected with
// [ErrMalformed], [ErrBadSignature] or [ErrExpired], and nothing in it is
// decoded; a payload that is not Flask's tagged JSON object is
// [ErrPayload].
func (f *Flask) Decode(value string) (Session, error) {
	ks, err := keys(f.SecretKey, f.FallbackKeys)
	if err != nil {
		return nil, err
	}
	signed, sig, ok := cutLast(value, ".")
	if !ok {
		return nil, fmt.Errorf("%w: Flask session has no signature", ErrMalformed)
	}
	payload, ts, ok := cutLast(signed, ".")
	if !ok {
		return nil, fmt.Errorf("%w: Flask session has no timestamp", ErrMalformed)
	}
	verified := false
	for _, k := range ks {
		if equalSig(sig, f.signature(k, signed)) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, fmt.Errorf("%w: Flask session not signed with this app's key and salt, or tampered with", ErrBadSignature)
	}
	tb, err := b64.DecodeString(ts)
	if err != nil || len(tb) > 8 {
		return nil, fmt.Errorf("%w: bad Flask session timestamp", ErrMalformed)
	}
	var buf [8]byte
	copy(buf[8-len(tb):], tb)
	signedAt := int64(binary.BigEndian.Uint64(buf[:]))
	age := nowFunc(f.Now).Unix() - signedAt
	if age < 0 {
		return nil, fmt.Errorf("%w: Flask session signed %d s in the future", ErrExpired, -age)
	}
	if max := int64(f.maxAge() / time.Second); age > max {
		return nil, fmt.Errorf("%w: Flask session is %d s old, max age is %d s", ErrExpired, age, max)
	}
	data, err := decodePayload(payload)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(data) {
		// itsdangerous decodes the payload as strict UTF-8: Flask reads
		// no session where encoding/json would put U+FFFD.
		return nil, fmt.Errorf("%w: Flask session payload is not UTF-8", ErrPayload)
	}
	tree, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	v, err := untag(tree)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: Flask session is not a dict but a %T", ErrPayload, v)
	}
	return Session(m), nil
}

// Encode returns the value of a session cookie holding s, signed with
// SecretKey and timestamped now, that Flask's session interface opens:
// Python pages then see the same session. Values are encoded as the
// Python values Flask would have stored (see [Session]), also inside
// slices, arrays and string-keyed maps of any element type
// ([]uuid.UUID, map[string]time.Time ...); other Go types (structs,
// types with a MarshalJSON or MarshalText method) go through
// encoding/json, which gives Python plain JSON values. A value nested
// deeper than 256 levels, or one that holds itself, is an error.
func (f *Flask) Encode(s Session) (string, error) {
	if f.SecretKey == "" {
		return "", ErrNoKey
	}
	tree, err := tag(map[string]any(s), 0)
	if err != nil {
		return "", err
	}
	if tree == nil {
		tree = map[string]any{}
	}
	data, err := encodeJSON(tree)
	if err != nil {
		return "", err
	}
	ts := nowFunc(f.Now).Unix()
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(ts))
	i := 0
	for i < len(buf) && buf[i] == 0 {
		i++
	}
	signed := encodePayload(data, true) + "." + b64.EncodeToString(buf[i:])
	return signed + "." + f.signature(f.SecretKey, signed), nil
}

// Load returns the session of r, from its cookie CookieName (from the
// first one when r has several with that name, the one Flask reads). With
// no such cookie, or an empty one, it returns an empty session and no
// error, as Flask starts a new session; a cookie that Decode rejects is an
// error.
func (f *Flask) Load(r *http.Request) (Session, error) {
	v, _ := flaskCookie(r, f.cookieName())
	if v == "" {
		return Session{}, nil
	}
	return f.Decode(v)
}

// Cookie returns the session cookie holding s as Flask's defaults set it:
// path "/", HttpOnly, and, when the session is permanent (its "_permanent"
// key is true), an expiry MaxAge from now; otherwise a browser-session
// cookie. An empty session is, as Flask saves a session emptied by
// session.clear(), a cookie that deletes the session cookie (empty value,
// Max-Age=0, an expiry in 1970). Change its Path, Domain, Secure and
// SameSite to match the app's SESSION_COOKIE_* settings before setting
// it: a deletion only reaches the cookie with the same path and domain.
func (f *Flask) Cookie(s Session) (*http.Cookie, error) {
	if f.SecretKey == "" {
		return nil, ErrNoKey
	}
	if len(s) == 0 {
		return &http.Cookie{Name: f.cookieName(), Path: "/", HttpOnly: true,
			MaxAge: -1, Expires: time.Unix(0, 0).UTC()}, nil
	}
	v, err := f.Encode(s)
	if err != nil {
		return nil, err
	}
	c := &http.Cookie{Name: f.cookieName(), Value: v, Path: "/", HttpOnly: true}
	if p, _ := s["_permanent"].(bool); p {
		c.Expires = nowFunc(f.Now).Add(f.maxAge()).UTC()
	}
	return c, nil
}

// Save sets the session cookie holding s on w, as [Flask.Cookie] makes
// it; for an empty session (logging out), it deletes the cookie, as
// Flask does. Like Flask, it adds "Cookie" to the response's Vary header.
func (f *Flask) Save(w http.ResponseWriter, s Session) error {
	c, err := f.Cookie(s)
	if err != nil {
		return err
	}
	http.SetCookie(w, c)
	addVaryCookie(w.Header())
	return nil
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
