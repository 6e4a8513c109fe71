package session

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"time"
)

// Django defaults, from django.conf.global_settings and
// django.contrib.sessions.
const (
	// DjangoCookieName is Django's SESSION_COOKIE_NAME default.
	DjangoCookieName = "sessionid"
	// DjangoMaxAge is Django's SESSION_COOKIE_AGE default, two weeks.
	DjangoMaxAge = 14 * 24 * time.Hour
	// DjangoSigningSalt is the salt of django.core.signing.dumps and loads.
	DjangoSigningSalt = "django.core.signing"
	// DjangoCookieSessionSalt is the salt of the signed-cookies session
	// backend (django.contrib.sessions.backends.signed_cookies).
	DjangoCookieSessionSalt = "django.contrib.sessions.backends.signed_cookies"
	// DjangoStoredSessionSalt is the salt of the session_data that the
	// database, cache and file session backends store: "django.contrib.sessions."
	// and the SessionStore class's __qualname__.
	DjangoStoredSessionSalt = "django.contrib.sessions.SessionStore"
)

// DjangoSigner signs and verifies values as django.core.signing's
// TimestampSigner does, and objects as signing.dumps and signing.loads do.
// Its zero value is not usable: SecretKey is required. A DjangoSigner is
// safe for concurrent use once set up.
//
// Values of request.get_signed_cookie(name, salt=s) are read with
// SecretKey "django.http.cookies" + SECRET_KEY (the fallback keys
// prefixed the same way) and Salt name + s.
type DjangoSigner struct {
	// SecretKey is the project's SECRET_KEY. Values are signed with it.
	SecretKey string

	// FallbackKeys are older keys that values are still accepted with,
	// as Django 4.1's SECRET_KEY_FALLBACKS. Empty strings are skipped,
	// never a key.
	FallbackKeys []string

	// Salt namespaces the signatures. Empty means DjangoSigningSalt, the
	// default of signing.dumps and signing.loads. (A Signer or
	// TimestampSigner made with no salt uses its class's dotted path,
	// "django.core.signing.TimestampSigner".)
	Salt string

	// Algorithm is the hash of the signatures Go writes and accepts:
	// "sha256", Django's default since 3.1, when empty; or "sha1", for
	// projects on DEFAULT_HASHING_ALGORITHM = "sha1" (Django 3.1 and 3.2).
	Algorithm string

	// LegacySHA1 also accepts SHA-1 signatures, as Django 3.1 and 3.2 do
	// (their legacy_algorithm) so that values signed before an upgrade
	// stay valid. Django 4.0 and later reject them: leave it false for
	// them.
	LegacySHA1 bool

	// Untimed signs and verifies as django.core.signing.Signer does, with
	// no timestamp (value:signature), rather than as TimestampSigner.
	// Such values never expire: Unsign and Loads refuse a maxAge.
	Untimed bool

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

func (s *DjangoSigner) salt() string {
	if s.Salt == "" {
		return DjangoSigningSalt
	}
	return s.Salt
}

func (s *DjangoSigner) hash() (func() hash.Hash, error) {
	switch s.Algorithm {
	case "", "sha256":
		return sha256.New, nil
	case "sha1":
		return sha1.New, nil
	}
	return nil, fmt.Errorf("session: unsupported Django signing algorithm %q (want sha256 or sha1)", s.Algorithm)
}

// signature is Django's base64_hmac(salt + "signer", value, key): an HMAC
// keyed by h(salt + "signer" + key) (salted_hmac), in base64url.
func (s *DjangoSigner) signature(h func() hash.Hash, key, value string) string {
	d := h()
	d.Write([]byte(s.salt() + "signer" + key))
	m := hmac.New(h, d.Sum(nil))
	m.Write([]byte(value))
	return b64.EncodeToString(m.Sum(nil))
}

// Sign returns value signed and timestamped now, as
// TimestampSigner.sign does: value:timestamp:signature (value:signature,
// as Signer.sign does, when Untimed).
func (s *DjangoSigner) Sign(value string) (string, error) {
	if s.SecretKey == "" {
		return "", ErrNoKey
	}
	h, err := s.hash()
	if err != nil {
		return "", err
	}
	v := value
	if !s.Untimed {
		v += ":" + base62Encode(nowFunc(s.Now).Unix())
	}
	return v + ":" + s.signature(h, s.SecretKey, v), nil
}

// Unsign verifies a value signed by TimestampSigner.sign (or [Sign]) and
// returns it with the time it was signed. With maxAge > 0 a value signed
// longer ago is rejected with [ErrExpired], as signing's max_age does;
// zero means no limit, Django's max_age=None. A malformed value is
// [ErrMalformed], a tampered or foreign one [ErrBadSignature]. When
// Untimed, signedAt is zero.
func (s *DjangoSigner) Unsign(signed string, maxAge time.Duration) (value string, signedAt time.Time, err error) {
	ks, err := keys(s.SecretKey, s.FallbackKeys)
	if err != nil {
		return "", time.Time{}, err
	}
	h, err := s.hash()
	if err != nil {
		return "", time.Time{}, err
	}
	if s.Untimed && maxAge > 0 {
		return "", time.Time{}, errors.New("session: a max age needs timestamped values (DjangoSigner.Untimed is set)")
	}
	v, sig, ok := cutLast(signed, ":")
	if !ok {
		return "", time.Time{}, fmt.Errorf("%w: Django signed value has no signature", ErrMalformed)
	}
	verified := false
	for _, k := range ks {
		if equalSig(sig, s.signature(h, k, v)) ||
			(s.LegacySHA1 && equalSig(sig, s.signature(sha1.New, k, v))) {
			verified = true
			break
		}
	}
	if !verified {
		return "", time.Time{}, fmt.Errorf("%w: Django signed value not signed with this key and salt, or tampered with", ErrBadSignature)
	}
	if s.Untimed {
		return v, time.Time{}, nil
	}
	value, ts, ok := cutLast(v, ":")
	if !ok {
		return "", time.Time{}, fmt.Errorf("%w: Django signed value has no timestamp", ErrMalformed)
	}
	sec, ok := base62Decode(ts)
	if !ok {
		return "", time.Time{}, fmt.Errorf("%w: bad Django timestamp", ErrMalformed)
	}
	signedAt = time.Unix(sec, 0)
	if maxAge > 0 {
		if age := nowFunc(s.Now).Sub(signedAt); age > maxAge {
			return "", time.Time{}, fmt.Errorf("%w: Django signed value is %s old, max age is %s",
				ErrExpired, age.Truncate(time.Second), maxAge)
		}
	}
	return value, signedAt, nil
}

// Dumps returns v as JSON, zlib-compressed when compress is set and that
// makes it shorter, signed and timestamped: what signing.dumps(v,
// salt=Salt, compress=compress) returns. The JSON is ASCII, as Django's
// JSONSerializer writes and expects it.
func (s *DjangoSigner) Dumps(v any, compress bool) (string, error) {
	data, err := encodeJSON(v)
	if err != nil {
		return "", err
	}
	return s.Sign(encodePayload(data, compress))
}

// Loads verifies a value made by signing.dumps (or [Dumps]) and decodes
// its JSON into v as encoding/json does; maxAge is as for [Unsign]. The
// value is verified before anything in it is decoded.
func (s *DjangoSigner) Loads(signed string, maxAge time.Duration, v any) error {
	tree, err := s.load(signed, maxAge)
	if err != nil {
		return err
	}
	b, err := json.Marshal(tree)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrPayload, err)
	}
	return nil
}

