package router

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// getter is a GET handler that reports the method it saw in a header and
// writes body.
func getter(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		io.WriteString(w, body)
	}
}

func tagged(tag string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("X-Mw", tag)
			next.ServeHTTP(w, r)
		})
	}
}

// HEAD follows GET through the router: a GET route serves HEAD (body
// discarded, Content-Length kept) unless a HEAD route is registered on the
// pattern; other methods still fall back.
func TestHeadFollowsGet(t *testing.T) {
	r := New()
	r.Use(tagged("root"))
	r.Get("/users", getter("go users"))
	r.Head("/first", reply("")).Allow() // HEAD before GET: it stays
	r.Get("/first", getter("go first"))
	r.Get("/later", getter("go later"))
	r.Head("/later", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-Head", "own") })
	r.Get("/strict", getter("go strict")).Allow()
	r.Post("/postonly", reply("go post"))
	r.Handle("GET /handled", getter("go handled"))
	r.Handle("/any", getter("go any"))
	r.With(tagged("with")).Get("/with", getter("go with"))
	r.Route("/api", func(r *Router) {
		r.Use(tagged("api"))
		r.Get("/items/{id}", func(w http.ResponseWriter, req *http.Request) {
			io.WriteString(w, "item "+req.PathValue("id"))
		})
	})
	sub := New()
	sub.Get("/", getter("go admin"))
	r.Mount("/admin", sub)
	r.Fallback(fakeFallback())

	tests := []struct {
		name, method, path string
		code               int
		body               string
		header             http.Header // expected values; "" means absent
	}{
		{"GET", "GET", "/users", 200, "go users", http.Header{"Content-Length": {""}, "X-Method": {"GET"}}},
		{"HEAD follows GET", "HEAD", "/users", 200, "",
			http.Header{"Content-Length": {"8"}, "Content-Type": {"text/plain; charset=utf-8"}, "X-Method": {"HEAD"}, "X-Mw": {"root"}}},
		{"method mismatch still falls back", "POST", "/users", 200, "fallback POST /users", nil},
		{"unknown method still falls back", "PROPFIND", "/users", 200, "fallback PROPFIND /users", nil},
		{"HEAD registered before GET wins", "HEAD", "/first", 200, "", http.Header{"X-Method": {""}, "Content-Length": {""}}},
		{"GET next to an explicit HEAD", "GET", "/first", 200, "go first", nil},
		{"HEAD registered after GET wins", "HEAD", "/later", 200, "", http.Header{"X-Head": {"own"}, "X-Method": {""}}},
		{"Allow lists HEAD", "PUT", "/strict", 405, "", http.Header{"Allow": {"GET, HEAD"}}},
		{"Allow with an explicit HEAD", "DELETE", "/first", 405, "", http.Header{"Allow": {"GET, HEAD"}}},
		{"HEAD on an Allow route", "HEAD", "/strict", 200, "", http.Header{"Content-Length": {"9"}, "X-Method": {"HEAD"}}},
		{"HEAD without GET falls back", "HEAD", "/postonly", 200, "fallback HEAD /postonly", nil},
		{"Handle with GET", "HEAD", "/handled", 200, "", http.Header{"Content-Length": {"10"}, "X-Method": {"HEAD"}}},
		{"Handle for every method", "HEAD", "/any", 200, "go any", nil},
		{"With middlewares run", "HEAD", "/with", 200, "", http.Header{"X-Mw": {"root", "with"}, "X-Method": {"HEAD"}}},
		{"sub-router", "HEAD", "/api/items/7", 200, "", http.Header{"X-Mw": {"root", "api"}, "Content-Length": {"6"}}},
		{"sub-router mismatch falls back", "POST", "/api/items/7", 200, "fallback POST /api/items/7", nil},
		{"mounted Router", "HEAD", "/admin", 200, "", http.Header{"Content-Length": {"8"}, "X-Method": {"HEAD"}}},
		{"unknown path", "HEAD", "/nope", 200, "fallback HEAD /nope", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, hdr := testHandler(t, r, tc.method, tc.path)
			if code != tc.code || body != tc.body {
				t.Errorf("%s %s: got %d %q, want %d %q", tc.method, tc.path, code, body, tc.code, tc.body)
			}
			for k, want := range tc.header {
				got := hdr.Values(k)
				if want[0] == "" && len(got) == 0 {
					continue
				}
				if k == "Allow" {
					got = []string{strings.Join(got, ", ")}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
		})
	}
}

// Host rules see the implied HEAD route: a host Router with a GET route
// serves HEAD, and a host Router with only POST lets HEAD go on to the
// default Router's GET.
func TestHeadFollowsGetHosts(t *testing.T) {
	h := NewHosts()
	api := h.Host("api.example.com")
	api.Get("/a", getter("api a"))
	api.Fallback(fakeFallback())
	shop := h.Host("*.shop.example")
	shop.Post("/a", reply("shop post"))
	shop.Fallback(fakeFallback())
	def := New()
	def.Get("/a", getter("default a"))
	def.Fallback(fakeFallback())
	h.Default(def)

	for _, tc := range []struct {
		name, method, host string
		body, length       string
	}{
		{"exact host", "HEAD", "api.example.com", "", "5"},
		{"wildcard host without GET goes to the default", "HEAD", "x.shop.example", "", "9"},
		{"wildcard host POST", "POST", "x.shop.example", "shop post", ""},
		{"default host", "HEAD", "other.example", "", "9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/a", nil)
			req.Host = tc.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 || w.Body.String() != tc.body || w.Header().Get("Content-Length") != tc.length {
				t.Errorf("got %d %q Content-Length %q, want 200 %q %q",
					w.Code, w.Body.String(), w.Header().Get("Content-Length"), tc.body, tc.length)
			}
		})
	}
}

