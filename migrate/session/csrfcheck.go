package session

import (
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/graft-dev/graft/middleware"
)

// DjangoCSRFHeader is Django's CSRF_HEADER_NAME default
// ("HTTP_X_CSRFTOKEN"), as the HTTP header a client sends.
const DjangoCSRFHeader = "X-CSRFToken"

// ErrCSRF is wrapped by the error of [DjangoCSRF.Check] for a request
// Django's CsrfViewMiddleware would refuse; the error is a *CSRFError.
var ErrCSRF = errors.New("session: CSRF check failed")

// The reasons of django.middleware.csrf (Django 3.2), which a
// [CSRFError] carries.
const (
	CSRFReasonNoReferer        = "Referer checking failed - no Referer."
	CSRFReasonBadReferer       = "Referer checking failed - %s does not match any trusted origins."
	CSRFReasonNoCookie         = "CSRF cookie not set."
	CSRFReasonBadToken         = "CSRF token missing or incorrect."
	CSRFReasonMalformedReferer = "Referer checking failed - Referer is malformed."
	CSRFReasonInsecureReferer  = "Referer checking failed - Referer is insecure while host is secure."
)

// CSRFError is the error of [DjangoCSRF.Check]: why Django would refuse
// the request. It wraps [ErrCSRF].
type CSRFError struct {
	// Reason is Django's reason, word for word (one of the CSRFReason
	// constants, with the Referer in place of %s for a bad one): what
	// Django logs ("Forbidden (REASON): /path") and passes to
	// CSRF_FAILURE_VIEW.
	Reason string
}

// Error returns "session: CSRF check failed: " and the reason.
func (e *CSRFError) Error() string { return ErrCSRF.Error() + ": " + e.Reason }

// Unwrap returns ErrCSRF.
func (e *CSRFError) Unwrap() error { return ErrCSRF }

// Check decides, for a request that a Go handler serves in place of a
// Django view, what Django 3.2's CsrfViewMiddleware decides for it
// (process_view): nil when Django would let it through, else a
// *CSRFError with Django's reason (answer 403, as Django does). It reads
// the same CSRF cookie as [DjangoCSRF.Token] (so the tokens of Django's
// {% csrf_token %}, of Token and of the csrftoken cookie for JavaScript
// are all accepted), and the same request token as Django: the POST
// form's csrfmiddlewaretoken field (POST only, a urlencoded or multipart
// body, which Check parses as r.ParseMultipartForm does: the handler
// then reads r.PostForm or r.MultipartForm), else the HeaderName header.
//
// GET, HEAD, OPTIONS and TRACE always pass. Over HTTPS (the scheme
// [middleware.Scheme] gives: the one graft passes to Django as
// wsgi.url_scheme, a trusted proxy's with middleware.TrustProxies) the
// Referer must be an https URL of r.Host, or of CookieDomain or
// TrustedOrigins, before the token is checked, as Django's strict Referer
// check does. Exempt views (csrf_exempt) are the caller's business: do
// not call Check for them. Django 4.0 and later also refuse a request
// whose Origin header names another origin, which Check does not.
//
// With UseSessions (CSRF_USE_SESSIONS = True) the secret is the session's,
// as for [DjangoCSRF.CheckSession], and Check reads the signed-cookies
// session with Sessions, as Django's SessionMiddleware does: no session
// cookie, or one whose signature fails or that has expired, is an empty
// session ("CSRF cookie not set."). A session that Go cannot read is an
// error that is not a *CSRFError: Sessions nil, a session cookie that
// holds the key of a stored session (database or file: use CheckSession),
// a payload that is not JSON (a pickle-serialized session).
func (c *DjangoCSRF) Check(r *http.Request) error {
	if !c.UseSessions {
		return c.check(r, func() ([]byte, bool, error) {
			v, ok := djangoCookie(r, c.cookieName())
			if !ok {
				return nil, false, nil
			}
			return csrfSecret(v), true, nil
		})
	}
	if c.Sessions == nil {
		return errors.New("session: DjangoCSRF.Check with UseSessions needs Sessions to read the signed-cookies session; with the database or file backends load the session and call CheckSession")
	}
	return c.check(r, func() ([]byte, bool, error) {
		s, err := c.signedSession(r)
		if err != nil {
			return nil, false, err
		}
		v, ok := s[DjangoCSRFSessionKey]
		return sessionCSRFSecret(v, ok)
	})
}