// load verifies and decodes a signing.dumps value into a JSON tree.
func (s *DjangoSigner) load(signed string, maxAge time.Duration) (any, error) {
	payload, _, err := s.Unsign(signed, maxAge)
	if err != nil {
		return nil, err
	}
	data, err := decodePayload(payload)
	if err != nil {
		return nil, err
	}
	// JSONSerializer decodes the bytes as latin-1.
	return decodeJSON(latin1(data))
}

// latin1 returns data read as latin-1, in UTF-8.
func latin1(data []byte) []byte {
	for _, c := range data {
		if c >= 0x80 {
			out := make([]byte, 0, len(data)*2)
			for _, c := range data {
				out = append(out, string(rune(c))...)
			}
			return out
		}
	}
	return data
}

// Django reads and writes Django sessions: the cookie of the
// signed-cookies backend (SESSION_ENGINE =
// "django.contrib.sessions.backends.signed_cookies"), and the session_data
// that the database and file backends store (and cached_db in its
// database; the cache backend stores the dict itself, pickled by the
// cache, which Go cannot read). Its zero value is not
// usable: SecretKey is required. A Django is safe for concurrent use once
// set up.
type Django struct {
	// SecretKey is the project's SECRET_KEY. Sessions are signed with it.
	SecretKey string

	// FallbackKeys are older keys that sessions are still accepted with,
	// as Django 4.1's SECRET_KEY_FALLBACKS. Empty strings are skipped,
	// never a key.
	FallbackKeys []string

	// Algorithm and LegacySHA1 are as for [DjangoSigner].
	Algorithm  string
	LegacySHA1 bool

	// MaxAge is the project's SESSION_COOKIE_AGE: the signed-cookies
	// backend rejects older cookies. Zero means DjangoMaxAge, Django's
	// default.
	MaxAge time.Duration

	// CookieName is the project's SESSION_COOKIE_NAME. Empty means
	// DjangoCookieName.
	CookieName string

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

func (d *Django) signer(salt string) *DjangoSigner {
	return &DjangoSigner{SecretKey: d.SecretKey, FallbackKeys: d.FallbackKeys, Salt: salt,
		Algorithm: d.Algorithm, LegacySHA1: d.LegacySHA1, Now: d.Now}
}

func (d *Django) maxAge() time.Duration {
	if d.MaxAge == 0 {
		return DjangoMaxAge
	}
	return d.MaxAge
}

// Decode verifies the value of a signed-cookies session cookie and returns
// the session in it; errors are as for [Flask.Decode].
func (d *Django) Decode(cookie string) (Session, error) {
	return d.decode(cookie, DjangoCookieSessionSalt, d.maxAge())
}

// DecodeStored verifies and decodes the session_data of the database
// and file backends (the django_session table's session_data
// column, for the default backend): what SessionStore.decode reads.
// Expiry is the store's (expire_date), not checked here. The legacy
// format, base64(hash:json), which Django before 3.1 wrote and Django 3.1
// and 3.2 still write when DEFAULT_HASHING_ALGORITHM = "sha1", is read
// too, as SessionStore.decode does.
func (d *Django) DecodeStored(sessionData string) (Session, error) {
	s, err := d.decode(sessionData, DjangoStoredSessionSalt, 0)
	if err == nil || !(errors.Is(err, ErrMalformed) || errors.Is(err, ErrBadSignature)) {
		return s, err
	}
	ks, kerr := keys(d.SecretKey, d.FallbackKeys)
	if kerr != nil {
		return nil, kerr
	}
	tree, ok, lerr := decodeLegacyStored(sessionData, ks)
	if !ok {
		return nil, err
	}
	if lerr != nil {
		return nil, lerr
	}
	return djangoSession(tree)
}

func (d *Django) decode(value, salt string, maxAge time.Duration) (Session, error) {
	tree, err := d.signer(salt).load(value, maxAge)
	if err != nil {
		if errors.Is(err, ErrMalformed) && salt == DjangoCookieSessionSalt && isSessionKey(value) {
			return nil, fmt.Errorf("%w: this looks like the key of a database, cache or file session, not a signed-cookies session: look up its session_data and call DecodeStored", ErrMalformed)
		}
		return nil, err
	}
	return djangoSession(tree)
}

// djangoSession returns a decoded session's JSON tree as a Session.
func djangoSession(tree any) (Session, error) {
	m, ok := tree.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: Django session is not a dict but a %T", ErrPayload, tree)
	}
	return Session(m), nil
}

