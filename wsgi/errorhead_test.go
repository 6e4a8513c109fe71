package wsgi

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// TestErrorPageHead: a HEAD answered by the error handler (a Flask view
// that raises) carries the header fields the GET of the same URL does,
// Content-Length included, over HTTP/1.1 and HTTP/2, whatever the
// handler writes: net/http sets "Content-Length: 0" on a GET whose
// handler wrote no body, but on a HEAD only when a body was written, so
// a custom ErrorHandler that writes a status alone gave a HEAD without
// Content-Length (a cache or a monitor comparing them saw two answers).
func TestErrorPageHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		eh   func(w http.ResponseWriter, r *http.Request, err error)
	}{
		{"status only", func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("X-Error", "1")
			w.WriteHeader(StatusOf(err))
		}},
		{"nothing", func(w http.ResponseWriter, r *http.Request, err error) {}},
		{"empty write", func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
			w.Write(nil)
		}},
		{"204", func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusNoContent) }},
		{"body", func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "sorry", StatusOf(err))
		}},
		{"default", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newContainer(t, Config{App: "flaskapp:app", ErrorHandler: tc.eh})
			for _, h2 := range []bool{false, true} {
				ts := httptest.NewUnstartedServer(c)
				ts.EnableHTTP2 = h2
				ts.StartTLS()
				defer ts.Close()
				client := ts.Client()
				do := func(method string) (int, http.Header, int64, string) {
					req, _ := http.NewRequest(method, ts.URL+"/boom", nil)
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					if resp.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
						t.Fatalf("served over %s", resp.Proto)
					}
					resp.Header.Del("Date")
					return resp.StatusCode, resp.Header, resp.ContentLength, string(b)
				}
				gs, gh, gl, gb := do("GET")
				hs, hh, hl, hb := do("HEAD")
				what := fmt.Sprintf("HTTP/2 %v", h2)
				if !bodyAllowed(gs) {
					gl = hl // the client says 0 for a GET's bodiless status, -1 for a HEAD's
				}
				if hs != gs || !reflect.DeepEqual(hh, gh) || hl != gl || hb != "" {
					t.Errorf("%s: HEAD: %d %v length %d %q; GET: %d %v length %d (%q)", what, hs, hh, hl, hb, gs, gh, gl, gb)
				}
			}
		})
	}
}
