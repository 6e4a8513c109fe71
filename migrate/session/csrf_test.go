package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// csrfToken calls Token for a request with the given CSRF cookie value
// ("" for none) and returns the token and the cookie it set, if any.
func csrfToken(t *testing.T, c *DjangoCSRF, cookie string) (string, *http.Cookie) {
	t.Helper()
	r := httptest.NewRequest("GET", "/form", nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: "csrftoken", Value: cookie})
	}
	w := httptest.NewRecorder()
	tok := c.Token(w, r)
	if len(tok) != 64 || strings.Trim(tok, csrfChars) != "" {
		t.Fatalf("Token = %q, want 64 letters and digits", tok)
	}
	if w.Header().Get("Vary") != "Cookie" {
		t.Errorf("Vary: %q, want Cookie", w.Header().Get("Vary"))
	}
	var set *http.Cookie
	if cs := w.Result().Cookies(); len(cs) > 0 {
		set = cs[0]
	}
	return tok, set
}

// TestDjangoCSRFAcceptedByDjango posts Go's tokens through Django's own
// CsrfViewMiddleware (django.test.Client with CSRF checks on).
func TestDjangoCSRFAcceptedByDjango(t *testing.T) {
	c := &DjangoCSRF{}
	tok, set := csrfToken(t, c, "")
	if set == nil || set.Name != "csrftoken" || len(set.Value) != 64 || set.Path != "/" ||
		set.SameSite != http.SameSiteLaxMode || set.MaxAge != 31449600 || set.HttpOnly {
		t.Fatalf("new CSRF cookie: %+v", set)
	}
	again, set2 := csrfToken(t, c, set.Value)
	if set2 != nil || again == tok {
		t.Errorf("second token: cookie %v set again, token %q (first %q): want no cookie and a fresh mask", set2, again, tok)
	}
	secret32 := strings.Repeat("aB3", 10) + "xY" // a Django >= 4.1 unmasked cookie
	tok32, set32 := csrfToken(t, c, secret32)
	if set32 != nil {
		t.Errorf("a valid 32-character cookie was replaced: %v", set32)
	}
	_, other := csrfToken(t, c, "")
	_, replaced := csrfToken(t, c, "not a token!")
	if replaced == nil {
		t.Errorf("an invalid cookie was kept")
	}

	cases := []struct {
		name, cookie, token string
		status              int
	}{
		{"new cookie", set.Value, tok, 200},
		{"same cookie, fresh mask", set.Value, again, 200},
		{"32-character secret cookie", secret32, tok32, 200},
		{"tampered token", set.Value, tamper(tok, 40), 403},
		{"token of another cookie", other.Value, tok, 403},
		{"no token", set.Value, "", 403},
		{"no cookie", "", tok, 403},
	}
	var args []djangoArg
	for _, c := range cases {
		args = append(args, djangoArg{Cookie: c.cookie, Token: c.token})
	}
	got := django(t, "csrf", args...)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got[i].Status != c.status || (c.status == 200 && got[i].Body != "ok: hello") {
				t.Errorf("Django answered %d %q, want %d", got[i].Status, got[i].Body, c.status)
			}
		})
	}
}

// TestDjangoCSRFCookieSettings checks the cookie options and csrfSecret.
func TestDjangoCSRFCookieSettings(t *testing.T) {
	c := &DjangoCSRF{CookieName: "xsrf", CookiePath: "/app", CookieDomain: "example.com",
		CookieSecure: true, CookieHTTPOnly: true, CookieAge: time.Hour}
	w := httptest.NewRecorder()
	c.Token(w, httptest.NewRequest("GET", "/", nil))
	set := w.Result().Cookies()
	if len(set) != 1 || set[0].Name != "xsrf" || set[0].Path != "/app" || set[0].Domain != "example.com" ||
		!set[0].Secure || !set[0].HttpOnly || set[0].MaxAge != 3600 {
		t.Fatalf("cookie: %v", w.Header()["Set-Cookie"])
	}
	for _, c := range []struct {
		sameSite http.SameSite
		want     string
	}{
		{0, "; SameSite=Lax"},
		{http.SameSiteStrictMode, "; SameSite=Strict"},
		{http.SameSiteNoneMode, "; SameSite=None"},
		{http.SameSiteDefaultMode, ""},
	} {
		w := httptest.NewRecorder()
		(&DjangoCSRF{CookieSameSite: c.sameSite, CookieSecure: true}).Token(w, httptest.NewRequest("GET", "/", nil))
		set := w.Header().Get("Set-Cookie")
		if !strings.HasSuffix(set, "; Secure"+c.want) {
			t.Errorf("CookieSameSite %v: Set-Cookie %q, want it to end with %q", c.sameSite, set, "; Secure"+c.want)
		}
	}
	for _, v := range []string{"", "short", strings.Repeat("a", 33), strings.Repeat("é", 16), strings.Repeat("-", 64)} {
		if csrfSecret(v) != nil {
			t.Errorf("csrfSecret(%q) accepted", v)
		}
	}
	secret := csrfRandom()
	if got := csrfSecret(csrfMask(secret)); string(got) != string(secret) {
		t.Errorf("csrfSecret(csrfMask(s)) = %v, want %v", got, secret)
	}
}

// TestDjangoCSRFDuplicateCookies gives Token requests with two csrftoken
// cookies, and posts its tokens with the same Cookie header through
// Django's CsrfViewMiddleware, which checks them against the last cookie.
func TestDjangoCSRFDuplicateCookies(t *testing.T) {
	c := &DjangoCSRF{}
	a, b := csrfMask(csrfRandom()), csrfMask(csrfRandom())
	token := func(header string) (string, bool) {
		r := httptest.NewRequest("POST", "/form/", nil)
		r.Header.Set("Cookie", header)
		w := httptest.NewRecorder()
		tok := c.Token(w, r)
		return tok, len(w.Result().Cookies()) > 0
	}
	cases := []struct {
		name, header string
	}{
		{"a then b", "csrftoken=" + a + "; csrftoken=" + b},
		{"b then a", "csrftoken=" + b + "; csrftoken=" + a},
		{"among others", "x=1; csrftoken=" + a + "; sessionid=s; csrftoken=" + b + "; y=2"},
	}
	var args []djangoArg
	for _, tc := range cases {
		tok, set := token(tc.header)
		if set {
			t.Errorf("%s: a valid last cookie was replaced", tc.name)
		}
		args = append(args, djangoArg{Header: tc.header, Token: tok})
	}
	got := django(t, "csrf", args...)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got[i].Status != 200 {
				t.Errorf("Django answered %d %q to Go's token, want 200", got[i].Status, got[i].Body)
			}
		})
	}
	t.Run("invalid last", func(t *testing.T) {
		// Django makes a new secret for an invalid last cookie, whatever
		// the earlier ones: so does Go, and it sets the cookie.
		if _, set := token("csrftoken=" + a + "; csrftoken=not-a-token"); !set {
			t.Errorf("no new cookie for an invalid last csrftoken")
		}
	})
}
