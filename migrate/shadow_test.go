package migrate

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
)

// shadowSeen is what a Go candidate saw of its context.
type shadowSeen struct {
	shadow    bool
	requestID string
	header    string
}

// TestShadowFlask runs Go candidates in the shadow stage against a real
// Flask app.
func TestShadowFlask(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	var posts atomic.Int64
	release := make(chan struct{})
	seen := make(chan shadowSeen, 4)
	e := newEnv(t, py, Options{Timeout: 500 * time.Millisecond}, func(r *router.Router) {
		r.Use(middleware.RequestID(nil))
		r.Get("/api/order/{id}", func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, fmt.Sprintf(`{"name":"Ada","id":%s,"score":1,"tags":["a","b"],"active":true}`, chi.URLParam(r, "id")))
		})
		r.Head("/api/order/{id}", func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, `{"id":1}`)
		})
		r.Get("/api/diff/{id}", func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, fmt.Sprintf(`{"id":%s,"name":"Ada","email":"other@example.com"}`, chi.URLParam(r, "id")))
		})
		r.Get("/api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, fmt.Sprintf(`{"id":%s,"name":"Ada","generated_at":%d.5}`, chi.URLParam(r, "id"), time.Now().Unix()))
		})
		r.Post("/api/items", func(w http.ResponseWriter, r *http.Request) {
			posts.Add(1)
			writeJSONBody(w, `{"ok":true,"method":"POST"}`)
		})
		r.Get("/api/items", func(w http.ResponseWriter, r *http.Request) {
			<-release
			writeJSONBody(w, `{"ok":true,"method":"GET"}`)
		})
		r.Get("/api/side", func(w http.ResponseWriter, r *http.Request) {
			panic("candidate bug")
		})
		r.Get("/api/page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=UTF-8")
			w.Write([]byte("<html>\n<body>Hello\n</body>\n</html>\n"))
		})
		r.Get("/api/shadow", func(w http.ResponseWriter, r *http.Request) {
			seen <- shadowSeen{IsShadow(r.Context()), middleware.RequestIDFromContext(r.Context()), r.Header.Get("X-Request-Id")}
			writeJSONBody(w, `{"shadow":"","request_id":"`+r.Header.Get("X-Request-Id")+`"}`)
		})
	})
	for _, route := range []string{"GET /api/order/{id}", "HEAD /api/order/{id}", "GET /api/users/{id}", "POST /api/items", "GET /api/items", "GET /api/side", "GET /api/page", "GET /api/shadow"} {
		if _, err := e.m.SetRoute("test", RouteConfig{Route: route, Stage: StageShadow}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.m.SetRoute("test", RouteConfig{Route: "GET /api/diff/{id}", Stage: StageShadow, Ignore: []string{"/email"}}); err != nil {
		t.Fatal(err)
	}

	t.Run("equal JSON in another key order matches", func(t *testing.T) {
		code, body := e.get(t, "/api/order/7")
		if code != 200 || !strings.Contains(body, `"active":true,"id":7`) {
			t.Fatalf("client got %d %q, want Flask's sorted JSON", code, body)
		}
		e.settle()
		st := e.status(t, "GET /api/order/{id}")
		if st.Counts.Compared != 1 || st.Counts.Matched != 1 || st.Counts.Mismatched != 0 {
			t.Fatalf("counts = %+v, mismatches %+v", st.Counts, st.RecentMismatches)
		}
	})

	t.Run("HEAD compares status and headers, not bodies", func(t *testing.T) {
		if code, body := e.do(t, http.MethodHead, "/api/order/7", ""); code != 200 || body != "" {
			t.Fatalf("client got %d %q", code, body)
		}
		e.settle()
		if st := e.status(t, "HEAD /api/order/{id}"); st.Counts.Matched != 1 {
			t.Fatalf("counts %+v %v", st.Counts, st.RecentMismatches)
		}
	})

	t.Run("a real difference is reported at its pointer", func(t *testing.T) {
		e.get(t, "/api/diff/3")
		e.settle()
		st := e.status(t, "GET /api/diff/{id}")
		if st.Counts.Mismatched != 1 || len(st.MismatchPointers) != 1 || st.MismatchPointers["/name"] != 1 {
			t.Fatalf("counts %+v, pointers %v (want only /name; /email is ignored)", st.Counts, st.MismatchPointers)
		}
		mm := st.RecentMismatches[0]
		if mm.Request != "GET /api/diff/3 HTTP/1.1" || !strings.Contains(mm.Diff, "/name\n- python: \"Ada Lovelace\"\n+ go:     \"Ada\"") {
			t.Fatalf("mismatch %q:\n%s", mm.Request, mm.Diff)
		}
		if !strings.Contains(mm.Python.Body, "Ada Lovelace") || !strings.Contains(mm.Go.Body, `"name":"Ada"`) {
			t.Fatalf("bodies: %q / %q", mm.Python.Body, mm.Go.Body)
		}
	})

	t.Run("a timestamp is learned as noise", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			if code, _ := e.get(t, "/api/users/1"); code != 200 {
				t.Fatalf("status %d", code)
			}
			e.settle()
		}
		st := e.status(t, "GET /api/users/{id}")
		if st.Counts.Compared != 5 || st.Counts.Mismatched != 0 || st.Counts.Noise != 5 {
			t.Fatalf("counts %+v, mismatches %v", st.Counts, st.MismatchPointers)
		}
		if len(st.NoisePointers) != 1 || st.NoisePointers[0] != "/generated_at" {
			t.Fatalf("noise pointers %v, want [/generated_at]", st.NoisePointers)
		}
	})

	t.Run("text and HTML are compared after normalisation", func(t *testing.T) {
		e.get(t, "/api/page")
		e.settle()
		if st := e.status(t, "GET /api/page"); st.Counts.Matched != 1 {
			t.Fatalf("counts %+v, %v", st.Counts, st.RecentMismatches)
		}
	})

	t.Run("POST is not shadowed by default", func(t *testing.T) {
		code, body := e.do(t, http.MethodPost, "/api/items", "{}", "Content-Type", "application/json")
		if code != 200 || !strings.Contains(body, `"method":"POST"`) {
			t.Fatalf("client got %d %q", code, body)
		}
		e.settle()
		if n := posts.Load(); n != 0 {
			t.Fatalf("Go POST handler ran %d times", n)
		}
		// Counted when the handler returns, which can follow the response.
		eventually(t, "the POST counted", func() bool { return e.status(t, "POST /api/items").Counts.Python == 1 })
		if st := e.status(t, "POST /api/items"); st.Counts.Compared != 0 || st.Counts.Python != 1 {
			t.Fatalf("counts %+v", st.Counts)
		}
		if _, err := e.m.SetRoute("test", RouteConfig{Route: "POST /api/items", Stage: StageShadow, ShadowUnsafe: true}); err != nil {
			t.Fatal(err)
		}
		e.do(t, http.MethodPost, "/api/items", "{}", "Content-Type", "application/json")
		e.settle()
		if n := posts.Load(); n != 1 {
			t.Fatalf("with shadow_unsafe, Go POST handler ran %d times, want 1", n)
		}
		if st := e.status(t, "POST /api/items"); st.Counts.Matched != 1 {
			t.Fatalf("counts %+v %v", st.Counts, st.RecentMismatches)
		}
	})

	t.Run("a panicking candidate never affects the client", func(t *testing.T) {
		code, body := e.get(t, "/api/side")
		if code != 200 || body != "python\n" {
			t.Fatalf("client got %d %q", code, body)
		}
		e.settle()
		if st := e.status(t, "GET /api/side"); st.Counts.CandidatePanics != 1 || st.Counts.CandidateErrors != 1 || st.Counts.Compared != 0 {
			t.Fatalf("counts %+v", st.Counts)
		}
	})

	t.Run("a stuck candidate never affects the client", func(t *testing.T) {
		// The Go handler blocks until release is closed: the client's
		// answer arriving before that shows it never waits for Go.
		code, body := e.get(t, "/api/items")
		if code != 200 || !strings.Contains(body, `"method":"GET"`) {
			t.Fatalf("client got %d %q", code, body)
		}
		eventually(t, "the timeout to be counted", func() bool {
			return e.status(t, "GET /api/items").Counts.CandidateTimeouts == 1
		})
		close(release)
		e.settle()
	})

	t.Run("the candidate knows it is a shadow run and has the request id", func(t *testing.T) {
		code, body := e.get(t, "/api/shadow")
		if code != 200 {
			t.Fatal(code)
		}
		var py struct{ Shadow, RequestID string }
		json.Unmarshal([]byte(strings.ReplaceAll(body, "request_id", "RequestID")), &py)
		s := <-seen
		if !s.shadow || s.requestID == "" || s.requestID != py.RequestID || s.header != py.RequestID {
			t.Fatalf("candidate saw %+v; Python saw request id %q", s, py.RequestID)
		}
		if py.Shadow != "" {
			t.Fatalf("the primary Python run has graft.shadow=%q", py.Shadow)
		}
		e.settle()
	})
}

