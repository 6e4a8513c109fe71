package session

import (
	"crypto/rand"
	"errors"
	"net/http"
	"time"
)

// Django CSRF defaults, from django.conf.global_settings and
// django.middleware.csrf.
const (
	// DjangoCSRFCookieName is Django's CSRF_COOKIE_NAME default.
	DjangoCSRFCookieName = "csrftoken"
	// DjangoCSRFField is the form field CsrfViewMiddleware reads.
	DjangoCSRFField = "csrfmiddlewaretoken"
	// DjangoCSRFCookieAge is Django's CSRF_COOKIE_AGE default, a year
	// (31449600 s).
	DjangoCSRFCookieAge = 52 * 7 * 24 * time.Hour
)

const (
	csrfChars        = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	csrfSecretLength = 32
	csrfTokenLength  = 2 * csrfSecretLength
)

// DjangoCSRF gives a form that Go renders a CSRF token that Django's
// CsrfViewMiddleware accepts when the form is posted to a Django view. It
// uses the CSRF cookie's secret, or sets a new cookie, as django.middleware.csrf.get_token
// does; no secret key is involved. [DjangoCSRF.Check] does the other half:
// it checks a request posted to a Go handler as CsrfViewMiddleware would.
// Its zero value uses Django's defaults.
// Projects with CSRF_USE_SESSIONS = True keep the secret in the session
// instead: set UseSessions; Token then reads the signed-cookies session
// and sets no cookie, and [DjangoCSRF.SessionToken] gives a token over a
// session Go loaded itself, storing a new secret in it when needed.
type DjangoCSRF struct {
	// CookieName is the project's CSRF_COOKIE_NAME. Empty means
	// DjangoCSRFCookieName.
	CookieName string

	// CookiePath and CookieDomain are CSRF_COOKIE_PATH (empty means "/")
	// and CSRF_COOKIE_DOMAIN; CookieSecure and CookieHTTPOnly are
	// CSRF_COOKIE_SECURE and CSRF_COOKIE_HTTPONLY.
	CookiePath, CookieDomain     string
	CookieSecure, CookieHTTPOnly bool

	// CookieSameSite is CSRF_COOKIE_SAMESITE: zero means
	// http.SameSiteLaxMode, Django's default; http.SameSiteStrictMode and
	// http.SameSiteNoneMode are "Strict" and "None" (the cookie must then
	// be Secure for browsers to keep it); http.SameSiteDefaultMode sends
	// no SameSite attribute, as CSRF_COOKIE_SAMESITE = False does.
	CookieSameSite http.SameSite

	// CookieAge is CSRF_COOKIE_AGE. Zero means DjangoCSRFCookieAge.
	CookieAge time.Duration

	// HeaderName is the header [DjangoCSRF.Check] reads the token from
	// when a POST form has none: CSRF_HEADER_NAME as an HTTP header name
	// ("HTTP_X_XSRF_TOKEN" is "X-XSRF-Token"), or the setting's own value:
	// a name that starts with "HTTP_" is read as Django reads it, the
	// header of the rest with "-" for "_". Empty means DjangoCSRFHeader.
	HeaderName string

	// TrustedOrigins is CSRF_TRUSTED_ORIGINS, the other hosts whose
	// https pages may post to the project (Check's Referer check over
	// HTTPS): Django 3.2's hosts ("example.com", ".example.com" for it and
	// its subdomains) or Django 4.0's origins ("https://example.com",
	// "https://*.example.com"). None by default.
	TrustedOrigins []string

	// UseSessions is CSRF_USE_SESSIONS: the secret is in the session,
	// under DjangoCSRFSessionKey, and Django ignores the CSRF cookie.
	// [DjangoCSRF.Check] then reads the session of the signed-cookies
	// backend with Sessions (it returns an error when Sessions is nil).
	// The database and file backends keep the session where Check cannot
	// reach it: load it yourself and call [DjangoCSRF.CheckSession]. The
	// cache backend's (a pickled dict) cannot be read in Go at all.
	// Token then sets no cookie: it reads the signed-cookies session with
	// Sessions too, and returns "" when the session has no secret (use
	// SessionToken and save the session).
	UseSessions bool

	// Sessions decodes the signed-cookies session for Check when
	// UseSessions is set: the project's SECRET_KEY, SESSION_COOKIE_NAME
	// (CookieName) and SESSION_COOKIE_AGE (MaxAge).
	Sessions *Django

	// SessionCookieDomain is SESSION_COOKIE_DOMAIN, which takes
	// CookieDomain's place in Check's Referer check when UseSessions is
	// set, as in Django.
	SessionCookieDomain string
}

