package session

import "testing"

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
