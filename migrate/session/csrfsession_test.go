package session

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDjangoCSRFSessionToken posts SessionToken's tokens through the real
// Django's CsrfViewMiddleware with CSRF_USE_SESSIONS = True and the
// signed-cookies session backend, the session cookie being the one Go
// saved after storing the secret.
func TestDjangoCSRFSessionToken(t *testing.T) {
	c := &DjangoCSRF{}
	d := &Django{SecretKey: djangoKey}
	s := Session{"_auth_user_id": "42"}
	tok, changed, err := c.SessionToken(s)
	if err != nil || !changed || len(s[DjangoCSRFSessionKey].(string)) != 64 {
		t.Fatalf("SessionToken(a session without a secret) = %q, %v, %v; session %v", tok, changed, err, s)
	}
	again, changed, err := c.SessionToken(s)
	if err != nil || changed || again == tok {
		t.Errorf("second SessionToken = %q, %v, %v: want the same secret, a fresh mask, no change", again, changed, err)
	}
	cookie, err := d.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	other := Session{}
	otherTok, _, _ := c.SessionToken(other)
	otherCookie, _ := d.Encode(other)
	unsaved, _ := d.Encode(Session{"_auth_user_id": "42"})
	secret32 := Session{DjangoCSRFSessionKey: "aB3aB3aB3aB3aB3aB3aB3aB3aB3aB3xY"} // as Django >= 4.1 stores it
	tok32, changed32, _ := c.SessionToken(secret32)
	if changed32 {
		t.Errorf("a valid 32-character secret was replaced")
	}
	if _, _, err := c.SessionToken(nil); err == nil {
		t.Error("SessionToken(nil): no error")
	}

	cases := []struct {
		name, header, token string
		status              int
	}{
		{"token", "sessionid=" + cookie, tok, 200},
		{"fresh mask", "sessionid=" + cookie, again, 200},
		{"token of another session", "sessionid=" + otherCookie, tok, 403},
		{"other session's own token", "sessionid=" + otherCookie, otherTok, 200},
		{"session not saved", "sessionid=" + unsaved, tok, 403},
		{"tampered token", "sessionid=" + cookie, tamper(tok, 40), 403},
	}
	var args []djangoArg
	for _, c := range cases {
		args = append(args, djangoArg{Header: c.header, Token: c.token})
	}
	var got []djangoOut
	runPy(t, "django_tool.py", "django", djangoReq{Op: "csrf", Key: djangoKey,
		Settings: map[string]any{"CSRF_USE_SESSIONS": true}, Cases: args}, &got)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got[i].Status != c.status || (c.status == 200 && got[i].Body != "ok: hello") {
				t.Errorf("Django answered %d %q, want %d", got[i].Status, got[i].Body, c.status)
			}
		})
	}
	// Django 3.2 cannot read a 32-character secret in the session (it
	// unmasks the session value as a 64-character token): check the mask.
	if string(csrfSecret(tok32)) != string(csrfSecret(secret32[DjangoCSRFSessionKey].(string))) {
		t.Errorf("token %q is not masked over the session's 32-character secret", tok32)
	}
}