// TestReverseShadow has Go serve and Python run as the shadow.
func TestReverseShadow(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	e := newEnv(t, py, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: "GET /api/shadow", Stage: StageGo, ShadowSample: 1}}}, func(r *router.Router) {
		r.Use(middleware.RequestID(nil))
		r.Get("/api/shadow", func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, `{"shadow":"","request_id":"`+r.Header.Get("X-Request-Id")+`"}`)
		})
	})
	code, body := e.get(t, "/api/shadow")
	if code != 200 || !strings.HasPrefix(body, `{"shadow":""`) {
		t.Fatalf("client got %d %q, want Go's answer", code, body)
	}
	e.settle()
	st := e.status(t, "GET /api/shadow")
	if st.Counts.Go != 1 || st.Counts.Mismatched != 1 || len(st.MismatchPointers) != 1 || st.MismatchPointers["/shadow"] != 1 {
		t.Fatalf("counts %+v, pointers %v: Python's shadow run should differ at /shadow only", st.Counts, st.MismatchPointers)
	}
	if !strings.Contains(st.RecentMismatches[0].Python.Body, `"shadow":"1"`) {
		t.Fatalf("Python's shadow run did not see graft.shadow=1: %q", st.RecentMismatches[0].Python.Body)
	}
}

// TestShadowDjango compares Go candidates with a real Django app.
func TestShadowDjango(t *testing.T) {
	py := startPython(t, "djangomig.wsgi:application")
	e := newEnv(t, py, Options{Routes: []RouteConfig{
		{Route: "GET /api/users/{id}", Stage: StageShadow},
		{Route: "GET /api/time/{id}", Stage: StageShadow},
	}}, func(r *router.Router) {
		r.Get("/api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
			role := "admin"
			if chi.URLParam(r, "id") == "2" {
				role = "staff"
			}
			writeJSONBody(w, fmt.Sprintf(`{"id":%s,"name":"Grace","roles":[%q],"score":10}`, chi.URLParam(r, "id"), role))
		})
		r.Get("/api/time/{id}", func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, fmt.Sprintf(`{"id":%s,"now":%q}`, chi.URLParam(r, "id"), time.Now().UTC().Format(time.RFC3339Nano)))
		})
	})
	for _, tc := range []struct {
		path    string
		matched bool
		pointer string
	}{
		{"/api/users/1", true, ""},
		{"/api/users/2", false, "/roles/0"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			before := e.status(t, "GET /api/users/{id}")
			if code, body := e.get(t, tc.path); code != 200 || !strings.HasPrefix(body, `{"name": "Grace"`) {
				t.Fatalf("client got %d %q, want Django's answer", code, body)
			}
			e.settle()
			st := e.status(t, "GET /api/users/{id}")
			if got := st.Counts.Matched - before.Counts.Matched; got != map[bool]int64{true: 1}[tc.matched] {
				t.Fatalf("matched +%d; counts %+v, pointers %v", got, st.Counts, st.MismatchPointers)
			}
			if tc.pointer != "" && st.MismatchPointers[tc.pointer] != 1 {
				t.Fatalf("pointers %v, want %s", st.MismatchPointers, tc.pointer)
			}
		})
	}
	t.Run("Django's timestamp is learned as noise", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			e.get(t, "/api/time/1")
			e.settle()
		}
		st := e.status(t, "GET /api/time/{id}")
		if st.Counts.Mismatched != 0 || len(st.NoisePointers) != 1 || st.NoisePointers[0] != "/now" {
			t.Fatalf("counts %+v, noise %v, mismatches %v", st.Counts, st.NoisePointers, st.MismatchPointers)
		}
	})
}

