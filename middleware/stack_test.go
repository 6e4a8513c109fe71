package middleware

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/wsgi"
)

// seen is what a handler behind the middlewares observes.
type seen struct {
	remote, host, scheme string
	header               http.Header
	environ              map[string]string
	urlScheme            string
	id, chiID, respID    string
}

func observeAll(got *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got = seen{
			remote: r.RemoteAddr, host: r.Host, scheme: Scheme(r),
			header: r.Header.Clone(), environ: wsgi.ExtraEnviron(r.Context()),
			urlScheme: wsgi.URLScheme(r.Context()),
			id:        RequestIDFromContext(r.Context()), chiID: chimw.GetReqID(r.Context()),
			respID: w.Header().Get(RequestIDHeader),
		}
	})
}

// Stack does in one step what the chain of its three middlewares does,
// and leaves the incoming request alone.
func TestStackMatchesChain(t *testing.T) {
	x := MustParseProxies("10.0.0.0/8").TrustHost()
	f := x.UseForwarded()
	tests := []struct {
		name, peer string
		p          *Proxies
		header     map[string]string
	}{
		{"plain", "203.0.113.7:1", x, nil},
		{"trusted proxy", "10.0.0.1:1", x, map[string]string{"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.com", "X-Request-Id": "edge-1"}},
		{"untrusted forwarding headers", "203.0.113.7:1", x, map[string]string{"Forwarded": "for=1.2.3.4", "X-Forwarded-Prefix": "/x", "X-Request-Id": "evil"}},
		{"trusted Forwarded", "10.0.0.2:1", f, map[string]string{"Forwarded": "for=\"[2001:db8::1]:80\";proto=https;host=a.example"}},
	}
	for _, tc := range tests {
		p := tc.p
		t.Run(tc.name, func(t *testing.T) {
			var out [2]seen
			var logs [2]bytes.Buffer
			for i := range out {
				logger := slog.New(slog.NewJSONHandler(&logs[i], nil))
				var h http.Handler
				if i == 0 {
					h = Stack(Options{Logger: logger, Proxies: p})(observeAll(&out[i]))
				} else {
					h = chi.Chain(TrustProxies(p), RequestID(p), AccessLog(logger, nil)).Handler(observeAll(&out[i]))
				}
				req := httptest.NewRequest("GET", "/x", nil)
				req.RemoteAddr = tc.peer
				for k, v := range tc.header {
					req.Header.Set(k, v)
				}
				before := req.Header.Clone()
				h.ServeHTTP(httptest.NewRecorder(), req)
				if !reflect.DeepEqual(req.Header, before) {
					t.Errorf("incoming header changed: %v, was %v", req.Header, before)
				}
				if req.RemoteAddr != tc.peer || RequestIDFromContext(req.Context()) != "" {
					t.Error("incoming request changed")
				}
				g := &out[i]
				if g.id == "" || g.chiID != g.id || g.respID != g.id || g.header.Get(RequestIDHeader) != g.id || g.environ["graft.request_id"] != g.id {
					t.Errorf("ids disagree: %+v", g)
				}
				if !bytes.Contains(logs[i].Bytes(), []byte(`"request.id":"`+g.id+`"`)) {
					t.Errorf("log %s lacks the id %s", logs[i].String(), g.id)
				}
			}
			a, b := out[0], out[1]
			if tc.header["X-Request-Id"] == "edge-1" {
				if a.id != "edge-1" || b.id != "edge-1" {
					t.Errorf("kept ids %q %q, want edge-1", a.id, b.id)
				}
			}
			a.id, a.chiID, a.respID, b.id, b.chiID, b.respID = "", "", "", "", "", ""
			a.header.Del(RequestIDHeader)
			b.header.Del(RequestIDHeader)
			delete(a.environ, "graft.request_id")
			delete(b.environ, "graft.request_id")
			if !reflect.DeepEqual(a, b) {
				t.Errorf("Stack saw %+v\nchain saw %+v", a, b)
			}
		})
	}
}

// A Stack inside another (a host Router's) keeps the outer request id and
// logs the same one; the response carries it once.
func TestNestedStackKeepsID(t *testing.T) {
	var outerLog, innerLog bytes.Buffer
	var seenID string
	inner := Stack(Options{Logger: slog.New(slog.NewJSONHandler(&innerLog, nil))})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenID = RequestIDFromContext(r.Context())
	}))
	h := Stack(Options{Logger: slog.New(slog.NewJSONHandler(&outerLog, nil))})(inner)
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Request-Id", "client-chosen") // untrusted: replaced
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	ids := w.Header().Values(RequestIDHeader)
	if len(ids) != 1 || ids[0] != seenID || seenID == "client-chosen" || seenID == "" {
		t.Fatalf("response ids %q, handler saw %q", ids, seenID)
	}
	for _, l := range []*bytes.Buffer{&outerLog, &innerLog} {
		if !bytes.Contains(l.Bytes(), []byte(`"request.id":"`+seenID+`"`)) {
			t.Errorf("log %s lacks %s", l.String(), seenID)
		}
	}
}

// sliceCtx is a context that is not comparable (a struct value holding a
// slice), as a user's own context type may be.
type sliceCtx struct {
	context.Context
	tags []string
}

// graft's middlewares never compare contexts: an inner middleware that
// has nothing to change keeps a non-comparable context without panicking.
func TestNonComparableContext(t *testing.T) {
	var got string
	inner := chi.Chain(TrustProxies(nil), RequestID(nil), AccessLog(slog.New(slog.NewTextHandler(io.Discard, nil)), nil), Metrics(prometheus.NewRegistry())).
		Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = RequestIDFromContext(r.Context()) }))
	wrap := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r.WithContext(sliceCtx{r.Context(), []string{"x"}}))
	})
	h := Stack(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})(wrap)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if got == "" || got != w.Header().Get(RequestIDHeader) {
		t.Errorf("inner saw id %q, response %q", got, w.Header().Get(RequestIDHeader))
	}
}
