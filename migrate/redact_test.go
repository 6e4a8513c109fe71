package migrate

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRedactionServed checks that what the admin API (GET /routes) and
// the console serve of a recorded mismatch hides every kind of secret:
// request headers, response headers (shown and compared), query
// parameters (in the request line and in URLs of headers), and the fields
// of JSON and form bodies (in the bodies shown and in the differences),
// by the default names and by names added with Options.Redact; and that
// what is not secret is still shown.
func TestRedactionServed(t *testing.T) {
	type side struct {
		hdr  []string // pairs
		ct   string
		body string
	}
	cases := []struct {
		name    string
		redact  []string // Options.Redact
		headers []string // RouteConfig.Headers (compared)
		target  string
		reqHdr  []string // pairs
		py, gov side
		secrets []string // must not be served
		kept    []string // must be served
	}{
		{name: "cookie and authorization", reqHdr: []string{"Cookie", "sid=ck-s3cr3t", "Authorization", "Bearer az-s3cr3t", "Proxy-Authorization", "Basic pa-s3cr3t"},
			secrets: []string{"ck-s3cr3t", "az-s3cr3t", "pa-s3cr3t"}},
		{name: "request header X-Api-Key", reqHdr: []string{"X-Api-Key", "apikey-s3cr3t"}, secrets: []string{"apikey-s3cr3t"}},
		{name: "request header X-Auth-Token", reqHdr: []string{"X-Auth-Token", "authtok-s3cr3t"}, secrets: []string{"authtok-s3cr3t"}},
		{name: "request header X-CSRF-Token", reqHdr: []string{"X-CSRF-Token", "csrf-s3cr3t"}, secrets: []string{"csrf-s3cr3t"}},
		{name: "request header X-Amz-Security-Token", reqHdr: []string{"X-Amz-Security-Token", "amz-s3cr3t"}, secrets: []string{"amz-s3cr3t"}},
		{name: "request header named *session*", reqHdr: []string{"X-Session-Id", "sess-s3cr3t"}, secrets: []string{"sess-s3cr3t"}},
		{name: "request header named *secret*", reqHdr: []string{"X-Client-Secret", "cs-s3cr3t"}, secrets: []string{"cs-s3cr3t"}},
		{name: "request header named *password*", reqHdr: []string{"X-Password", "pw-s3cr3t"}, secrets: []string{"pw-s3cr3t"}},
		{name: "tester override header", reqHdr: []string{DefaultOverrideHeader, "go.99.ovr-s3cr3t"}, secrets: []string{"ovr-s3cr3t"}},
		{name: "referer with a token", reqHdr: []string{"Referer", "https://app.example/cb?code=1&access_token=ref-s3cr3t"}, secrets: []string{"ref-s3cr3t"}, kept: []string{"app.example/cb?code=1"}},
		{name: "query parameters", target: "/x?page=2&token=q1-s3cr3t&access_token=q2-s3cr3t&api_key=q3-s3cr3t&signature=q4-s3cr3t&password=q5-s3cr3t&X-Amz-Security-Token=q6-s3cr3t",
			secrets: []string{"q1-s3cr3t", "q2-s3cr3t", "q3-s3cr3t", "q4-s3cr3t", "q5-s3cr3t", "q6-s3cr3t"}, kept: []string{"page=2"}},
		{name: "escaped query parameter name", target: "/x?access%5Ftoken=q7-s3cr3t", secrets: []string{"q7-s3cr3t"}},
		{name: "response header shown", py: side{hdr: []string{"X-Auth-Token", "rh1-s3cr3t"}}, gov: side{hdr: []string{"X-Auth-Token", "rh2-s3cr3t"}},
			secrets: []string{"rh1-s3cr3t", "rh2-s3cr3t"}},
		{name: "response header compared", headers: []string{"X-Auth-Token", "Content-Type"}, py: side{hdr: []string{"X-Auth-Token", "rh3-s3cr3t"}}, gov: side{hdr: []string{"X-Auth-Token", "rh4-s3cr3t"}},
			secrets: []string{"rh3-s3cr3t", "rh4-s3cr3t"}},
		{name: "set-cookie", py: side{hdr: []string{"Set-Cookie", "sid=sc1-s3cr3t"}}, gov: side{hdr: []string{"Set-Cookie", "gosid=sc2-s3cr3t"}},
			secrets: []string{"sc1-s3cr3t", "sc2-s3cr3t"}, kept: []string{"cookies: sid", "cookies: gosid"}}, // the names differ
		{name: "location with a token (compared)", py: side{hdr: []string{"Location", "https://idp.example/cb?state=abc&token=loc1-s3cr3t"}},
			gov:     side{hdr: []string{"Location", "https://idp.example/cb?state=abc&token=loc2-s3cr3t"}},
			secrets: []string{"loc1-s3cr3t", "loc2-s3cr3t"}, kept: []string{"idp.example/cb?state=abc"}},
		{name: "location with a token in the fragment", py: side{hdr: []string{"Location", "https://app.example/cb#access_token=fr1-s3cr3t&token_type=bearer&state=xyz"}},
			gov:     side{hdr: []string{"Location", "https://app.example/cb#state=xyz&access_token=fr2-s3cr3t"}},
			secrets: []string{"fr1-s3cr3t", "fr2-s3cr3t"}, kept: []string{"app.example/cb#", "state=xyz"}},
		{name: "JSON body fields", py: side{ct: "application/json", body: `{"user":{"name":"Ada","password":"jb1-s3cr3t","api_key":"jb2-s3cr3t"},"access_token":"jb3-s3cr3t","n":1}`},
			gov:     side{ct: "application/json", body: `{"user":{"name":"Ada","password":"jb4-s3cr3t","api_key":"jb5-s3cr3t"},"access_token":"jb6-s3cr3t","n":2}`},
			secrets: []string{"jb1-s3cr3t", "jb2-s3cr3t", "jb3-s3cr3t", "jb4-s3cr3t", "jb5-s3cr3t", "jb6-s3cr3t"}, kept: []string{"Ada"}},
		{name: "JSON secret object in a difference", py: side{ct: "application/json", body: `{"session":{"id":"js1-s3cr3t"}}`},
			gov:     side{ct: "application/json", body: `{"profile":{"name":"Ada","refreshToken":"js2-s3cr3t"}}`},
			secrets: []string{"js1-s3cr3t", "js2-s3cr3t"}, kept: []string{"Ada"}},
		{name: "JSON secret value as a key", py: side{ct: "application/json", body: `{"tokens":{"tk1-s3cr3t":1},"n":1}`},
			gov:     side{ct: "application/json", body: `{"tokens":{"tk2-s3cr3t":1},"n":2}`},
			secrets: []string{"tk1-s3cr3t", "tk2-s3cr3t"}, kept: []string{"/tokens/[redacted]", "/n"}},
		{name: "JSON map keyed by session id, deeper", py: side{ct: "application/json", body: `{"user":{"sessions":{"sid1-s3cr3t":{"ip":"10.0.0.1"}}}}`},
			gov:     side{ct: "application/json", body: `{"user":{"sessions":{"sid1-s3cr3t":{"ip":"10.0.0.2"}}}}`},
			secrets: []string{"sid1-s3cr3t"}, kept: []string{"/user/sessions/[redacted]"}},
		{name: "JSON map keyed by secrets under a name added by Options.Redact", redact: []string{"online"},
			py:      side{ct: "application/json", body: `{"online":{"sid2-s3cr3t":{"n":1}},"count":1}`},
			gov:     side{ct: "application/json", body: `{"online":{"sid3-s3cr3t":{"n":1}},"count":1}`},
			secrets: []string{"sid2-s3cr3t", "sid3-s3cr3t"}, kept: []string{"/online/[redacted]"}},
		{name: "JSON body cut at 4 KiB", py: side{ct: "application/json", body: `{"pad":"` + strings.Repeat("p", 5000) + `","password":"cut1-s3cr3t"}`},
			gov:     side{ct: "application/json", body: `{"pad":"` + strings.Repeat("p", 4070) + `","password":"cut2-s3cr3t` + strings.Repeat("s", 100) + `"}`},
			secrets: []string{"cut1-s3cr3t", "cut2-s3cr3t", `"cut2`}},
		{name: "form body fields", py: side{ct: "application/x-www-form-urlencoded", body: "user=ada&password=fb1-s3cr3t"},
			gov:     side{ct: "application/x-www-form-urlencoded", body: "user=ada&password=fb2-s3cr3t"},
			secrets: []string{"fb1-s3cr3t", "fb2-s3cr3t"}, kept: []string{"user=ada"}},
		{name: "HTML form tokens", py: side{ct: "text/html; charset=utf-8", body: "<html><head><meta name=\"csrf-token\" content=\"hm1-s3cr3t\"></head>\n<form><input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"hf1-s3cr3t\"><input name=q value=kept-input></form>\n<p>Python</p>"},
			gov:     side{ct: "text/html; charset=utf-8", body: "<html><head><meta name=\"csrf-token\" content=\"hm2-s3cr3t\"></head>\n<form><input type='hidden' value='hf2-s3cr3t' name='csrf_token'><input name=q value=kept-input></form>\n<p>Go</p>"},
			secrets: []string{"hm1-s3cr3t", "hm2-s3cr3t", "hf1-s3cr3t", "hf2-s3cr3t"}, kept: []string{"kept-input"}},
		{name: "names added by Options.Redact", redact: []string{"X-Tenant", "ssn", "pin"}, target: "/x?pin=op1-s3cr3t&q=kept-query",
			reqHdr: []string{"X-Tenant", "op2-s3cr3t", "X-Other", "kept-header"},
			py:     side{ct: "application/json", body: `{"ssn":"op3-s3cr3t"}`}, gov: side{ct: "application/json", body: `{"ssn":"op4-s3cr3t"}`},
			secrets: []string{"op1-s3cr3t", "op2-s3cr3t", "op3-s3cr3t", "op4-s3cr3t"}, kept: []string{"kept-query", "kept-header"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			respond := func(s side, def string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					for i := 0; i+1 < len(s.hdr); i += 2 {
						w.Header().Add(s.hdr[i], s.hdr[i+1])
					}
					ct, body := s.ct, s.body
					if body == "" {
						ct, body = "text/plain", def
					}
					w.Header().Set("Content-Type", ct)
					io.WriteString(w, body)
				}
			}
			r, m, _ := pair(t, respond(tc.gov, "go body"), respond(tc.py, "python body"),
				Options{NoiseSample: -1, Redact: tc.redact}, RouteConfig{Route: "GET /x", Stage: StageShadow, Headers: tc.headers})
			target := tc.target
			if target == "" {
				target = "/x"
			}
			req := httptest.NewRequest(http.MethodGet, target, nil)
			for i := 0; i+1 < len(tc.reqHdr); i += 2 {
				req.Header.Add(tc.reqHdr[i], tc.reqHdr[i+1])
			}
			r.ServeHTTP(httptest.NewRecorder(), req)
			m.jobs.Wait()
			if st, _ := m.Route("GET /x"); len(st.RecentMismatches) != 1 {
				t.Fatalf("want one recorded mismatch, have %d (%+v)", len(st.RecentMismatches), st.Counts)
			}
			api := serve(m.Handler(AdminOptions{}), http.MethodGet, "127.0.0.1", "/routes", "", "")
			page := serve(m.Console(ConsoleOptions{}), http.MethodGet, "127.0.0.1", "/", "", "")
			if api.Code != 200 || page.Code != 200 {
				t.Fatalf("GET /routes: %d, console: %d", api.Code, page.Code)
			}
			for where, text := range map[string]string{"GET /routes": api.Body.String(), "the console": page.Body.String()} {
				for _, s := range tc.secrets {
					if strings.Contains(text, s) {
						t.Errorf("%s shows the secret %q:\n%s", where, s, excerpt(text, s))
					}
				}
				if !strings.Contains(text, redacted) {
					t.Errorf("%s shows no %q", where, redacted)
				}
				for _, k := range tc.kept {
					// The console escapes & and the API writes it \u0026.
					if !strings.Contains(strings.NewReplacer(`\u0026`, "&", "&amp;", "&").Replace(text), k) {
						t.Errorf("%s does not show %q, which is not secret", where, k)
					}
				}
			}
		})
	}
}

