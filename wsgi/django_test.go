package wsgi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
)

// End-to-end tests of a real Django project (testdata/djangoapp) served by
// the container: sessions in a sqlite3 database, auth with
// RemoteUserMiddleware, and CsrfViewMiddleware. The e2e* helpers live in
// flask_test.go.

// newDjango migrates a fresh sqlite3 database in a temp dir and starts a
// container for the project with cfg (App and Env are filled in).
func newDjango(t *testing.T, cfg Config) (*Container, *pythontest.Buffer) {
	t.Helper()
	pythontest.Python(t, "django")
	db := filepath.Join(t.TempDir(), "db.sqlite3")
	env := []string{"GRAFT_DJANGO_DB=" + db, "DJANGO_SETTINGS_MODULE=djangoapp.settings"}
	cmd := exec.Command(pythontest.Python(t), "-m", "django", "migrate", "--noinput", "-v0")
	cmd.Dir = testdataDir(t)
	cmd.Env = append(cmd.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("django migrate: %v\n%s", err, out)
	}
	cfg.App = "djangoapp.wsgi:application"
	cfg.Env = append(cfg.Env, env...)
	return newContainer(t, cfg)
}

var djangoCSRFToken = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`)

func TestDjango(t *testing.T) {
	files := t.TempDir() // served at /files/<name>
	c, logs := newDjango(t, Config{Env: []string{"GRAFT_FILES_DIR=" + files}})
	srv := newServer(t, c)

	t.Run("Routing", func(t *testing.T) {
		cl := newE2EClient(t, srv.URL, false)
		e2eTestPages(t, cl, []e2ePage{
			{"/", "django index"},
			{"/hello/bob/", "hello bob"},
			{"/hello/a%20b/", "hello a b"},
			{"/hello/x%3Fy/", "hello x?y"},
		})
		e2eTestItems(t, cl, []e2eItem{
			{"/items/42/", 42, nil},
			{"/items/7/?q=%C3%A9t%C3%A9+x", 7, e2ePtr("été x")},
		})
		if resp, _ := cl.get("/items/abc/"); resp.StatusCode != 404 {
			t.Errorf("GET /items/abc/ = %d, want 404", resp.StatusCode)
		}
		// CommonMiddleware's APPEND_SLASH.
		resp, _ := cl.get("/hello/bob?x=1")
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != "/hello/bob/?x=1" {
			t.Errorf("GET /hello/bob?x=1 = %d Location %q, want 301 to /hello/bob/?x=1", resp.StatusCode, loc)
		}
		// HEAD: Django runs the GET view; net/http drops the body.
		e2eTestHead(t, cl, "/hello/bob/", "hello bob")
	})

	t.Run("JSON", func(t *testing.T) {
		e2eTestJSON(t, srv.URL, "/json/")
	})

	t.Run("Form", func(t *testing.T) {
		e2eTestForm(t, srv.URL, "/form/")
	})

	t.Run("Upload", func(t *testing.T) {
		e2eTestUpload(t, srv.URL, "/upload/")
	})

	t.Run("Session", func(t *testing.T) {
		e2eTestSession(t, srv.URL, "/session/set/", "/session/get/", "session")
	})

	t.Run("Cookie", func(t *testing.T) {
		e2eTestCookie(t, srv.URL, "/cookie/set/", "/cookie/get/")
	})

	t.Run("CSRF", func(t *testing.T) {
		testDjangoCSRF(t, srv.URL, "")
	})

	t.Run("Redirect", func(t *testing.T) {
		e2eTestRedirect(t, srv.URL, "/redirect/", "/hello/world/")
	})

	t.Run("Download", func(t *testing.T) {
		e2eTestDownload(t, srv.URL, files, "/files/", "/download/")
	})

	t.Run("Stream", func(t *testing.T) {
		e2eTestStream(t, srv.URL, "/stream/")
	})

	t.Run("NonASCII", func(t *testing.T) {
		e2eTestNonASCII(t, srv, "", "/p/%s/", true)
	})

	t.Run("NotFound", func(t *testing.T) {
		resp, b := newE2EClient(t, srv.URL, false).get("/no/such/page/")
		if resp.StatusCode != 404 || !strings.Contains(string(b), "<h1>Not Found</h1>") {
			t.Errorf("GET /no/such/page/ = %d %s, want Django's 404 page", resp.StatusCode, e2eTrim(b))
		}
		resp, _ = newE2EClient(t, srv.URL, false).do(http.MethodGet, "/json/", nil, nil)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET /json/ = %d Allow %q, want 405 with POST allowed", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})

	t.Run("Exception", func(t *testing.T) {
		// DEBUG=False: Django catches the exception itself and answers
		// with its own 500 page (handler500), logging the traceback on
		// django.request, which the worker forwards to the container log.
		// The container passes the app's 500 through unchanged.
		cl := newE2EClient(t, srv.URL, false)
		resp, b := cl.get("/boom/")
		if resp.StatusCode != 500 {
			t.Fatalf("GET /boom/ = %d, want 500", resp.StatusCode)
		}
		if !strings.Contains(string(b), "Server Error (500)") || strings.Contains(string(b), "djangoapp boom") {
			t.Errorf("500 body = %q, want Django's page without the exception", b)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html" && ct != "text/html; charset=utf-8" {
			t.Errorf("500 Content-Type = %q", ct)
		}
		e2eWaitLog(t, logs, "Internal Server Error: /boom/", "RuntimeError: djangoapp boom")
		if resp, b := cl.get("/hello/again/"); resp.StatusCode != 200 || string(b) != "hello again" {
			t.Errorf("after the exception: %d %q", resp.StatusCode, b)
		}
	})

	t.Run("WithMount", func(t *testing.T) {
		msrv := e2eServe(t, e2eMounted(c, "/legacy"))
		testDjangoMounted(t, msrv)
	})

	t.Run("RemoteUser", func(t *testing.T) {
		asrv := e2eServe(t, e2eAuthenticated(c, "alice"))
		for _, tc := range e2eRemoteUserCases {
			t.Run(tc.name, func(t *testing.T) {
				base := srv.URL
				if tc.auth {
					base = asrv.URL
				}
				var got e2eWhoami
				newE2EClient(t, base, true).json(http.MethodGet, "/whoami/", tc.hdr, nil, 200, &got)
				if e2eStr(got.RemoteUser) != tc.wantUser {
					t.Errorf("META REMOTE_USER = %s, want %s (keys %v)", e2eStr(got.RemoteUser), tc.wantUser, got.Keys)
				}
				// RemoteUserMiddleware logs in exactly the REMOTE_USER.
				if e2eStr(got.User) != tc.wantUser {
					t.Errorf("request.user = %s, want %s", e2eStr(got.User), tc.wantUser)
				}
				if e2eStr(got.HTTPRemoteUser) != tc.wantHeader {
					t.Errorf("META HTTP_REMOTE_USER = %s, want %s (keys %v)", e2eStr(got.HTTPRemoteUser), tc.wantHeader, got.Keys)
				}
				for _, k := range got.Keys {
					if k != "REMOTE_USER" && k != "HTTP_REMOTE_USER" {
						t.Errorf("unexpected META key %q", k)
					}
				}
			})
		}
	})
}

// TestDjangoScriptName serves the project mounted at /legacy by the
// container's own configuration.
func TestDjangoScriptName(t *testing.T) {
	c, _ := newDjango(t, Config{ScriptName: "/legacy"})
	testDjangoMounted(t, newServer(t, c))
}

// testDjangoCSRF runs CsrfViewMiddleware's checks: GET the form for the
// csrftoken cookie and the token, then POST without, with a wrong, and with
// the right token (form field or X-CSRFToken header).
func testDjangoCSRF(t *testing.T, base, prefix string) {
	getToken := func(t *testing.T, cl *e2eClient) string {
		t.Helper()
		resp, b := cl.get(prefix + "/csrf/form/")
		m := djangoCSRFToken.FindSubmatch(b)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("GET %s/csrf/form/ = %d %q: no token", prefix, resp.StatusCode, b)
		}
		if want := `action="` + prefix + `/csrf/submit/"`; !strings.Contains(string(b), want) {
			t.Errorf("form has no %s (built with {%% url %%}): %q", want, b)
		}
		var cookie bool
		for _, ck := range resp.Cookies() {
			cookie = cookie || ck.Name == "csrftoken" && ck.Value != ""
		}
		if !cookie {
			t.Errorf("GET %s/csrf/form/ set no csrftoken cookie: %v", prefix, resp.Header.Values("Set-Cookie"))
		}
		return string(m[1])
	}
	form := func(kv ...string) (http.Header, io.Reader) {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(v.Encode())
	}
	cl := newE2EClient(t, base, true)
	tok := getToken(t, cl)
	other := newE2EClient(t, base, true)
	otherTok := getToken(t, other)
	cases := []struct {
		name   string
		client *e2eClient
		kv     []string
		hdrTok string
		want   int
	}{
		{"no-token", cl, []string{"msg", "hi"}, "", 403},
		{"wrong-token", cl, []string{"msg", "hi", "csrfmiddlewaretoken", strings.Repeat("a", len(tok))}, "", 403},
		{"form-token", cl, []string{"msg", "hi", "csrfmiddlewaretoken", tok}, "", 200},
		{"header-token", cl, []string{"msg", "hi"}, tok, 200},
		{"other-session-token", cl, []string{"msg", "hi", "csrfmiddlewaretoken", otherTok}, "", 403},
		{"token-without-cookie", newE2EClient(t, base, true), []string{"msg", "hi", "csrfmiddlewaretoken", tok}, "", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr, body := form(tc.kv...)
			if tc.hdrTok != "" {
				hdr.Set("X-CSRFToken", tc.hdrTok)
			}
			resp, b := tc.client.do(http.MethodPost, prefix+"/csrf/submit/", hdr, body)
			if resp.StatusCode != tc.want {
				t.Fatalf("POST %s/csrf/submit/ = %d, want %d: %s", prefix, resp.StatusCode, tc.want, e2eTrim(b))
			}
			switch tc.want {
			case 200:
				if !strings.Contains(string(b), `"msg": "hi"`) {
					t.Errorf("body %s", b)
				}
			case 403:
				if !strings.Contains(string(b), "CSRF verification failed") {
					t.Errorf("403 is not CsrfViewMiddleware's: %s", e2eTrim(b))
				}
			}
		})
	}
}

// testDjangoMounted checks the project mounted at /legacy.
func testDjangoMounted(t *testing.T, srv *httptest.Server) {
	t.Run("URLs", func(t *testing.T) {
		// Alternate mounted and unmounted requests: Django's script prefix
		// is per request, not sticky.
		for _, tc := range []struct {
			path, reverse, scriptName, reqPath, pathInfo string
		}{
			{"/legacy/urls/", "/legacy/hello/x/", "/legacy", "/legacy/urls/", "/urls/"},
			{"/urls/", "/hello/x/", "", "/urls/", "/urls/"},
			{"/legacy/urls/?a=b", "/legacy/hello/x/", "/legacy", "/legacy/urls/", "/urls/"},
			{"/legacyx/urls/", "", "", "", ""},
		} {
			t.Run(tc.path, func(t *testing.T) {
				cl := newE2EClient(t, srv.URL, false)
				if tc.reverse == "" {
					if resp, _ := cl.get(tc.path); resp.StatusCode != 404 {
						t.Errorf("GET %s = %d, want 404", tc.path, resp.StatusCode)
					}
					return
				}
				var got struct {
					Reverse    string `json:"reverse"`
					Absolute   string `json:"absolute"`
					ScriptName string `json:"script_name"`
					Path       string `json:"path"`
					PathInfo   string `json:"path_info"`
				}
				cl.json(http.MethodGet, tc.path, nil, nil, 200, &got)
				if got.Reverse != tc.reverse || got.ScriptName != tc.scriptName || got.Path != tc.reqPath || got.PathInfo != tc.pathInfo {
					t.Errorf("reverse=%q SCRIPT_NAME=%q path=%q path_info=%q, want %q %q %q %q",
						got.Reverse, got.ScriptName, got.Path, got.PathInfo, tc.reverse, tc.scriptName, tc.reqPath, tc.pathInfo)
				}
				if got.Absolute != srv.URL+tc.reverse {
					t.Errorf("build_absolute_uri = %q, want %q", got.Absolute, srv.URL+tc.reverse)
				}
			})
		}
	})
	t.Run("Routing", func(t *testing.T) {
		cl := newE2EClient(t, srv.URL, false)
		if resp, b := cl.get("/legacy/hello/bob/"); resp.StatusCode != 200 || string(b) != "hello bob" {
			t.Errorf("GET /legacy/hello/bob/ = %d %q", resp.StatusCode, b)
		}
		if resp, b := cl.get("/legacy/"); resp.StatusCode != 200 || string(b) != "django index" {
			t.Errorf("GET /legacy/ = %d %q", resp.StatusCode, b)
		}
		// APPEND_SLASH redirects under the prefix.
		resp, _ := cl.get("/legacy/hello/bob")
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != "/legacy/hello/bob/" {
			t.Errorf("GET /legacy/hello/bob = %d Location %q, want 301 to /legacy/hello/bob/", resp.StatusCode, loc)
		}
	})
	t.Run("Redirect", func(t *testing.T) {
		e2eTestRedirect(t, srv.URL, "/legacy/redirect/", "/legacy/hello/world/")
	})
	t.Run("Session", func(t *testing.T) {
		e2eTestSession(t, srv.URL, "/legacy/session/set/", "/legacy/session/get/", "session")
	})
	t.Run("CSRF", func(t *testing.T) {
		testDjangoCSRF(t, srv.URL, "/legacy")
	})
	t.Run("NonASCII", func(t *testing.T) {
		e2eTestNonASCII(t, srv, "/legacy", "/p/%s/", true)
	})
}
