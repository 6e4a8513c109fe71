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
	if set2 == nil || set2.Value != set.Value || again == tok {
		t.Errorf("second token: cookie %v, token %q (first %q): want the same cookie renewed and a fresh mask", set2, again, tok)
	}
	secret32 := strings.Repeat("aB3", 10) + "xY" // a Django >= 4.1 unmasked cookie
	tok32, set32 := csrfToken(t, c, secret32)
	if set32 == nil || set32.Value != secret32 {
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
	// token returns the token and the cookie value Token set (it renews a
	// valid last cookie with its own value).
	token := func(header string) (string, string) {
		r := httptest.NewRequest("POST", "/form/", nil)
		r.Header.Set("Cookie", header)
		w := httptest.NewRecorder()
		tok := c.Token(w, r)
		set := w.Result().Cookies()
		if len(set) != 1 {
			return tok, ""
		}
		return tok, set[0].Value
	}
	cases := []struct {
		name, header, last string
	}{
		{"a then b", "csrftoken=" + a + "; csrftoken=" + b, b},
		{"b then a", "csrftoken=" + b + "; csrftoken=" + a, a},
		{"among others", "x=1; csrftoken=" + a + "; sessionid=s; csrftoken=" + b + "; y=2", b},
	}
	var args []djangoArg
	for _, tc := range cases {
		tok, set := token(tc.header)
		if set != tc.last {
			t.Errorf("%s: cookie set %q, want the valid last one renewed", tc.name, set)
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
		if _, set := token("csrftoken=" + a + "; csrftoken=not-a-token"); set == "" || set == a {
			t.Errorf("cookie set %q: want a new one for an invalid last csrftoken", set)
		}
	})
}

// TestDjangoCSRFTokenRenewsCookie checks that Token sets the CSRF cookie
// on every call, the existing one again when it is valid, as Django's
// CsrfViewMiddleware does for every answer whose page used get_token ("so
// we renew the expiry timer"): without it the cookie of a user who only
// sees Go's pages expires a year after it was set, and a shadow
// comparison of a Go page against the Django page it replaces differs on
// Set-Cookie for every request that has the cookie.
func TestDjangoCSRFTokenRenewsCookie(t *testing.T) {
	c := &DjangoCSRF{}
	valid := csrfMask(csrfRandom())
	secret32 := strings.Repeat("aB3", 10) + "xY"
	cases := []struct {
		name, header string
		same         bool // Django sends the cookie's own value back
	}{
		{"no cookie", "", false},
		{"valid cookie", "csrftoken=" + valid, true},
		{"among others", "x=1; csrftoken=" + valid + "; y=2", true},
		{"invalid cookie", "csrftoken=not-a-token", false},
	}
	var args []djangoArg
	for _, tc := range cases {
		args = append(args, djangoArg{Header: tc.header})
	}
	got := django(t, "csrf_get", args...)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dj := got[i].Value
			if !strings.HasPrefix(dj, "csrftoken=") {
				t.Fatalf("Django set %q: the test's premise fails", dj)
			}
			if tc.same != strings.HasPrefix(dj, "csrftoken="+valid+";") {
				t.Fatalf("Django set %q: the test's premise (same value: %v) fails", dj, tc.same)
			}
			r := httptest.NewRequest("GET", "/form", nil)
			if tc.header != "" {
				r.Header.Set("Cookie", tc.header)
			}
			w := httptest.NewRecorder()
			tok := c.Token(w, r)
			set := w.Result().Cookies()
			if len(set) != 1 || set[0].Name != "csrftoken" {
				t.Fatalf("Go set %q, Django %q", w.Header().Values("Set-Cookie"), dj)
			}
			if tc.same && set[0].Value != valid {
				t.Errorf("Go set the value %q, Django the cookie's own %q", set[0].Value, valid)
			}
			if string(csrfSecret(set[0].Value)) != string(csrfSecret(tok)) {
				t.Errorf("the token %q is not masked over the cookie set %q", tok, set[0].Value)
			}
			if set[0].MaxAge != 31449600 || set[0].Path != "/" || set[0].SameSite != http.SameSiteLaxMode ||
				!strings.Contains(dj, "Max-Age=31449600") || !strings.Contains(dj, "Path=/") || !strings.Contains(dj, "SameSite=Lax") {
				t.Errorf("attributes: Go %q, Django %q", w.Header().Get("Set-Cookie"), dj)
			}
		})
	}
	// A 32-character secret (Django >= 4.1's cookie) is set again as it is:
	// every version reads it.
	r := httptest.NewRequest("GET", "/form", nil)
	r.Header.Set("Cookie", "csrftoken="+secret32)
	w := httptest.NewRecorder()
	c.Token(w, r)
	if set := w.Result().Cookies(); len(set) != 1 || set[0].Value != secret32 {
		t.Errorf("32-character cookie: Go set %q, want it again", w.Header().Values("Set-Cookie"))
	}
}