// TestNoiseLearningSafeMethodsOnly checks that noise is learned (Python
// called a second time) only for safe methods: with shadow_unsafe, a POST
// runs in Python once per client request, whichever side serves it.
func TestNoiseLearningSafeMethodsOnly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		cfg    RouteConfig
		python int64 // Python runs per client request
		learns bool
	}{
		{"shadow GET learns noise", http.MethodGet, RouteConfig{Route: "GET /x", Stage: StageShadow}, 2, true},
		{"shadow POST with shadow_unsafe", http.MethodPost, RouteConfig{Route: "POST /x", Stage: StageShadow, ShadowUnsafe: true}, 1, false},
		{"reverse shadow POST with shadow_unsafe", http.MethodPost, RouteConfig{Route: "POST /x", Stage: StageGo, ShadowSample: 1, ShadowUnsafe: true}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs atomic.Int64
			py := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				runs.Add(1)
				writeJSONBody(w, `{"n": 1}`)
			})
			e := newEnv(t, py, Options{Routes: []RouteConfig{tc.cfg}}, func(r *router.Router) {
				r.Method(tc.method, "/x", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, `{"n": 1}`) }))
			})
			const requests = 5
			for range requests {
				e.do(t, tc.method, "/x", "charge=1")
				e.settle()
			}
			st := e.status(t, tc.cfg.Route)
			if got := runs.Load(); got != tc.python*requests {
				t.Errorf("Python ran %d times for %d requests, want %d", got, requests, tc.python*requests)
			}
			if st.Counts.Compared != requests || (st.Counts.NoiseRuns > 0) != tc.learns {
				t.Errorf("counts %+v, want %d comparisons and noise learned: %v", st.Counts, requests, tc.learns)
			}
		})
	}
}

