package session

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graft-dev/graft/middleware"
)

// csrfCheckCase is one request, built alike for Go's Check and for the
// real Django's CsrfViewMiddleware (django_tool.py's csrf_check op).
type csrfCheckCase struct {
	Name        string              `json:"-"`
	Method      string              `json:"method"`
	Secure      bool                `json:"secure,omitempty"`
	Host        string              `json:"host,omitempty"`
	Referer     *string             `json:"referer,omitempty"`
	Cookie      string              `json:"cookie,omitempty"` // a raw Cookie header
	ContentType string              `json:"content_type,omitempty"`
	Body        string              `json:"body,omitempty"`
	Headers     map[string]string   `json:"headers,omitempty"` // Django's view of them: repeated lines joined with ","
	Repeat      map[string][]string `json:"-"`                 // Go's: header lines as sent
	Want        int                 `json:"-"`                 // the status Django must answer: 200, 403 or 500 (Django fails)
}

// request builds c's request for Go.
func (c csrfCheckCase) request() *http.Request {
	host := c.Host
	if host == "" {
		host = "testserver"
	}
	scheme := "http"
	if c.Secure {
		scheme = "https"
	}
	r := httptest.NewRequest(c.Method, scheme+"://"+host+"/form/", strings.NewReader(c.Body))
	if c.ContentType != "" {
		r.Header.Set("Content-Type", c.ContentType)
	}
	if c.Referer != nil {
		r.Header.Set("Referer", *c.Referer)
	}
	if c.Cookie != "" {
		r.Header.Set("Cookie", c.Cookie)
	}
	for k, v := range c.Headers {
		r.Header.Set(k, v)
	}
	for k, vs := range c.Repeat {
		r.Header[http.CanonicalHeaderKey(k)] = vs
	}
	return r
}

func ref(s string) *string { return &s }

// runCSRFCheck runs cases through Django (with the extra settings) and
// through c.Check, and wants the same decision and reason, and Django's
// status to be each case's Want (so that the table tests what it means to).
func runCSRFCheck(t *testing.T, c *DjangoCSRF, settings map[string]any, cases []csrfCheckCase) {
	t.Helper()
	runCSRFCheckWith(t, c.Check, settings, nil, cases)
}

// runCSRFCheckWith is runCSRFCheck with check in Check's place, and
// rows, when not nil, as the django_session table of Django's database
// (session key to session_data). A request Django fails (500, an
// exception) must be an error of check that is not a *CSRFError.
func runCSRFCheckWith(t *testing.T, check func(*http.Request) error, settings map[string]any, rows map[string]string, cases []csrfCheckCase) {
	t.Helper()
	var got []djangoOut
	runPy(t, "django_tool.py", "django", struct {
		Op       string            `json:"op"`
		Key      string            `json:"key"`
		Settings map[string]any    `json:"settings,omitempty"`
		Rows     map[string]string `json:"rows,omitempty"`
		Cases    []csrfCheckCase   `json:"cases"`
	}{"csrf_check", djangoKey, settings, rows, cases}, &got)
	if len(got) != len(cases) {
		t.Fatalf("%d results for %d cases", len(got), len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			d := got[i]
			if d.Status != tc.Want {
				t.Fatalf("Django answered %d %q, want %d: the case does not test what it says", d.Status, d.Body, tc.Want)
			}
			// The handler of a secure request sees the scheme a trusted
			// proxy gave, as Django does (wsgi.url_scheme).
			var err error
			h := func(w http.ResponseWriter, r *http.Request) { err = check(r) }
			r := tc.request()
			middleware.TrustProxies(nil)(http.HandlerFunc(h)).ServeHTTP(httptest.NewRecorder(), r)
			var ce *CSRFError
			switch {
			case d.Status == 200 && err != nil:
				t.Errorf("Django accepted the request, Check refused it: %v", err)
			case d.Status == 403 && err == nil:
				t.Errorf("Django refused the request (%q), Check accepted it", d.Body)
			case d.Status == 403:
				if !errors.As(err, &ce) || !errors.Is(err, ErrCSRF) || ce.Reason != d.Body {
					t.Errorf("Check: %v (%T), want a *CSRFError with Django's reason %q", err, err, d.Body)
				}
			case d.Status == 500:
				if err == nil || errors.As(err, &ce) {
					t.Errorf("Django failed the request (a server error), Check: %v, want an error that is not a *CSRFError", err)
				}
			}
		})
	}
}