// excerpt returns the text around s.
func excerpt(text, s string) string {
	i := strings.Index(text, s)
	return text[max(0, i-200):min(len(text), i+len(s)+100)]
}

// TestRedactNames checks the rule that decides which names are secret.
func TestRedactNames(t *testing.T) {
	r := newRedactor([]string{"PIN", "x-tenant"}, DefaultOverrideHeader)
	for name, want := range map[string]bool{
		"Cookie": true, "Set-Cookie": true, "Authorization": true, "Proxy-Authorization": true,
		"X-Api-Key": true, "api_key": true, "apiKey": true, "X-Auth-Token": true, "access_token": true,
		"accessToken": true, "X-CSRF-Token": true, "X-XSRF-TOKEN": true, "X-Amz-Security-Token": true,
		"X-Amz-Credential": true, "X-Amz-Signature": true, "signature": true, "password": true, "passwd": true,
		"client_secret": true, "sessionid": true, "JSESSIONID": true, DefaultOverrideHeader: true,
		"pin": true, "X-Tenant": true, "x_tenant": true, "id_jwt": true, "card_cvv": true, "pwd": true, "passphrase": true,
		"Content-Type": false, "Location": false, "name": false, "page": false, "id": false, "X-Request-Id": false,
	} {
		if got := r.secret(name); got != want {
			t.Errorf("secret(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestRedactPointer checks how a JSON pointer is shown: cut at its first
// secret key, whose value, the keys below it included, is hidden.
func TestRedactPointer(t *testing.T) {
	r := newRedactor([]string{"online"}, DefaultOverrideHeader)
	for in, want := range map[string]string{
		"/n":                           "/n",
		"/password":                    "/password",
		"/tokens/tk-s3cr3t":            "/tokens/[redacted]",
		"/user/sessions/sid/ip":        "/user/sessions/[redacted]",
		"/a~1token/x":                  "/a~1token/[redacted]",
		"/online/0":                    "/online/[redacted]",
		"/items/3/api_key":             "/items/3/api_key",
		"header:X-Auth-Token":          "header:X-Auth-Token",
		"status":                       "status",
		"/csrf/x/y/z…":                 "/csrf/[redacted]",
		"/data/users/ada/access_token": "/data/users/ada/access_token",
	} {
		if got := r.shownPointer(in); got != want {
			t.Errorf("shownPointer(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRedactNoisePointers checks that the pointers learned as noise are
// shown with the rule of TestRedactPointer: Python answers a new session
// id as a key on each call.
func TestRedactNoisePointers(t *testing.T) {
	var n atomic.Int64
	r, m, _ := pair(t,
		func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, `{"sessions":{}}`) },
		func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, fmt.Sprintf(`{"sessions":{"sid%d-s3cr3t":true}}`, n.Add(1)))
		},
		Options{}, RouteConfig{Route: "GET /x", Stage: StageShadow})
	for range 3 {
		hit(r)
		m.jobs.Wait()
	}
	st, _ := m.Route("GET /x")
	if len(st.NoisePointers) == 0 {
		t.Fatalf("no noise learned: %+v", st.Counts)
	}
	api := serve(m.Handler(AdminOptions{}), http.MethodGet, "127.0.0.1", "/routes", "", "")
	page := serve(m.Console(ConsoleOptions{}), http.MethodGet, "127.0.0.1", "/", "", "")
	for where, text := range map[string]string{"GET /routes": api.Body.String(), "the console": page.Body.String()} {
		if strings.Contains(text, "s3cr3t") {
			t.Errorf("%s shows a secret key:\n%s", where, excerpt(text, "s3cr3t"))
		}
		if !strings.Contains(text, "/sessions/[redacted]") {
			t.Errorf("%s does not show the pointer /sessions/[redacted]", where)
		}
	}
}

// TestRedactHTML checks the redaction of the <input> and <meta> tags of
// HTML texts.
func TestRedactHTML(t *testing.T) {
	r := newRedactor(nil, DefaultOverrideHeader)
	for _, tc := range []struct{ in, want string }{
		{`<input type="hidden" name="csrfmiddlewaretoken" value="abc">`, `<input type="hidden" name="csrfmiddlewaretoken" value="[redacted]">`},
		{`<INPUT VALUE=abc NAME=password>`, `<INPUT VALUE="[redacted]" NAME=password>`},
		{`<meta content='abc' name='csrf-token'>`, `<meta content="[redacted]" name='csrf-token'>`},
		{`<input name="q" value="abc"><meta name="description" content="abc">`, `<input name="q" value="abc"><meta name="description" content="abc">`},
		{`<p>password: abc</p>`, `<p>password: abc</p>`},
	} {
		if got := r.html(tc.in); got != tc.want {
			t.Errorf("html(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// TestRedactJSON checks the redaction of JSON texts, whole or cut short.
func TestRedactJSON(t *testing.T) {
	r := newRedactor(nil, DefaultOverrideHeader)
	for _, tc := range []struct{ in, want string }{
		{`{"a":1,"password":"x"}`, `{"a":1,"password":"[redacted]"}`},
		{`{"tokens":{"tk-s3cr3t":1}}`, `{"tokens":"[redacted]"}`},
		{`{ "password" :  "x" , "b" : [1,{"token":{"v":[1,2]}}]}`, `{ "password" :  "[redacted]" , "b" : [1,{"token":"[redacted]"}]}`},
		{`[{"api\u005fkey":"x"},{"name":"password"}]`, `[{"api\u005fkey":"[redacted]"},{"name":"password"}]`},
		{`{"a":{"b":"c"},"secret":null,"d":"password"}`, `{"a":{"b":"c"},"secret":"[redacted]","d":"password"}`},
		{`{"user":{"password":"abc`, `{"user":{"password":"[redacted]"`},
		{`{"user":{"pass`, `{"user":{"pass`},
		{`{"session":{"id":1,"x":`, `{"session":"[redacted]"`},
		{`not json {"password":"x"}`, `not json {"password":"x"}`},
		{`"password"`, `"password"`},
	} {
		if got := string(r.json([]byte(tc.in))); got != tc.want {
			t.Errorf("json(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}