// TestLateHeaderNotCompared checks that a header a Go handler sets after
// it has written its response, which net/http never sends, does not count
// as sent in the comparison: the Go response lacks it, a mismatch with
// Python's, whether Go runs in shadow (the candidate) or serves (reverse
// shadow).
func TestLateHeaderNotCompared(t *testing.T) {
	late := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "same")
		w.Header().Set("Cache-Control", "no-store") // too late: never sent
	}
	lateNoBody := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		w.Header().Set("Cache-Control", "no-store")
	}
	python := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, body)
		}
	}
	for _, tc := range []struct {
		name   string
		goH    http.HandlerFunc
		pyBody string
		cfg    RouteConfig
	}{
		{"shadow", late, "same", RouteConfig{Route: "GET /x", Stage: StageShadow}},
		{"shadow, no body", lateNoBody, "", RouteConfig{Route: "GET /x", Stage: StageShadow}},
		{"reverse shadow", late, "same", RouteConfig{Route: "GET /x", Stage: StageGo, ShadowSample: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, m, _ := pair(t, tc.goH, python(tc.pyBody), Options{NoiseSample: -1}, tc.cfg)
			srv := newServer(t, r)
			res, err := http.Get(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			m.jobs.Wait()
			st, _ := m.Route("GET /x")
			if st.Counts.Mismatched != 1 || st.MismatchPointers["header:Cache-Control"] != 1 {
				t.Fatalf("Go sent no Cache-Control, Python did: counts %+v, pointers %v; want one mismatch on header:Cache-Control",
					st.Counts, st.MismatchPointers)
			}
			if got := st.RecentMismatches[0].Go.Header.Get("Cache-Control"); got != "" {
				t.Errorf("the recorded Go response shows Cache-Control %q, which was never sent", got)
			}
		})
	}
}

// TestBodyNotAllowedNotCompared checks that a body a Go handler writes
// after a 204 or a 304, which net/http never sends, is not compared as
// sent: such a response matches Python's, which has no body.
func TestBodyNotAllowedNotCompared(t *testing.T) {
	for _, status := range []int{http.StatusNoContent, http.StatusNotModified} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			r, m, _ := pair(t,
				func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(status)
					io.WriteString(w, `{"cached": true}`) // net/http drops it
				},
				func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) },
				Options{NoiseSample: -1}, RouteConfig{Route: "GET /x", Stage: StageShadow})
			srv := newServer(t, r)
			res, err := http.Get(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			m.jobs.Wait()
			if st, _ := m.Route("GET /x"); st.Counts.Matched != 1 {
				t.Fatalf("counts %+v, pointers %v: want a match (neither side sends a body)", st.Counts, st.MismatchPointers)
			}
		})
	}
}