// Encode returns the value of a signed-cookies session cookie holding s,
// as the backend writes it (compressed JSON, signed now), that Django
// accepts. s must hold JSON values only.
func (d *Django) Encode(s Session) (string, error) {
	if s == nil {
		s = Session{}
	}
	return d.signer(DjangoCookieSessionSalt).Dumps(map[string]any(s), true)
}

// EncodeStored returns s as the session_data that the database and file
// backends store, for Go code that writes session rows itself.
func (d *Django) EncodeStored(s Session) (string, error) {
	if s == nil {
		s = Session{}
	}
	return d.signer(DjangoStoredSessionSalt).Dumps(map[string]any(s), true)
}

// Load returns the session of r from its signed-cookies session cookie
// CookieName (of the last one when r has several with that name, the one
// Django reads). With no such cookie, or an empty one, it returns an
// empty session and no error, as Django starts a new session; a cookie
// that Decode rejects is an error. (With the database backend the cookie holds a session key:
// look up its row and call [Django.DecodeStored].)
func (d *Django) Load(r *http.Request) (Session, error) {
	name := d.CookieName
	if name == "" {
		name = DjangoCookieName
	}
	v, _ := djangoCookie(r, name)
	if v == "" {
		return Session{}, nil
	}
	return d.Decode(v)
}

// isSessionKey reports whether v looks like the session key of Django's
// stored backends: 32 lowercase letters and digits.
func isSessionKey(v string) bool {
	if len(v) != 32 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

const base62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62Encode is django.utils.baseconv.base62.encode.
func base62Encode(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	var b [12]byte
	i := len(b)
	for u > 0 {
		i--
		b[i] = base62Digits[u%62]
		u /= 62
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// base62Decode is django.utils.baseconv.base62.decode, for the values an
// int64 holds.
func base62Decode(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if s == "" || len(s) > 10 { // 62^10 < 2^63: no overflow
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base62Digits, s[i])
		if d < 0 {
			return 0, false
		}
		n = n*62 + int64(d)
	}
	if neg {
		n = -n
	}
	return n, true
}
