package session

import (
	"errors"
	"fmt"
	"net/http"
)

// The CSRF check of projects with CSRF_USE_SESSIONS = True, whose secret
// is in the session (see [DjangoCSRF.UseSessions]).

// CheckSession is [DjangoCSRF.Check] for projects with CSRF_USE_SESSIONS =
// True (UseSessions must be set) whose session Check cannot read itself:
// the database and file backends (and cached_db), whose cookie holds only
// a key. s is the request's session, as Django's SessionMiddleware loads
// it: look up the session_data of the cookie's key (an unexpired row of
// django_session, or the file) and decode it with [Django.DecodeStored].
// The cache backend stores the session dict itself, pickled by the cache,
// which Go cannot read: its projects cannot check in Go. Pass nil
// for no session: no cookie, no such row, or session_data that
// DecodeStored rejects with ErrBadSignature or ErrMalformed, which Django
// reads as an empty session. The secret is s[DjangoCSRFSessionKey], read
// as Django 3.2 reads it: none is "CSRF cookie not set."; one that is not
// a masked 64-character token (a 32-character secret, which Django 4.1
// stores) is "CSRF token missing or incorrect."; a value that makes
// Django fail with a server error (not a string, a character outside
// [A-Za-z0-9] where Django unmasks) is an error that is not a *CSRFError.
func (c *DjangoCSRF) CheckSession(r *http.Request, s Session) error {
	if !c.UseSessions {
		return errors.New("session: DjangoCSRF.CheckSession is for CSRF_USE_SESSIONS = True: set UseSessions (without it Django reads the CSRF cookie, and so does Check)")
	}
	return c.check(r, func() ([]byte, bool, error) {
		v, ok := s[DjangoCSRFSessionKey]
		return sessionCSRFSecret(v, ok)
	})
}

// sessionPageToken is [DjangoCSRF.Token] with UseSessions: a token over
// the secret of the request's signed-cookies session, as get_token gives
// when the session holds one (Django then leaves the session, and the
// cookies, alone), or "" when Django would store a new secret in the
// session, which Token cannot save, or when Token cannot read the session.
// The secret is read as Check reads it, so that Check accepts the token.
func (c *DjangoCSRF) sessionPageToken(w http.ResponseWriter, r *http.Request) string {
	if c.Sessions == nil {
		return ""
	}
	// Django's SessionMiddleware adds it for every answer that read the
	// session.
	addVaryCookie(w.Header())
	s, err := c.signedSession(r)
	if err != nil {
		return ""
	}
	v, ok := s[DjangoCSRFSessionKey]
	secret, _, err := sessionCSRFSecret(v, ok)
	if err != nil || secret == nil {
		return ""
	}
	return csrfMask(secret)
}

// signedSession returns the session of r's signed-cookies session
// cookie as Django's SessionMiddleware loads it: an empty one (nil) for
// no cookie and for a cookie whose signature fails, that has expired or
// is malformed (Django resets the session), an error for what Go cannot
// read.
func (c *DjangoCSRF) signedSession(r *http.Request) (Session, error) {
	d := c.Sessions
	name := d.CookieName
	if name == "" {
		name = DjangoCookieName
	}
	v, _ := djangoCookie(r, name)
	if v == "" {
		return nil, nil
	}
	if isSessionKey(v) {
		return nil, fmt.Errorf("session: DjangoCSRF.Check: the %s cookie holds the key of a stored session (database, file or cache backend), not a signed-cookies session: look up its session_data, decode it with Django.DecodeStored and call CheckSession", name)
	}
	s, err := d.Decode(v)
	switch {
	case err == nil:
		return s, nil
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrExpired), errors.Is(err, ErrMalformed):
		return nil, nil
	}
	return nil, fmt.Errorf("session: DjangoCSRF.Check cannot read the session that holds the CSRF secret: %w", err)
}

// sessionCSRFSecret returns the secret of the session's CSRF value v (ok
// when the session has the key), as Django 3.2's _compare_masked_tokens
// unmasks it: the value is not sanitized as a cookie is, so that the
// first 32 characters are the mask and the next 32 the cipher, and fewer
// give a shorter secret, which matches no token (nil). found is false for
// no value (or None), Django's "CSRF cookie not set.". The error is for
// the values Django fails on (TypeError, ValueError: a server error): not
// a string, or a character outside CSRF_ALLOWED_CHARS among those
// Django's zip reads.
func sessionCSRFSecret(v any, ok bool) (secret []byte, found bool, err error) {
	if !ok || v == nil {
		return nil, false, nil
	}
	s, isString := v.(string)
	if !isString {
		return nil, true, fmt.Errorf("session: the session's %s is a %T, not a string: Django 3.2 fails the request with a server error", DjangoCSRFSessionKey, v)
	}
	runes := []rune(s)
	n := min(len(runes), csrfSecretLength)
	mask, cipher := runes[:n], runes[n:]
	out := make([]byte, 0, csrfSecretLength)
	// zip(cipher indexes, mask indexes): each step reads the cipher's
	// next character, then the mask's, and stops at the first one missing.
	for i := 0; i < len(cipher); i++ {
		ci := csrfRuneIndex(cipher[i])
		if ci < 0 {
			return nil, true, errSessionCSRFChar()
		}
		if i >= len(mask) {
			break
		}
		mi := csrfRuneIndex(mask[i])
		if mi < 0 {
			return nil, true, errSessionCSRFChar()
		}
		out = append(out, byte((ci-mi+len(csrfChars))%len(csrfChars)))
	}
	if len(out) != csrfSecretLength {
		return nil, true, nil
	}
	return out, true, nil
}

// errSessionCSRFChar is the error of a session's CSRF value that Django's
// unmasking fails on.
func errSessionCSRFChar() error {
	return fmt.Errorf("session: the session's %s holds a character other than a letter or digit: Django 3.2 fails the request with a server error", DjangoCSRFSessionKey)
}

// csrfRuneIndex is csrfIndex for a character of a decoded string.
func csrfRuneIndex(r rune) int {
	if r >= 0x80 {
		return -1
	}
	return csrfIndex(byte(r))
}
