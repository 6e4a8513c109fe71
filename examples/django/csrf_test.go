package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfField = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"`)

// TestGoFormPostsToDjango renders the feedback form in Go and submits it
// to the Django view, through Django's CsrfViewMiddleware.
func TestGoFormPostsToDjango(t *testing.T) {
	srv := startSite(t, "/legacy", true)
	u, _ := url.Parse(srv.URL + "/legacy/")
	client := func() (*http.Client, *cookiejar.Jar) {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}, jar
	}
	send := func(t *testing.T, c *http.Client, method, path string, form url.Values) (int, http.Header, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	// formToken loads Go's form and returns its token.
	formToken := func(t *testing.T, c *http.Client) string {
		t.Helper()
		status, h, body := send(t, c, "GET", "/legacy/feedback/", nil)
		m := csrfField.FindStringSubmatch(body)
		if status != 200 || h.Get("X-Served-By") != "go" || m == nil || !strings.Contains(body, `action="/legacy/feedback/"`) {
			t.Fatalf("GET /legacy/feedback/: %d %v %q", status, h, body)
		}
		return m[1]
	}
	post := func(t *testing.T, c *http.Client, token string) (int, http.Header, string) {
		t.Helper()
		return send(t, c, "POST", "/legacy/feedback/", url.Values{"csrfmiddlewaretoken": {token}, "message": {"hello <Go>"}})
	}

	t.Run("Go's cookie and token", func(t *testing.T) {
		c, jar := client()
		tok := formToken(t, c)
		if len(jar.Cookies(u)) != 1 || jar.Cookies(u)[0].Name != "csrftoken" {
			t.Fatalf("cookies after Go's form: %v", jar.Cookies(u))
		}
		status, h, body := post(t, c, tok)
		if status != 200 || h.Get("X-Served-By") != "python" || !strings.Contains(body, "Django received: hello &lt;Go&gt;") {
			t.Errorf("POST to Django: %d %v %q", status, h, body)
		}
		// A second form from the same cookie works too.
		if status, _, _ := post(t, c, formToken(t, c)); status != 200 {
			t.Errorf("second POST: %d", status)
		}
	})
	t.Run("Django's cookie, Go's token", func(t *testing.T) {
		c, jar := client()
		if status, _, _ := send(t, c, "GET", "/legacy/admin/login/", nil); status != 200 {
			t.Fatalf("admin login page: %d", status)
		}
		djangoCookie := jar.Cookies(u)
		tok := formToken(t, c)
		if got := jar.Cookies(u); len(got) != 1 || got[0].Value != djangoCookie[0].Value {
			t.Errorf("Go replaced Django's CSRF cookie: %v, was %v", got, djangoCookie)
		}
		if status, _, body := post(t, c, tok); status != 200 {
			t.Errorf("POST: %d %q", status, body)
		}
	})
	t.Run("rejected by Django", func(t *testing.T) {
		c, _ := client()
		tok := formToken(t, c)
		bad := []byte(tok)
		if bad[50] == 'A' {
			bad[50] = 'B'
		} else {
			bad[50] = 'A'
		}
		for name, token := range map[string]string{"tampered token": string(bad), "no token": ""} {
			if status, h, _ := post(t, c, token); status != 403 || h.Get("X-Served-By") != "" {
				t.Errorf("%s: %d %v, want Django's 403", name, status, h)
			}
		}
		// The right token with no cookie.
		other, _ := client()
		if status, _, _ := post(t, other, tok); status != 403 {
			t.Errorf("no cookie: %d, want 403", status)
		}
	})
}