// Over a real server, HTTP/1.1 and HTTP/2, a HEAD served by a GET route has
// exactly the headers the GET has, Content-Length and the sniffed
// Content-Type included, whatever the handler does; except that a handler
// that writes nothing on HEAD gets no Content-Length.
func TestHeadHeadersMatchGet(t *testing.T) {
	body := func(n int) string { return strings.Repeat("z", n) }
	handlers := map[string]http.HandlerFunc{
		"sets Content-Length": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		},
		"small text": getter("go users"),
		"small html": getter("<!DOCTYPE html><p>hi"),
		"no body":    func(http.ResponseWriter, *http.Request) {},
		"skips body on HEAD": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			if r.Method == http.MethodHead {
				return // allowed: "it may skip building the body"
			}
			io.WriteString(w, "<p>hello world</p>")
		},
		"2048 bytes": getter(body(2048)),
		"2049 bytes": getter(body(2049)),
		"3000 bytes": getter(body(3000)), // buffered whole by HTTP/2 only
		"in pieces":  func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "a"); io.WriteString(w, body(1500)) },
		"large":      getter(body(100_000)),
		"status 201": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(201); io.WriteString(w, "made") },
		"status 204": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) },
		"status 304": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(304) },
		"own type": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{}")
		},
		"encoded": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Encoding", "identity")
			io.WriteString(w, "<html>")
		},
		"flushes": func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		},
		"controller": func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "a")
			http.NewResponseController(w).Flush()
		},
		"error":       func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "nope", http.StatusTeapot) },
		"early hints": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(103); io.WriteString(w, "after hints") },
	}
	// A handler that writes nothing on HEAD may have skipped the body
	// because of the method: its HEAD gets no Content-Length (its GET's is
	// unknown), as with http.ServeMux. RFC 9110 §8.6 allows leaving it
	// out; a 0 would contradict the GET's. "no body" is in this case too:
	// its GET says 0, its HEAD says nothing.
	noHeadLength := map[string]bool{"no body": true, "skips body on HEAD": true}
	r := New()
	for name, h := range handlers {
		r.Get("/"+strings.ReplaceAll(name, " ", "-"), func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("X-Method", req.Method)
			h(w, req)
		})
	}
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run(proto, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(r)
			if proto == "HTTP/2.0" {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			client := srv.Client()
			for name := range handlers {
				t.Run(name, func(t *testing.T) {
					u := srv.URL + "/" + strings.ReplaceAll(name, " ", "-")
					get, getBody := fetch(t, client, "GET", u)
					head, headBody := fetch(t, client, "HEAD", u)
					if get.Proto != proto || head.Proto != proto {
						t.Fatalf("protocols %s and %s, want %s", get.Proto, head.Proto, proto)
					}
					if headBody != "" {
						t.Errorf("HEAD body %q", headBody)
					}
					if get.StatusCode != head.StatusCode {
						t.Errorf("GET %d, HEAD %d", get.StatusCode, head.StatusCode)
					}
					if n := get.Header.Get("Content-Length"); n != "" && n != strconv.Itoa(len(getBody)) {
						t.Errorf("GET Content-Length %q for %d bytes", n, len(getBody))
					}
					if head.Header.Get("X-Method") != "HEAD" {
						t.Errorf("the GET handler saw method %q", head.Header.Get("X-Method"))
					}
					for _, k := range []string{"Date", "X-Method"} {
						get.Header.Del(k)
						head.Header.Del(k)
					}
					if noHeadLength[name] {
						if n, ok := head.Header["Content-Length"]; ok {
							t.Errorf("HEAD Content-Length %q, want none", n)
						}
						get.Header.Del("Content-Length")
					}
					if !reflect.DeepEqual(get.Header, head.Header) {
						t.Errorf("headers differ:\nGET  %v\nHEAD %v", get.Header, head.Header)
					}
				})
			}
		})
	}
}

func fetch(t *testing.T, client *http.Client, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// flushFailer is a response writer whose flush fails, as an HTTP/2
// stream the client has reset does ("http2: stream closed").
type flushFailer struct{ *httptest.ResponseRecorder }

func (flushFailer) FlushError() error { return errFlushFailed }

var errFlushFailed = errors.New("http2: stream closed")

// TestHeadFlushError: http.ResponseController.Flush in a GET handler
// serving HEAD returns the error of the connection's flush. headWriter
// had only Flush, which ResponseController takes before it unwraps: the
// handler got nil from a flush that failed.
func TestHeadFlushError(t *testing.T) {
	var got error
	h := headHandler{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "x")
		got = http.NewResponseController(w).Flush()
	})}
	h.ServeHTTP(flushFailer{httptest.NewRecorder()}, httptest.NewRequest(http.MethodHead, "/", nil))
	if !errors.Is(got, errFlushFailed) {
		t.Errorf("Flush returned %v, want %v", got, errFlushFailed)
	}
}