// TestServedHeaderAtWriteHeader checks that the served side's response is
// compared with the header the client got: net/http takes the header map
// when the status is written (WriteHeader, or the first Write), so what
// the handler changes after WriteHeader is never sent, whether or not a
// body follows. The same holds for the side run on a copy, whose
// response is what net/http would have sent. The served side is Python
// in shadow and Go in reverse shadow.
func TestServedHeaderAtWriteHeader(t *testing.T) {
	other := func(cacheControl bool, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			if cacheControl {
				w.Header().Set("Cache-Control", "no-store")
			}
			io.WriteString(w, body)
		}
	}
	for _, tc := range []struct {
		name   string
		served http.HandlerFunc
		sent   bool   // the client got Cache-Control
		body   string // the client's body
	}{
		{"set after WriteHeader", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			w.Header().Set("Cache-Control", "no-store") // not sent
			io.WriteString(w, "same")
		}, false, "same"},
		{"deleted after WriteHeader", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			w.Header().Del("Cache-Control") // sent all the same
			io.WriteString(w, "same")
		}, true, "same"},
		{"set after WriteHeader, no body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			w.Header().Set("Cache-Control", "no-store") // not sent
		}, false, ""},
		{"set after a Flush", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.(http.Flusher).Flush() // an implicit WriteHeader(200)
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, "same")
		}, false, "same"},
		{"set after a ReadFrom", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			if rf, ok := w.(io.ReaderFrom); ok { // net/http's (sendfile), served
				rf.ReadFrom(struct{ io.Reader }{strings.NewReader("same")})
			} else {
				io.WriteString(w, "same")
			}
			w.Header().Set("Cache-Control", "no-store")
		}, false, "same"},
	} {
		for _, role := range []struct {
			name   string
			stage  Stage
			served bool // tc.served serves the client, else it runs on the copy
		}{{"python served", StageShadow, true}, {"go served", StageGo, true}, {"go candidate", StageShadow, false}, {"python candidate", StageGo, false}} {
			t.Run(tc.name+"/"+role.name, func(t *testing.T) {
				// The other side sends Cache-Control when tc.served does
				// not, and the reverse: the comparison must see one
				// difference, on header:Cache-Control, in every case.
				tricky, plain := tc.served, other(!tc.sent, tc.body)
				goServes := role.stage == StageGo
				goTricky := goServes == role.served
				goH, pyH := plain, tricky
				if goTricky {
					goH, pyH = tricky, plain
				}
				cfg := RouteConfig{Route: "GET /x", Stage: role.stage}
				if goServes {
					cfg.ShadowSample = 1
				}
				r, m, _ := pair(t, goH, pyH, Options{NoiseSample: -1}, cfg)
				srv := newServer(t, r)
				res, err := http.Get(srv.URL + "/x")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if got := res.Header.Get("Cache-Control") != ""; role.served && (got != tc.sent || string(b) != tc.body) {
					t.Fatalf("the client got Cache-Control: %v, body %q; the test expects %v, %q", got, b, tc.sent, tc.body)
				}
				m.jobs.Wait()
				st, _ := m.Route("GET /x")
				if st.Counts.Mismatched != 1 || st.MismatchPointers["header:Cache-Control"] != 1 || len(st.MismatchPointers) != 1 {
					t.Fatalf("counts %+v, pointers %v: want one mismatch, on header:Cache-Control only", st.Counts, st.MismatchPointers)
				}
				rec := st.RecentMismatches[0].Python
				if goTricky {
					rec = st.RecentMismatches[0].Go
				}
				if got := rec.Header.Get("Cache-Control") != ""; got != tc.sent {
					t.Errorf("the recorded header of %s has Cache-Control: %v; net/http sends it: %v", role.name, got, tc.sent)
				}
			})
		}
	}
}

// TestShadowContentEncoding checks that bodies are compared decoded:
// Django's gzip_page (GZipMiddleware) gzips its JSON for a client that
// accepts gzip, the Go port does not, and the answers match; with Go
// compressing too (chi's Compress), in reverse shadow, the two gzip
// streams differ byte for byte and still match. A body that differs once
// decoded is still a mismatch, at its JSON pointer, and shown decoded.
func TestShadowContentEncoding(t *testing.T) {
	py := startPython(t, "djangomig.wsgi:application")
	var items strings.Builder
	items.WriteString(`{"items":[`)
	for i := range 20 {
		if i > 0 {
			items.WriteString(",")
		}
		fmt.Fprintf(&items, `{"id":%d,"name":"item %d"}`, i, i)
	}
	items.WriteString(`]}`)
	catalog := items.String()
	for _, tc := range []struct {
		name    string
		stage   Stage
		gzipGo  bool
		body    string
		pointer string // "" for a match
	}{
		{"python gzips", StageShadow, false, catalog, ""},
		{"both gzip", StageGo, true, catalog, ""},
		{"python gzips, go differs", StageShadow, false, strings.Replace(catalog, `"item 3"`, `"item three"`, 1), "/items/3/name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, py, Options{NoiseSample: -1, Routes: []RouteConfig{
				{Route: "GET /api/catalog", Stage: tc.stage, ShadowSample: 1},
			}}, func(r *router.Router) {
				h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, tc.body) }))
				if tc.gzipGo {
					h = chimw.Compress(5, "application/json")(h)
				}
				r.Method(http.MethodGet, "/api/catalog", h)
			})
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/catalog", nil)
			req.Header.Set("Accept-Encoding", "gzip") // set by hand: the client does not decode it
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("the served side did not gzip (Content-Encoding %q): the test needs it", res.Header.Get("Content-Encoding"))
			}
			e.settle()
			st := e.status(t, "GET /api/catalog")
			wantOne(t, st, tc.pointer)
			if tc.pointer == "" {
				return
			}
			if b := st.RecentMismatches[0].Python.Body; !strings.Contains(b, `"item 3"`) {
				t.Errorf("the recorded Python body is not shown decoded: %q", b)
			}
		})
	}
}

