package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var csrfInput = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`)

// A user logs in through the Django admin's form (a real POST with its
// CSRF token); the Go route /legacy/me/ then answers who that is, with the
// same cookies, through graft's Django identity hook.
func TestIdentityFromDjangoLogin(t *testing.T) {
	srv := startSite(t, "/legacy", true)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fetch := func(method, path string, form url.Values) (int, http.Header, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}

	if status, hdr, body := fetch("GET", "/legacy/me/", nil); status != 401 || hdr.Get("X-Served-By") == "python" {
		t.Fatalf("anonymous GET /legacy/me/: %d %q, want Go's 401", status, body)
	}
	_, _, page := fetch("GET", "/legacy/admin/login/?next=/legacy/admin/", nil)
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the admin's login form:\n%s", page)
	}
	status, hdr, _ := fetch("POST", "/legacy/admin/login/?next=/legacy/admin/", url.Values{
		"csrfmiddlewaretoken": {m[1]}, "username": {"admin"}, "password": {testPassword}, "next": {"/legacy/admin/"},
	})
	if status != http.StatusFound || hdr.Get("Location") != "/legacy/admin/" {
		t.Fatalf("admin login: %d Location %q, want 302 to /legacy/admin/", status, hdr.Get("Location"))
	}
	status, hdr, body := fetch("GET", "/legacy/me/", nil)
	if status != 200 || hdr.Get("X-Served-By") == "python" {
		t.Fatalf("GET /legacy/me/: %d %v %s", status, hdr, body)
	}
	var id map[string]any
	if err := json.Unmarshal([]byte(body), &id); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": 1.0, "username": "admin", "is_staff": true, "is_superuser": true, "groups": []any{}}
	if !reflect.DeepEqual(id, want) {
		t.Fatalf("GET /legacy/me/ = %v, want %v", id, want)
	}

	// Logging out in Django ends it for Go too (a new session cookie).
	_, _, page = fetch("GET", "/legacy/admin/", nil)
	if m = csrfInput.FindStringSubmatch(page); m == nil {
		// Django 3.2's logout is a GET link; later versions post a form.
		fetch("GET", "/legacy/admin/logout/", nil)
	} else {
		fetch("POST", "/legacy/admin/logout/", url.Values{"csrfmiddlewaretoken": {m[1]}})
	}
	if status, _, body := fetch("GET", "/legacy/me/", nil); status != 401 {
		t.Fatalf("after logout: %d %s", status, body)
	}
}