// TestDjangoCSRFCheck checks that Check decides as Django 3.2's
// CsrfViewMiddleware does, with the same reason, for tokens of Django's
// shapes in forms and headers, over HTTP and HTTPS (Referer check).
func TestDjangoCSRFCheck(t *testing.T) {
	c := &DjangoCSRF{}
	tok, set := csrfToken(t, c, "")
	cookie := "csrftoken=" + set.Value
	secret32 := strings.Repeat("aB3", 10) + "xY"
	tok32, _ := csrfToken(t, c, secret32)
	_, other := csrfToken(t, c, "")
	form := "application/x-www-form-urlencoded"
	boundary := "XyZ"
	multipart := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"msg\"\r\n\r\nhello\r\n--" + boundary +
		"\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n" + tok + "\r\n--" + boundary + "--\r\n"
	hdr := map[string]string{"X-CSRFToken": tok}

	runCSRFCheck(t, c, nil, []csrfCheckCase{
		{Name: "GET without anything", Method: "GET", Want: 200},
		{Name: "HEAD without anything", Method: "HEAD", Want: 200},
		{Name: "OPTIONS without anything", Method: "OPTIONS", Want: 200},
		{Name: "form token", Method: "POST", Cookie: cookie, ContentType: form, Body: "msg=hello&csrfmiddlewaretoken=" + tok, Want: 200},
		{Name: "multipart form token", Method: "POST", Cookie: cookie, ContentType: "multipart/form-data; boundary=" + boundary, Body: multipart, Want: 200},
		{Name: "no cookie", Method: "POST", ContentType: form, Body: "csrfmiddlewaretoken=" + tok, Want: 403},
		{Name: "no token", Method: "POST", Cookie: cookie, ContentType: form, Body: "msg=hello", Want: 403},
		{Name: "tampered token", Method: "POST", Cookie: cookie, ContentType: form, Body: "csrfmiddlewaretoken=" + tamper(tok, 40), Want: 403},
		{Name: "token of another cookie", Method: "POST", Cookie: "csrftoken=" + other.Value, ContentType: form, Body: "csrfmiddlewaretoken=" + tok, Want: 403},
		{Name: "header token, JSON body", Method: "POST", Cookie: cookie, ContentType: "application/json", Body: `{"csrfmiddlewaretoken": "x"}`, Headers: hdr, Want: 200},
		{Name: "empty form field, header token", Method: "POST", Cookie: cookie, ContentType: form, Body: "csrfmiddlewaretoken=&msg=hi", Headers: hdr, Want: 200},
		{Name: "wrong form field, right header", Method: "POST", Cookie: cookie, ContentType: form, Body: "csrfmiddlewaretoken=" + tamper(tok, 40), Headers: hdr, Want: 403},
		{Name: "PUT with header token", Method: "PUT", Cookie: cookie, ContentType: "application/json", Body: "{}", Headers: hdr, Want: 200},
		{Name: "PUT with form token only", Method: "PUT", Cookie: cookie, ContentType: form, Body: "csrfmiddlewaretoken=" + tok, Want: 403},
		{Name: "DELETE with header token", Method: "DELETE", Cookie: cookie, Headers: hdr, Want: 200},
		{Name: "PATCH without token", Method: "PATCH", Cookie: cookie, Want: 403},
		{Name: "32-character secret cookie", Method: "POST", Cookie: "csrftoken=" + secret32, ContentType: form, Body: "csrfmiddlewaretoken=" + tok32, Want: 200},
		{Name: "unmasked secret as token", Method: "POST", Cookie: "csrftoken=" + secret32, ContentType: form, Body: "csrfmiddlewaretoken=" + secret32, Want: 200},
		{Name: "invalid cookie", Method: "POST", Cookie: "csrftoken=not a token!", ContentType: form, Body: "csrfmiddlewaretoken=" + tok, Want: 403},
		{Name: "empty cookie", Method: "POST", Cookie: "csrftoken=", ContentType: form, Body: "csrfmiddlewaretoken=" + tok, Want: 403},
		{Name: "duplicate cookies: the last one counts", Method: "POST", Cookie: "csrftoken=" + other.Value + "; csrftoken=" + set.Value, ContentType: form, Body: "csrfmiddlewaretoken=" + tok, Want: 200},
		{Name: "header sent twice", Method: "POST", Cookie: cookie, Headers: map[string]string{"X-CSRFToken": tok + "," + tok}, Repeat: map[string][]string{"X-CSRFToken": {tok, tok}}, Want: 403},
		{Name: "https: no Referer", Method: "POST", Secure: true, Cookie: cookie, Headers: hdr, Want: 403},
		{Name: "https: http Referer", Method: "POST", Secure: true, Referer: ref("http://testserver/"), Cookie: cookie, Headers: hdr, Want: 403},
		{Name: "https: malformed Referer", Method: "POST", Secure: true, Referer: ref("testserver/page"), Cookie: cookie, Headers: hdr, Want: 403},
		{Name: "https: empty Referer", Method: "POST", Secure: true, Referer: ref(""), Cookie: cookie, Headers: hdr, Want: 403},
		{Name: "https: other site's Referer", Method: "POST", Secure: true, Referer: ref("https://evil.example/page?x=1"), Cookie: cookie, Headers: hdr, Want: 403},
		{Name: "https: upper-case Referer host", Method: "POST", Secure: true, Referer: ref("HTTPS://TestServer/"), Cookie: cookie, Headers: hdr, Want: 403},
		{Name: "https: same host", Method: "POST", Secure: true, Referer: ref("https://testserver/page/"), Cookie: cookie, Headers: hdr, Want: 200},
		{Name: "https: same host, upper-case scheme", Method: "POST", Secure: true, Referer: ref("HTTPS://testserver/page/"), Cookie: cookie, Headers: hdr, Want: 200},
		{Name: "https: same host, bad token", Method: "POST", Secure: true, Referer: ref("https://testserver/"), Cookie: cookie, Want: 403},
		{Name: "https: same host, no cookie", Method: "POST", Secure: true, Referer: ref("https://testserver/"), Headers: hdr, Want: 403},
		{Name: "https: port kept", Method: "POST", Secure: true, Host: "testserver:8443", Referer: ref("https://testserver:8443/"), Cookie: cookie, Headers: hdr, Want: 200},
		{Name: "https: port missing", Method: "POST", Secure: true, Host: "testserver:8443", Referer: ref("https://testserver/"), Cookie: cookie, Headers: hdr, Want: 403},
		{Name: "http: any Referer", Method: "POST", Referer: ref("http://evil.example/"), Cookie: cookie, Headers: hdr, Want: 200},
	})

	t.Run("trusted origins and cookie domain", func(t *testing.T) {
		origins := []string{".example.com", "partner.test", "partner.test:8443", ".UPPER.test"}
		c := &DjangoCSRF{TrustedOrigins: origins, CookieDomain: "site.test"}
		runCSRFCheck(t, c, map[string]any{"CSRF_TRUSTED_ORIGINS": origins, "CSRF_COOKIE_DOMAIN": "site.test"}, []csrfCheckCase{
			{Name: "subdomain", Method: "POST", Secure: true, Referer: ref("https://a.example.com/"), Cookie: cookie, Headers: hdr, Want: 200},
			{Name: "the domain itself", Method: "POST", Secure: true, Referer: ref("https://example.com/"), Cookie: cookie, Headers: hdr, Want: 200},
			{Name: "a look-alike", Method: "POST", Secure: true, Referer: ref("https://evilexample.com/"), Cookie: cookie, Headers: hdr, Want: 403},
			{Name: "exact host", Method: "POST", Secure: true, Referer: ref("https://partner.test/x"), Cookie: cookie, Headers: hdr, Want: 200},
			{Name: "subdomain of an exact host", Method: "POST", Secure: true, Referer: ref("https://a.partner.test/"), Cookie: cookie, Headers: hdr, Want: 403},
			{Name: "host and port", Method: "POST", Secure: true, Referer: ref("https://partner.test:8443/"), Cookie: cookie, Headers: hdr, Want: 200},
			{Name: "upper-case entry", Method: "POST", Secure: true, Referer: ref("https://a.upper.test/"), Cookie: cookie, Headers: hdr, Want: 200},
			{Name: "upper-case Referer host", Method: "POST", Secure: true, Referer: ref("https://A.EXAMPLE.COM/"), Cookie: cookie, Headers: hdr, Want: 403},
			{Name: "cookie domain", Method: "POST", Secure: true, Referer: ref("https://site.test/"), Cookie: cookie, Headers: hdr, Want: 200},
			{Name: "the request's host no longer", Method: "POST", Secure: true, Referer: ref("https://testserver/"), Cookie: cookie, Headers: hdr, Want: 403},
			{Name: "cookie domain with the request's port", Method: "POST", Secure: true, Host: "testserver:8443", Referer: ref("https://site.test:8443/"), Cookie: cookie, Headers: hdr, Want: 200},
			{Name: "cookie domain without the request's port", Method: "POST", Secure: true, Host: "testserver:8443", Referer: ref("https://site.test/"), Cookie: cookie, Headers: hdr, Want: 403},
		})
	})

	t.Run("header name and cookie name", func(t *testing.T) {
		settings := map[string]any{"CSRF_HEADER_NAME": "HTTP_X_XSRF_TOKEN", "CSRF_COOKIE_NAME": "xsrf"}
		// Token's cookie under the project's name, and its token.
		r := httptest.NewRequest("GET", "/form", nil)
		w := httptest.NewRecorder()
		xtok := (&DjangoCSRF{CookieName: "xsrf"}).Token(w, r)
		xset := w.Result().Cookies()
		if len(xset) != 1 || xset[0].Name != "xsrf" {
			t.Fatalf("Token with CookieName xsrf set %q", w.Header().Values("Set-Cookie"))
		}
		cases := []csrfCheckCase{
			{Name: "own header", Method: "POST", Cookie: "xsrf=" + set.Value, Headers: map[string]string{"X-XSRF-Token": tok}, Want: 200},
			{Name: "own header in lower case", Method: "POST", Cookie: "xsrf=" + set.Value, Headers: map[string]string{"x-xsrf-token": tok}, Want: 200},
			{Name: "default header", Method: "POST", Cookie: "xsrf=" + set.Value, Headers: hdr, Want: 403},
			{Name: "default cookie", Method: "POST", Cookie: cookie, Headers: map[string]string{"X-XSRF-Token": tok}, Want: 403},
			{Name: "Token's own cookie", Method: "POST", Cookie: "xsrf=" + xset[0].Value, ContentType: form, Body: "csrfmiddlewaretoken=" + xtok, Want: 200},
		}
		// HeaderName as the header, or as the setting itself.
		for _, name := range []string{"X-XSRF-Token", "HTTP_X_XSRF_TOKEN"} {
			t.Run(name, func(t *testing.T) {
				runCSRFCheck(t, &DjangoCSRF{HeaderName: name, CookieName: "xsrf"}, settings, cases)
			})
		}
	})
}

// TestDjangoCSRFCheckProxied checks that the scheme of a TLS-terminating
// proxy that middleware.TrustProxies trusts turns the Referer check on, as
// it does in Django (wsgi.url_scheme https).
func TestDjangoCSRFCheckProxied(t *testing.T) {
	c := &DjangoCSRF{}
	tok, set := csrfToken(t, c, "")
	var err error
	h := middleware.TrustProxies(middleware.MustParseProxies("192.0.2.1/32"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err = c.Check(r)
	}))
	r := httptest.NewRequest("POST", "http://testserver/form/", nil)
	r.RemoteAddr = "192.0.2.1:5000"
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-CSRFToken", tok)
	r.AddCookie(set)
	h.ServeHTTP(httptest.NewRecorder(), r)
	var ce *CSRFError
	if !errors.As(err, &ce) || ce.Reason != CSRFReasonNoReferer {
		t.Errorf("behind a trusted https proxy, without Referer: %v, want %q", err, CSRFReasonNoReferer)
	}
}