// check is process_view, the secret being what secret returns: the
// unmasked secret (nil for one Django cannot match), whether Django has
// one at all, or an error for a request Django fails or Go cannot judge.
// secret is called after the Referer check, as Django reads it.
func (c *DjangoCSRF) check(r *http.Request, secret func() ([]byte, bool, error)) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return nil
	}
	if middleware.Scheme(r) == "https" {
		if reason := c.checkReferer(r); reason != "" {
			return &CSRFError{Reason: reason}
		}
	}
	want, found, err := secret()
	if err != nil {
		return err
	}
	if !found {
		return &CSRFError{Reason: CSRFReasonNoCookie}
	}
	token := ""
	if r.Method == http.MethodPost {
		if err := r.ParseMultipartForm(32 << 20); err == nil || errors.Is(err, http.ErrNotMultipart) {
			token = r.PostForm.Get(DjangoCSRFField)
		}
	}
	if token == "" {
		// Header lines sent twice reach Django joined with a comma, which
		// no token holds: refused there, refused here.
		token = strings.Join(r.Header.Values(c.headerName()), ",")
	}
	given := csrfSecret(token)
	if want == nil || given == nil || subtle.ConstantTimeCompare(want, given) != 1 {
		return &CSRFError{Reason: CSRFReasonBadToken}
	}
	return nil
}

// headerName returns the header HeaderName names.
func (c *DjangoCSRF) headerName() string {
	name := c.HeaderName
	if name == "" {
		return DjangoCSRFHeader
	}
	if rest, ok := strings.CutPrefix(name, "HTTP_"); ok {
		return strings.ReplaceAll(rest, "_", "-")
	}
	return name
}

// cookieName returns CookieName or Django's default.
func (c *DjangoCSRF) cookieName() string {
	if c.CookieName == "" {
		return DjangoCSRFCookieName
	}
	return c.CookieName
}

// checkReferer is the Referer check of a secure request: "" when it
// passes, else Django's reason.
func (c *DjangoCSRF) checkReferer(r *http.Request) string {
	vals := r.Header.Values("Referer")
	if len(vals) == 0 {
		return CSRFReasonNoReferer
	}
	referer := strings.Join(vals, ",")
	scheme, netloc, url := pyURLSplit(referer)
	if scheme == "" || netloc == "" {
		return CSRFReasonMalformedReferer
	}
	if scheme != "https" {
		return CSRFReasonInsecureReferer
	}
	good, domain := r.Host, c.CookieDomain
	if c.UseSessions {
		domain = c.SessionCookieDomain
	}
	if domain != "" {
		good = domain
		port := "443"
		if _, p, err := net.SplitHostPort(r.Host); err == nil && p != "" {
			port = p
		}
		if port != "443" && port != "80" {
			good += ":" + port
		}
	}
	for _, pattern := range append(c.trustedHosts(), good) {
		if isSameDomain(netloc, pattern) {
			return ""
		}
	}
	return strings.Replace(CSRFReasonBadReferer, "%s", url, 1)
}

// trustedHosts returns the hosts of TrustedOrigins: an entry with a
// scheme (Django 4.0's form, "https://*.example.com") by its host, a
// leading "*" read as Django 3.2's ".".
func (c *DjangoCSRF) trustedHosts() []string {
	out := make([]string, 0, len(c.TrustedOrigins)+1)
	for _, o := range c.TrustedOrigins {
		if _, h, ok := strings.Cut(o, "://"); ok {
			o = strings.TrimPrefix(h, "*")
		}
		out = append(out, o)
	}
	return out
}

// isSameDomain is django.utils.http.is_same_domain: host equals pattern
// (lower-cased; host is compared as it is), or pattern starts with "."
// and host is that domain or one of its subdomains.
func isSameDomain(host, pattern string) bool {
	if pattern == "" {
		return false
	}
	pattern = strings.ToLower(pattern)
	if pattern[0] == '.' && (strings.HasSuffix(host, pattern) || host == pattern[1:]) {
		return true
	}
	return pattern == host
}

// pyURLSplit returns the scheme (lower-cased) and netloc of u as Python's
// urllib.parse.urlsplit finds them, and u as ParseResult.geturl() writes
// it back (the scheme lower-cased, the rest as sent).
func pyURLSplit(u string) (scheme, netloc, url string) {
	u = strings.TrimLeft(u, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	u = strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(u)
	rest := u
	if i := strings.IndexByte(u, ':'); i > 0 && isAlpha(u[0]) {
		ok := true
		for j := 0; j < i; j++ {
			if !isAlpha(u[j]) && !('0' <= u[j] && u[j] <= '9') && !strings.ContainsRune("+-.", rune(u[j])) {
				ok = false
				break
			}
		}
		if ok {
			scheme, rest = strings.ToLower(u[:i]), u[i+1:]
		}
	}
	if strings.HasPrefix(rest, "//") {
		end := len(rest)
		if i := strings.IndexAny(rest[2:], "/?#"); i >= 0 {
			end = i + 2
		}
		netloc = rest[2:end]
	}
	if scheme == "" {
		return "", netloc, u
	}
	return scheme, netloc, scheme + ":" + rest
}

func isAlpha(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }
