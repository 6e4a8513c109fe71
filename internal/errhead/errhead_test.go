package errhead

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestWrite: through Write, a HEAD gets the status and header fields a
// GET gets from the same page, over HTTP/1.1 and HTTP/2, whatever the
// page writes; without it (the page called directly), a page writing no
// body gave HEAD no Content-Length: 8 of these cases failed so.
func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		page func(w http.ResponseWriter)
	}{
		{"status only", func(w http.ResponseWriter) {
			w.Header().Set("X-Error", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		}},
		{"nothing", func(w http.ResponseWriter) {}},
		{"empty write", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway); w.Write(nil) }},
		{"204", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }},
		{"304", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotModified) }},
		{"own Content-Length", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "gone\n")
		}},
		{"body", func(w http.ResponseWriter) { http.Error(w, "sorry", http.StatusInternalServerError) }},
		{"large body", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, strings.Repeat("x", 10000))
		}},
		{"flushed", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusInternalServerError)
			http.NewResponseController(w).Flush()
		}},
		{"early hints", func(w http.ResponseWriter) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusServiceUnavailable)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, h2 := range []bool{false, true} {
				ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					Write(w, r, tc.page)
				}))
				ts.EnableHTTP2 = h2
				ts.StartTLS()
				defer ts.Close()
				do := func(method string) (int, http.Header, string) {
					req, _ := http.NewRequest(method, ts.URL, nil)
					resp, err := ts.Client().Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					if resp.ProtoMajor == 2 != h2 {
						t.Fatalf("served over %s", resp.Proto)
					}
					resp.Header.Del("Date")
					return resp.StatusCode, resp.Header, string(b)
				}
				gs, gh, _ := do("GET")
				hs, hh, hb := do("HEAD")
				if hs != gs || !reflect.DeepEqual(hh, gh) || hb != "" {
					t.Errorf("HTTP/2 %v: HEAD %d %v %q; GET %d %v", h2, hs, hh, hb, gs, gh)
				}
			}
		})
	}
}
