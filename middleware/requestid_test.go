package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"

	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"

	"github.com/graft-dev/graft/wsgi"
)

func TestRequestID(t *testing.T) {
	p := MustParseProxies("10.0.0.0/8")
	const proxyID = "0190d8a2-7b3c-7def-8abc-0123456789ab"
	tests := []struct {
		name     string
		peer     string
		incoming string
		keep     bool
		viaTrust bool
	}{
		{"none", "203.0.113.7:1", "", false, false},
		{"untrusted client", "203.0.113.7:1", proxyID, false, false},
		{"trusted proxy", "10.0.0.1:1", proxyID, true, false},
		{"trusted proxy, nginx id", "10.0.0.1:1", "7f3c1e0a9b8d4c2e1f0a9b8c7d6e5f4a", true, false},
		{"trusted proxy, malformed", "10.0.0.1:1", "a b\r\nc", false, false},
		{"trusted proxy, too long", "10.0.0.1:1", string(make([]byte, 65)), false, false},
		{"after TrustProxies rewrote RemoteAddr", "10.0.0.1:1", proxyID, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ctxID, chiID, envID, hdrID string
			h := RequestID(p)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctxID = RequestIDFromContext(r.Context())
				chiID = chimw.GetReqID(r.Context())
				envID = wsgi.ExtraEnviron(r.Context())["graft.request_id"]
				hdrID = r.Header.Get("X-Request-ID")
			}))
			if tc.viaTrust {
				h = TrustProxies(p)(h)
			}
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.peer
			if tc.viaTrust {
				req.Header.Set("X-Forwarded-For", "203.0.113.7")
			}
			if tc.incoming != "" {
				req.Header.Set("X-Request-ID", tc.incoming)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			id := w.Header().Get("X-Request-ID")
			if tc.keep && id != tc.incoming {
				t.Errorf("got %q, want the incoming %q", id, tc.incoming)
			}
			if !tc.keep {
				u, err := uuid.Parse(id)
				if err != nil || u.Version() != 7 {
					t.Errorf("got %q, want a fresh UUIDv7", id)
				}
			}
			if ctxID != id || chiID != id || envID != id || hdrID != id {
				t.Errorf("response %q, context %q, chi %q, environ %q, header %q: want all equal", id, ctxID, chiID, envID, hdrID)
			}
		})
	}
}
