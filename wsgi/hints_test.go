package wsgi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// hint is a 1xx response a client saw.
type hint struct {
	code   int
	header textproto.MIMEHeader
}

// getWithHints GETs url with client and returns the 1xx responses seen
// before the final one, the final response and its body.
func getWithHints(t *testing.T, client *http.Client, url string) ([]hint, *http.Response, string) {
	t.Helper()
	var mu sync.Mutex
	var got []hint
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		got = append(got, hint{code, h})
		mu.Unlock()
		return nil
	}}
	req, _ := http.NewRequest("GET", url, nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return got, resp, string(b)
}

// TestEarlyHints: wsgi.early_hints sends a 103 with the app's headers only
// (not the ones a middleware set for the final response), before the
// final response, which does not carry them; over HTTP/1.1 and HTTP/2 as a
// real client sees it; never over HTTP/1.0, nor once the response started.
func TestEarlyHints(t *testing.T) {
	c, _ := newContainer(t, Config{App: "hintsapp:app"})
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Middleware", "final-only")
		c.ServeHTTP(w, r)
	})
	h1 := httptest.NewServer(mw)
	t.Cleanup(h1.Close)
	h2 := httptest.NewUnstartedServer(mw)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)

	for _, srv := range []struct {
		name  string
		url   string
		proto string
		c     *http.Client
	}{
		{"HTTP/1.1", h1.URL, "HTTP/1.1", h1.Client()},
		{"HTTP/2", h2.URL, "HTTP/2.0", h2.Client()},
	} {
		t.Run(srv.name, func(t *testing.T) {
			hints, resp, body := getWithHints(t, srv.c, srv.url+"/")
			if resp.Proto != srv.proto {
				t.Fatalf("protocol %s, want %s", resp.Proto, srv.proto)
			}
			if resp.StatusCode != 200 || body != "final" {
				t.Errorf("final response %d %q", resp.StatusCode, body)
			}
			if len(hints) != 1 || hints[0].code != 103 {
				t.Fatalf("1xx responses %v; want one 103", hints)
			}
			want := []string{"</style.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script"}
			if got := hints[0].header.Values("Link"); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("103 Link %q, want %q", got, want)
			}
			if v := hints[0].header.Get("X-Middleware"); v != "" {
				t.Errorf("the 103 carries the final response's X-Middleware %q", v)
			}
			if v := resp.Header.Values("Link"); len(v) != 0 {
				t.Errorf("the final response carries the hints' Link %q", v)
			}
			if v := resp.Header.Get("X-Middleware"); v != "final-only" {
				t.Errorf("the final response lost the middleware's header: %q", v)
			}

			hints, resp, body = getWithHints(t, srv.c, srv.url+"/stream")
			if resp.StatusCode != 200 || body != "ab" {
				t.Errorf("/stream: %d %q", resp.StatusCode, body)
			}
			if len(hints) != 2 || hints[0].header.Get("Link") != "</style.css>; rel=preload; as=style" ||
				hints[1].header.Get("Link") != "</app.js>; rel=preload; as=script" {
				t.Errorf("/stream: 1xx responses %v; want the two 103s, and none once the body started", hints)
			}

			hints, resp, body = getWithHints(t, srv.c, srv.url+"/bad")
			if resp.StatusCode != 400 || !strings.Contains(body, "wsgi.early_hints") || len(hints) != 0 {
				t.Errorf("/bad: %d %q, 1xx %v; want the app's ValueError and no 103", resp.StatusCode, body, hints)
			}
			hints, resp, _ = getWithHints(t, srv.c, srv.url+"/none")
			if resp.StatusCode != 200 || len(hints) != 0 {
				t.Errorf("/none: %d, 1xx %v; want no 103 for no hints", resp.StatusCode, hints)
			}
		})
	}

	t.Run("HTTP/1.0", func(t *testing.T) {
		resp, body := rawHTTP(t, strings.TrimPrefix(h1.URL, "http://"), "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || string(body) != "final" {
			t.Errorf("HTTP/1.0: %d %q; want 200 final with no 103 before it", resp.StatusCode, body)
		}
	})
}

// TestEarlyHintsHeadLimit: a 103 Early Hints whose head (counted as for the
// final response, see Config.MaxResponseHeadSize) is over the limit is not
// sent, and a WARN says so; the final response, within the limit, is
// served. The hints of hintsapp's / make a head of 112 bytes: sent with a
// limit of 112, not with 111. Before, hints were sent whatever their size
// (a client refusing a head that large failed, with nothing in the log).
func TestEarlyHintsHeadLimit(t *testing.T) {
	for _, tc := range []struct {
		limit int
		sent  bool
	}{
		{112, true},
		{111, false},
	} {
		t.Run(strconv.Itoa(tc.limit), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "hintsapp:app", MaxResponseHeadSize: tc.limit})
			srv := httptest.NewServer(c)
			t.Cleanup(srv.Close)
			hints, resp, body := getWithHints(t, srv.Client(), srv.URL+"/")
			if resp.StatusCode != 200 || body != "final" {
				t.Errorf("final response %d %q", resp.StatusCode, body)
			}
			if got := len(hints) == 1 && hints[0].code == 103; got != tc.sent || !tc.sent && len(hints) != 0 {
				t.Errorf("1xx responses %v; want the 103 sent: %v", hints, tc.sent)
			}
			warned := strings.Contains(logs.String(), "level=WARN msg=\"wsgi: early hints not sent\"") &&
				strings.Contains(logs.String(), "response head too large: 112 bytes (2 header fields), over MaxResponseHeadSize 111")
			if warned == tc.sent {
				t.Errorf("WARN logged: %v, want %v; log:\n%s", warned, !tc.sent, logs)
			}
		})
	}
}