// TestShadowRedirectAbsolute: werkzeug before 2.1 made every Location
// absolute (http://host/path, from the request's scheme and Host), where
// a Go port's http.Redirect sends the path: every redirect was a mismatch
// on header:Location although a client goes to the same place. Location
// is now compared resolved against the request's URL; one leading
// elsewhere (another path, another host) is still a mismatch.
func TestShadowRedirectAbsolute(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	for _, tc := range []struct {
		name, location string
		match          bool
	}{
		{"a path", "/api/users/1", true},
		{"a relative path", "../users/1", true},
		{"another path", "/api/users/10", false},
		{"another host", "http://example.com/api/users/1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, py, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: "GET /api/oldmoved/{id}", Stage: StageShadow}}},
				func(r *router.Router) {
					r.Get("/api/oldmoved/{id}", func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Type", "text/html; charset=utf-8")
						w.Header().Set("Location", tc.location) // as sent: http.Redirect would clean it
						w.WriteHeader(http.StatusFound)
					})
				})
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err := client.Get(e.srv.URL + "/api/oldmoved/1")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || loc != e.srv.URL+"/api/users/1" {
				t.Fatalf("Flask answered %d, Location %q: the test needs an absolute Location", res.StatusCode, loc)
			}
			e.settle()
			st := e.status(t, "GET /api/oldmoved/{id}")
			if tc.match {
				wantOne(t, st, "")
				return
			}
			wantOne(t, st, "header:Location")
		})
	}
}

// TestShadowBrotliZstd: a Flask app with flask-compress answers a client
// that accepts br or zstd with a body in that encoding; the Go port
// answers plain JSON. Such bodies were compared as sent (the standard
// library reads neither), so every comparison was a mismatch. They are
// compared decoded: the same JSON matches, a different one is a mismatch
// at its pointer, shown decoded.
func TestShadowBrotliZstd(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	same := `{"items":[{"id":0,"name":"item 0"},{"id":1,"name":"item 1"},{"id":2,"name":"item 2"},{"id":3,"name":"item 3"}]}`
	for _, coding := range []string{"br", "zstd"} {
		for _, tc := range []struct {
			name, body, pointer string // pointer: "" for a match
		}{
			{"the same JSON", same, ""},
			{"a different name", strings.Replace(same, `"item 3"`, `"item three"`, 1), "/items/3/name"},
		} {
			t.Run(coding+", "+tc.name, func(t *testing.T) {
				e := newEnv(t, py, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: "GET /api/compressed/{coding}", Stage: StageShadow}}},
					func(r *router.Router) {
						r.Get("/api/compressed/{coding}", func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, tc.body) })
					})
				req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/compressed/"+coding, nil)
				req.Header.Set("Accept-Encoding", coding)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != coding {
					t.Fatalf("Flask answered %d, Content-Encoding %q: the test needs %s", res.StatusCode, res.Header.Get("Content-Encoding"), coding)
				}
				e.settle()
				st := e.status(t, "GET /api/compressed/{coding}")
				wantOne(t, st, tc.pointer)
				if tc.pointer == "" {
					return
				}
				if b := st.RecentMismatches[0].Python.Body; !strings.Contains(b, `"item 3"`) {
					t.Errorf("the recorded Python body is not shown decoded: %q", b)
				}
			})
		}
	}
}

// TestShadowRedirect checks that a redirect is compared by its status and
// Location, not by its body: werkzeug's redirect writes a small HTML page,
// Django's an empty body, Go's http.Redirect a link of its own, and a
// client that follows the redirect sees none of them. A different Location
// is still a mismatch, on header:Location alone. Nor is the Content-Type of
// that body compared: Flask and Django type every redirect text/html, while
// Go's http.Redirect types (and writes) its body only for GET and HEAD, so
// that the POST of every form (POST-redirect-GET) moved to Go showed a
// Content-Type mismatch until 2026-12-02.
func TestShadowRedirect(t *testing.T) {
	for _, app := range []string{"flaskmig:app", "djangomig.wsgi:application"} {
		t.Run(app, func(t *testing.T) {
			py := startPython(t, app)
			e := newEnv(t, py, Options{NoiseSample: -1, Routes: []RouteConfig{
				{Route: "GET /api/moved/{id}", Stage: StageShadow},
				{Route: "POST /api/moved/{id}", Stage: StageShadow, ShadowUnsafe: true},
			}}, func(r *router.Router) {
				moved := func(w http.ResponseWriter, r *http.Request) {
					id := chi.URLParam(r, "id")
					if id == "2" {
						id = "20" // a bug in the port
					}
					http.Redirect(w, r, "/api/users/"+id, http.StatusFound)
				}
				r.Get("/api/moved/{id}", moved)
				r.Post("/api/moved/{id}", moved)
			})
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				for _, tc := range []struct {
					path     string
					pointers map[string]int64
				}{
					{"/api/moved/1", map[string]int64{}},
					{"/api/moved/2", map[string]int64{"header:Location": 1}},
				} {
					req, _ := http.NewRequest(method, e.srv.URL+tc.path, strings.NewReader("a=1"))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					res, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					res.Body.Close()
					if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
						t.Fatalf("%s %s: status %d, Content-Type %q, want Python's 302 typed text/html (the test needs it)", method, tc.path, res.StatusCode, res.Header.Get("Content-Type"))
					}
					e.settle()
					st := e.status(t, method+" /api/moved/{id}")
					if len(st.MismatchPointers) != len(tc.pointers) || st.MismatchPointers["header:Location"] != tc.pointers["header:Location"] {
						t.Fatalf("after %s %s: counts %+v, pointers %v, want %v", method, tc.path, st.Counts, st.MismatchPointers, tc.pointers)
					}
				}
			}
		})
	}
}