// TestDjangoCSRFCheckSessions checks that Check and CheckSession decide
// as Django 3.2's CsrfViewMiddleware does with CSRF_USE_SESSIONS = True,
// with the same reason: the secret is the session's (the signed-cookies
// backend read by Check, the database backend's rows by CheckSession),
// the CSRF cookie counts for nothing, and the Referer check takes
// SESSION_COOKIE_DOMAIN for CSRF_COOKIE_DOMAIN.
func TestDjangoCSRFCheckSessions(t *testing.T) {
	d := &Django{SecretKey: djangoKey}
	c := &DjangoCSRF{UseSessions: true, Sessions: d}
	encode := func(s Session) string {
		t.Helper()
		v, err := d.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sess := Session{"_auth_user_id": "42"}
	tok, _, err := c.SessionToken(sess)
	if err != nil {
		t.Fatal(err)
	}
	masked := sess[DjangoCSRFSessionKey].(string)
	cookie := "sessionid=" + encode(sess)
	otherTok, _, _ := c.SessionToken(Session{})
	// A CSRF cookie and its token, as a cookie-tossing attacker sets them:
	// Django reads the session only.
	cookieTok, set := csrfToken(t, &DjangoCSRF{}, "")
	secret32 := strings.Repeat("aB3", 10) + "xY"
	tok32, _, _ := c.SessionToken(Session{DjangoCSRFSessionKey: secret32})
	old := &Django{SecretKey: djangoKey, Now: func() time.Time { return time.Now().Add(-15 * 24 * time.Hour) }}
	expired, err := old.Encode(sess)
	if err != nil {
		t.Fatal(err)
	}
	with := func(v any) string { return "sessionid=" + encode(Session{DjangoCSRFSessionKey: v}) }
	form := "application/x-www-form-urlencoded"
	post := func(name, cookie, token string, want int) csrfCheckCase {
		return csrfCheckCase{Name: name, Method: "POST", Cookie: cookie, ContentType: form, Body: "msg=hi&csrfmiddlewaretoken=" + token, Want: want}
	}
	hdr := map[string]string{"X-CSRFToken": tok}
	settings := map[string]any{"CSRF_USE_SESSIONS": true}

	runCSRFCheck(t, c, settings, []csrfCheckCase{
		{Name: "GET without anything", Method: "GET", Want: 200},
		post("form token", cookie, tok, 200),
		{Name: "header token", Method: "POST", Cookie: cookie, ContentType: "application/json", Body: "{}", Headers: hdr, Want: 200},
		post("unmasked secret as token", cookie, string(secretChars(csrfSecret(masked))), 200),
		post("token of another session", cookie, otherTok, 403),
		post("tampered token", cookie, tamper(tok, 40), 403),
		post("no token", cookie, "", 403),
		post("no session", "", tok, 403),
		post("session without a secret", "sessionid="+encode(Session{"_auth_user_id": "42"}), tok, 403),
		post("secret None", with(nil), tok, 403),
		post("session signature tampered", "sessionid="+tamper(encode(sess), 3), tok, 403),
		post("session expired", "sessionid="+expired, tok, 403),
		post("empty session cookie", "sessionid=", tok, 403),
		post("CSRF cookie and its token, no session", "csrftoken="+set.Value, cookieTok, 403),
		post("CSRF cookie and its token, session of another secret", "csrftoken="+set.Value+"; "+cookie, cookieTok, 403),
		post("duplicate session cookies: the last one counts", "sessionid="+encode(Session{})+"; "+cookie, tok, 200),
		post("32-character secret in the session", with(secret32), tok32, 403),
		post("secret of 40 characters", with(masked[:40]), tok, 403),
		post("empty secret", with(""), tok, 403),
		post("short secret with other characters", with("not a token!"), tok, 403),
		post("secret with characters after its 64", with(masked+"xyz"), tok, 200),
		post("secret with a bad 65th character", with(masked+"-"), tok, 500),
		post("secret with a bad character", with(masked[:10]+"-"+masked[11:]), tok, 500),
		post("secret with a non-ASCII character", with(masked[:50]+"é"+masked[51:]), tok, 500),
		post("secret a number", with(5), tok, 500),
		{Name: "https: same host", Method: "POST", Secure: true, Referer: ref("https://testserver/"), Cookie: cookie, Headers: hdr, Want: 200},
		{Name: "https: no Referer", Method: "POST", Secure: true, Cookie: cookie, Headers: hdr, Want: 403},
	})

	t.Run("session cookie domain and name", func(t *testing.T) {
		d := &Django{SecretKey: djangoKey, CookieName: "sid"}
		c := &DjangoCSRF{UseSessions: true, Sessions: d, SessionCookieDomain: "site.test", CookieDomain: "csrf.test"}
		sid := "sid=" + encode(sess)
		runCSRFCheck(t, c, map[string]any{"CSRF_USE_SESSIONS": true, "SESSION_COOKIE_NAME": "sid",
			"SESSION_COOKIE_DOMAIN": "site.test", "CSRF_COOKIE_DOMAIN": "csrf.test"}, []csrfCheckCase{
			post("own session cookie name", sid, tok, 200),
			post("default session cookie name", cookie, tok, 403),
			{Name: "https: session cookie domain", Method: "POST", Secure: true, Referer: ref("https://site.test/"), Cookie: sid, Headers: hdr, Want: 200},
			{Name: "https: CSRF cookie domain", Method: "POST", Secure: true, Referer: ref("https://csrf.test/"), Cookie: sid, Headers: hdr, Want: 403},
			{Name: "https: the request's host", Method: "POST", Secure: true, Referer: ref("https://testserver/"), Cookie: sid, Headers: hdr, Want: 403},
			{Name: "https: session cookie domain with the request's port", Method: "POST", Secure: true, Host: "testserver:8443", Referer: ref("https://site.test:8443/"), Cookie: sid, Headers: hdr, Want: 200},
		})
	})

	t.Run("database backend", func(t *testing.T) {
		stored := func(s Session) string {
			t.Helper()
			v, err := d.EncodeStored(s)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		key := func(b byte) string { return strings.Repeat(string(b), 32) }
		rows := map[string]string{
			key('a'): stored(sess),
			key('b'): stored(Session{"_auth_user_id": "42"}),
			key('c'): "not session data",
			key('d'): stored(Session{DjangoCSRFSessionKey: masked + "-"}),
		}
		// What a handler does: look the cookie's key up, decode the row,
		// and check.
		check := func(r *http.Request) error {
			k, _ := djangoCookie(r, DjangoCookieName)
			var s Session
			if data, ok := rows[k]; ok {
				var err error
				s, err = d.DecodeStored(data)
				if errors.Is(err, ErrBadSignature) || errors.Is(err, ErrMalformed) {
					s = nil // Django: "Session data corrupted", an empty session
				} else if err != nil {
					return err
				}
			}
			return c.CheckSession(r, s)
		}
		runCSRFCheckWith(t, check, map[string]any{"CSRF_USE_SESSIONS": true,
			"SESSION_ENGINE": "django.contrib.sessions.backends.db"}, rows, []csrfCheckCase{
			post("form token", "sessionid="+key('a'), tok, 200),
			post("token of another session", "sessionid="+key('a'), otherTok, 403),
			post("session without a secret", "sessionid="+key('b'), tok, 403),
			post("corrupted session_data", "sessionid="+key('c'), tok, 403),
			post("secret with a bad character", "sessionid="+key('d'), tok, 500),
			post("no such session", "sessionid="+key('e'), tok, 403),
			post("CSRF cookie and its token", "csrftoken="+set.Value+"; sessionid="+key('a'), cookieTok, 403),
		})
	})

	t.Run("misuse", func(t *testing.T) {
		r := func(cookie string) *http.Request {
			r := httptest.NewRequest("POST", "/form/", strings.NewReader("csrfmiddlewaretoken="+tok))
			r.Header.Set("Content-Type", form)
			r.Header.Set("Cookie", cookie)
			return r
		}
		var ce *CSRFError
		for _, m := range []struct {
			name string
			err  error
			want string
		}{
			// Django (signed cookies) reads this as an empty session: Go
			// says why it cannot be what the project uses.
			{"database key with Check", c.Check(r("sessionid=" + strings.Repeat("a", 32))), "CheckSession"},
			{"Check without Sessions", (&DjangoCSRF{UseSessions: true}).Check(r(cookie)), "Sessions"},
			{"CheckSession without UseSessions", (&DjangoCSRF{}).CheckSession(r(cookie), sess), "UseSessions"},
			{"pickled session", (&DjangoCSRF{UseSessions: true, Sessions: d}).Check(r("sessionid=" + pickled(t, d))), "cannot read the session"},
		} {
			if m.err == nil || errors.As(m.err, &ce) || !strings.Contains(m.err.Error(), m.want) {
				t.Errorf("%s: %v, want an error (not a *CSRFError) that mentions %q", m.name, m.err, m.want)
			}
		}
	})
}

// pickled returns a signed-cookies session value whose signature d
// verifies and whose payload is not JSON, as the PickleSerializer writes.
func pickled(t *testing.T, d *Django) string {
	t.Helper()
	signer := d.signer(DjangoCookieSessionSalt)
	v, err := signer.Sign(b64.EncodeToString([]byte("\x80\x04\x95\x00")))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDjangoCSRFTokenUseSessions checks Token with UseSessions against a
// page of the real Django 3.2 with CSRF_USE_SESSIONS = True that renders a
// token (get_token), requested with the same Cookie header: Django never
// sets a csrftoken cookie; when the signed-cookies session holds a secret
// it leaves the session alone (Vary: Cookie, no Set-Cookie) and Go's token
// over that secret must be one Django accepts; when the session has none
// Django stores a new one and saves the session, which Token cannot do,
// so it returns "" and sets nothing.
func TestDjangoCSRFTokenUseSessions(t *testing.T) {
	d := &Django{SecretKey: djangoKey}
	c := &DjangoCSRF{UseSessions: true, Sessions: d}
	sess := Session{"_auth_user_id": "42"}
	if _, _, err := c.SessionToken(sess); err != nil {
		t.Fatal(err)
	}
	withSecret, err := d.Encode(sess)
	if err != nil {
		t.Fatal(err)
	}
	noSecret, err := d.Encode(Session{"_auth_user_id": "42"})
	if err != nil {
		t.Fatal(err)
	}
	csrfCookie := csrfMask(csrfRandom())
	cases := []struct {
		name, header string
		token        bool // Django keeps the session's secret: Go gives a token over it
	}{
		{"session with a secret", "sessionid=" + withSecret, true},
		{"session with a secret and a csrftoken cookie", "csrftoken=" + csrfCookie + "; sessionid=" + withSecret, true},
		{"session without a secret", "sessionid=" + noSecret, false},
		{"no session", "", false},
		{"only a csrftoken cookie", "csrftoken=" + csrfCookie, false},
		{"session signature tampered", "sessionid=" + tamper(withSecret, 3), false},
	}
	var args []djangoArg
	for _, tc := range cases {
		args = append(args, djangoArg{Header: tc.header})
	}
	settings := map[string]any{"CSRF_USE_SESSIONS": true}
	var pages []djangoOut
	runPy(t, "django_tool.py", "django", djangoReq{Op: "csrf_get", Key: djangoKey, Settings: settings, Cases: args}, &pages)
	if len(pages) != len(cases) {
		t.Fatalf("django_tool.py csrf_get: %d results for %d cases", len(pages), len(cases))
	}
	tokens := make([]string, len(cases))
	var posts []djangoArg
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dj := pages[i]
			if strings.Contains(dj.Value, "csrftoken=") || tc.token != (dj.Value == "") ||
				!tc.token && !strings.HasPrefix(dj.Value, "sessionid=") || !strings.Contains(dj.Vary, "Cookie") {
				t.Fatalf("Django set %q (Vary %q): the test's premise fails", dj.Value, dj.Vary)
			}
			r := httptest.NewRequest("GET", "/form", nil)
			if tc.header != "" {
				r.Header.Set("Cookie", tc.header)
			}
			w := httptest.NewRecorder()
			tokens[i] = c.Token(w, r)
			if set := w.Header().Values("Set-Cookie"); len(set) != 0 {
				t.Errorf("Go set %q, Django %q: with CSRF_USE_SESSIONS Django sets no csrftoken cookie", set, dj.Value)
			}
			if !tc.token {
				if tokens[i] != "" {
					t.Errorf("Token = %q: Django stores a new secret in the session, which Token cannot save; want \"\"", tokens[i])
				}
				return
			}
			if !strings.Contains(w.Header().Get("Vary"), "Cookie") {
				t.Errorf("Go's Vary %q, Django's %q", w.Header().Get("Vary"), dj.Vary)
			}
			if len(tokens[i]) != csrfTokenLength {
				t.Fatalf("Token = %q, want a token over the session's secret", tokens[i])
			}
		})
		if tc.token && len(tokens[i]) == csrfTokenLength {
			posts = append(posts, djangoArg{Header: tc.header, Token: tokens[i]})
		}
	}
	if len(posts) == 0 {
		return
	}
	var got []djangoOut
	runPy(t, "django_tool.py", "django", djangoReq{Op: "csrf", Key: djangoKey, Settings: settings, Cases: posts}, &got)
	for i, p := range posts {
		if got[i].Status != 200 || got[i].Body != "ok: hello" {
			t.Errorf("Django answered %d %q to Go's token with Cookie %q, want 200", got[i].Status, got[i].Body, p.Header)
		}
	}
	t.Run("without Sessions", func(t *testing.T) {
		// Token cannot read the session: it says so with "", and sets
		// no cookie Django would ignore.
		r := httptest.NewRequest("GET", "/form", nil)
		r.Header.Set("Cookie", "sessionid="+withSecret)
		w := httptest.NewRecorder()
		if tok := (&DjangoCSRF{UseSessions: true}).Token(w, r); tok != "" || len(w.Header().Values("Set-Cookie")) != 0 {
			t.Errorf("Token = %q, Set-Cookie %q: want \"\" and none", tok, w.Header().Values("Set-Cookie"))
		}
	})
}