// Token returns a CSRF token for a form that posts to Django, to put in
// its csrfmiddlewaretoken field (or send as X-CSRFToken). It is masked
// afresh on every call, like Django's (against BREACH), over the secret of
// the request's CSRF cookie: of the last one when the request has several
// with its name, the one Django reads. When that cookie is missing or
// invalid (Django then makes a new secret too), Token makes a new secret
// in Django 3.2's format (the masked 64-character token, which later
// Django versions accept too). It sets the cookie on w in either case,
// with the value it read when that is valid, as Django does for every
// answer whose page used a token (to renew its expiry), so call it before
// writing the response's header.
//
// With UseSessions (CSRF_USE_SESSIONS = True) Token sets no cookie, as
// Django sets none: it returns a token over the secret of the request's
// signed-cookies session, read with Sessions, and adds Vary: Cookie, as
// Django does for a page that read the session. When it cannot (Sessions
// is nil, the session cookie holds a stored session's key, the session has
// no secret that Django reads, or cannot be read) it returns "": Django
// would store a new secret in the session and save it, which Token cannot
// do. Then use [DjangoCSRF.SessionToken] with the session and save it.
func (c *DjangoCSRF) Token(w http.ResponseWriter, r *http.Request) string {
	if c.UseSessions {
		return c.sessionPageToken(w, r)
	}
	name := c.CookieName
	if name == "" {
		name = DjangoCSRFCookieName
	}
	var secret []byte
	value, ok := djangoCookie(r, name)
	if ok {
		secret = csrfSecret(value)
	}
	if secret == nil {
		secret = csrfRandom()
		value = csrfMask(secret)
	}
	// Set even when the request has it, as Django does for every answer
	// whose page used a token, to renew the cookie's expiry.
	path, age := c.CookiePath, c.CookieAge
	if path == "" {
		path = "/"
	}
	if age == 0 {
		age = DjangoCSRFCookieAge
	}
	sameSite := c.CookieSameSite
	if sameSite == 0 {
		sameSite = http.SameSiteLaxMode
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: path, Domain: c.CookieDomain,
		MaxAge: int(age / time.Second), Secure: c.CookieSecure, HttpOnly: c.CookieHTTPOnly,
		SameSite: sameSite,
	})
	addVaryCookie(w.Header())
	return csrfMask(secret)
}

// DjangoCSRFSessionKey is the session key that holds the CSRF secret of
// projects with CSRF_USE_SESSIONS = True (django.middleware.csrf's
// CSRF_SESSION_KEY).
const DjangoCSRFSessionKey = "_csrftoken"

// SessionToken is [DjangoCSRF.Token] for projects with CSRF_USE_SESSIONS
// = True, where the secret lives in the session instead of a cookie: it
// returns a token masked afresh over the secret in s[DjangoCSRFSessionKey].
// When there is none, or an invalid one, it stores a new one there in
// Django 3.2's format (the masked 64-character token, which later Django
// versions accept too) and reports changed: then save s (Django.Encode
// for the signed-cookies backend, EncodeStored for the others) in the
// response, or Django rejects the token. The cookie fields of c do not
// apply. A nil s is an error when a secret must be stored.
func (c *DjangoCSRF) SessionToken(s Session) (token string, changed bool, err error) {
	var secret []byte
	if v, ok := s[DjangoCSRFSessionKey].(string); ok {
		secret = csrfSecret(v)
	}
	if secret == nil {
		if s == nil {
			return "", false, errors.New("session: DjangoCSRF.SessionToken needs a non-nil Session to store a new CSRF secret in")
		}
		secret = csrfRandom()
		s[DjangoCSRFSessionKey] = csrfMask(secret)
		changed = true
	}
	return csrfMask(secret), changed, nil
}

// csrfSecret returns the secret of a CSRF cookie: a 32-character secret
// as is, a 64-character masked token unmasked, anything else nil.
func csrfSecret(v string) []byte {
	idx := make([]byte, len(v))
	for i := 0; i < len(v); i++ {
		j := csrfIndex(v[i])
		if j < 0 {
			return nil
		}
		idx[i] = byte(j)
	}
	switch len(v) {
	case csrfSecretLength:
		return idx
	case csrfTokenLength:
		mask, cipher := idx[:csrfSecretLength], idx[csrfSecretLength:]
		out := make([]byte, csrfSecretLength)
		for i := range out {
			out[i] = byte((int(cipher[i]) - int(mask[i]) + len(csrfChars)) % len(csrfChars))
		}
		return out
	}
	return nil
}

func csrfIndex(b byte) int {
	switch {
	case 'a' <= b && b <= 'z':
		return int(b - 'a')
	case 'A' <= b && b <= 'Z':
		return int(b-'A') + 26
	case '0' <= b && b <= '9':
		return int(b-'0') + 52
	}
	return -1
}

// csrfRandom returns 32 random character indexes.
func csrfRandom() []byte {
	out := make([]byte, 0, csrfSecretLength)
	var buf [64]byte
	for len(out) < csrfSecretLength {
		rand.Read(buf[:])
		for _, b := range buf {
			// 248 = 4 * 62: reject the rest, so that every character is
			// equally likely.
			if b < 248 && len(out) < csrfSecretLength {
				out = append(out, b%62)
			}
		}
	}
	return out
}

// csrfMask is Django's _mask_cipher_secret: a random mask followed by the
// secret shifted by it.
func csrfMask(secret []byte) string {
	mask := csrfRandom()
	out := make([]byte, csrfTokenLength)
	for i := range mask {
		out[i] = csrfChars[mask[i]]
		out[csrfSecretLength+i] = csrfChars[(int(secret[i])+int(mask[i]))%len(csrfChars)]
	}
	return string(out)
}