// TestShadowSetCookieAttributes checks that Set-Cookie is compared by
// cookie name and attributes, never by value, and that the order of the
// cookies and of their attributes does not count: a Go port that forgets
// HttpOnly, Secure, SameSite or the Path of Flask's cookies is a mismatch
// on header:Set-Cookie, one that writes them as net/http does matches,
// though its values and its Expires dates differ from Flask's, or it
// writes the lifetimes with Max-Age alone.
func TestShadowSetCookieAttributes(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	year := 365 * 24 * time.Hour
	good := func(w http.ResponseWriter) {
		http.SetCookie(w, &http.Cookie{Name: "old", Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0)})
		http.SetCookie(w, &http.Cookie{Name: "uid", Value: "go-" + strconv.FormatInt(time.Now().UnixNano(), 10), Path: "/",
			MaxAge: int(year.Seconds()), Expires: time.Now().Add(year), HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	}
	for _, tc := range []struct {
		name  string
		set   func(w http.ResponseWriter)
		match bool
	}{
		{"as Flask", good, true},
		{"as Flask, the lifetimes written as Max-Age alone", func(w http.ResponseWriter) {
			http.SetCookie(w, &http.Cookie{Name: "old", Value: "", Path: "/", MaxAge: -1})
			http.SetCookie(w, &http.Cookie{Name: "uid", Value: "go", Path: "/", MaxAge: int(year.Seconds()),
				HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		}, true},
		{"no HttpOnly", func(w http.ResponseWriter) {
			http.SetCookie(w, &http.Cookie{Name: "old", Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0)})
			http.SetCookie(w, &http.Cookie{Name: "uid", Value: "go", Path: "/", MaxAge: int(year.Seconds()), Expires: time.Now().Add(year),
				Secure: true, SameSite: http.SameSiteLaxMode})
		}, false},
		{"no Path", func(w http.ResponseWriter) {
			http.SetCookie(w, &http.Cookie{Name: "old", Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0)})
			http.SetCookie(w, &http.Cookie{Name: "uid", Value: "go", MaxAge: int(year.Seconds()), Expires: time.Now().Add(year),
				HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		}, false},
		{"not deleted", func(w http.ResponseWriter) {
			http.SetCookie(w, &http.Cookie{Name: "old", Value: "", Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "uid", Value: "go", Path: "/", MaxAge: int(year.Seconds()), Expires: time.Now().Add(year),
				HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, py, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: "GET /api/visit", Stage: StageShadow}}},
				func(r *router.Router) {
					r.Get("/api/visit", func(w http.ResponseWriter, r *http.Request) {
						tc.set(w)
						w.Header().Set("Content-Type", "application/json")
						io.WriteString(w, "{\"ok\":true}\n")
					})
				})
			if code, _ := e.get(t, "/api/visit"); code != 200 {
				t.Fatalf("status %d", code)
			}
			e.settle()
			st := e.status(t, "GET /api/visit")
			if tc.match {
				wantOne(t, st, "")
				return
			}
			wantOne(t, st, "header:Set-Cookie")
			d := st.RecentMismatches[0].Diff
			if strings.Contains(d, "py-") || strings.Contains(d, "go-") {
				t.Errorf("the difference shows a cookie value:\n%s", d)
			}
			t.Logf("%s", d)
		})
	}
}

// TestShadowPermanentSession: Flask's permanent session cookie carries an
// Expires date 31 days on and no Max-Age; a Go port setting MaxAge (with
// or without Expires) to the same lifetime matches it, one with a lifetime
// of 30 days (Max-Age or Expires) or a session cookie does not.
func TestShadowPermanentSession(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	month := 31 * 24 * time.Hour
	for _, tc := range []struct {
		name   string
		cookie func() *http.Cookie
		match  bool
	}{
		{"MaxAge 31 days", func() *http.Cookie { return &http.Cookie{MaxAge: int(month.Seconds())} }, true},
		{"MaxAge and Expires 31 days", func() *http.Cookie {
			return &http.Cookie{MaxAge: int(month.Seconds()), Expires: time.Now().Add(month)}
		}, true},
		{"Expires 31 days", func() *http.Cookie { return &http.Cookie{Expires: time.Now().Add(month)} }, true},
		{"MaxAge 30 days", func() *http.Cookie { return &http.Cookie{MaxAge: int((30 * 24 * time.Hour).Seconds())} }, false},
		{"Expires 30 days", func() *http.Cookie { return &http.Cookie{Expires: time.Now().Add(30 * 24 * time.Hour)} }, false},
		{"a session cookie", func() *http.Cookie { return &http.Cookie{} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, py, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: "GET /api/login", Stage: StageShadow}}},
				func(r *router.Router) {
					r.Get("/api/login", func(w http.ResponseWriter, r *http.Request) {
						c := tc.cookie()
						c.Name, c.Value, c.Path, c.HttpOnly = "session", "go", "/", true
						http.SetCookie(w, c)
						w.Header().Set("Vary", "Cookie") // as Flask's, compared since 2026-12-02
						w.Header().Set("Content-Type", "application/json")
						io.WriteString(w, "{\"ok\":true}\n")
					})
				})
			if code, _ := e.get(t, "/api/login"); code != 200 {
				t.Fatalf("status %d", code)
			}
			e.settle()
			st := e.status(t, "GET /api/login")
			if tc.match {
				wantOne(t, st, "")
				return
			}
			wantOne(t, st, "header:Set-Cookie")
			t.Logf("%s", st.RecentMismatches[0].Diff)
		})
	}
}

// TestShadowSecurityHeaders checks that the headers Django's default
// middlewares (XFrameOptionsMiddleware, SecurityMiddleware) add to every
// answer are compared by default: a Go port that loses them serves pages
// that may be framed (clickjacking) or sniffed, and must not match.
func TestShadowSecurityHeaders(t *testing.T) {
	py := startPython(t, "djangomig.wsgi:application")
	for _, tc := range []struct {
		name     string
		set      func(h http.Header)
		pointers []string
	}{
		{"headers kept", func(h http.Header) {
			h.Set("X-Frame-Options", "DENY")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
		}, nil},
		{"headers lost", func(http.Header) {}, []string{"header:Referrer-Policy", "header:X-Content-Type-Options", "header:X-Frame-Options"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, py, Options{NoiseSample: -1, Routes: []RouteConfig{
				{Route: "GET /api/framed", Stage: StageShadow},
			}}, func(r *router.Router) {
				r.Get("/api/framed", func(w http.ResponseWriter, r *http.Request) {
					tc.set(w.Header())
					w.Header().Set("Content-Type", "application/json")
					w.Write([]byte(`{"ok": true}`))
				})
			})
			res, err := http.Get(e.srv.URL + "/api/framed")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.Header.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("Django's answer: X-Frame-Options %q, the test's premise fails", res.Header.Get("X-Frame-Options"))
			}
			e.settle()
			st := e.status(t, "GET /api/framed")
			got := slices.Sorted(maps.Keys(st.MismatchPointers))
			if !slices.Equal(got, tc.pointers) {
				t.Errorf("counts %+v, mismatch pointers %v, want %v", st.Counts, got, tc.pointers)
			}
		})
	}
}
