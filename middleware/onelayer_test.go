package middleware

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// withEnviron is a middleware of the app's own that sets an environ key.
func withEnviron(key, value string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(wsgi.WithEnviron(r.Context(), key, value)))
		})
	}
}

// TestOneContextLayer: whether graft's record carries the request id's
// environ key and the state's hooks itself (a record made by the
// middleware that sets them) or they get layers of their own (a record
// made further out, with other layers between), the handler sees every
// environ key, and what it reports through wsgi.TraceFrom and
// router.DispatchFrom reaches the access line.
func TestOneContextLayer(t *testing.T) {
	tests := []struct {
		name     string
		chain    func(log *slog.Logger) []func(http.Handler) http.Handler
		oneLayer bool // the handler's context is the record itself
		want     map[string]string
	}{
		{"Stack", func(log *slog.Logger) []func(http.Handler) http.Handler {
			return []func(http.Handler) http.Handler{withEnviron("graft.outer", "o"), Stack(Options{Logger: log})}
		}, true, map[string]string{"graft.outer": "o"}},
		{"TrustProxies, app's environ, RequestID, AccessLog", func(log *slog.Logger) []func(http.Handler) http.Handler {
			return []func(http.Handler) http.Handler{withEnviron("graft.outer", "o"), TrustProxies(nil),
				withEnviron("REMOTE_USER", "ann"), RequestID(nil), AccessLog(log, nil)}
		}, false, map[string]string{"graft.outer": "o", "REMOTE_USER": "ann"}},
		{"Metrics, then Stack", func(log *slog.Logger) []func(http.Handler) http.Handler {
			return []func(http.Handler) http.Handler{Metrics(prometheus.NewRegistry()),
				withEnviron("REMOTE_USER", "ann"), Stack(Options{Logger: log})}
		}, false, map[string]string{"REMOTE_USER": "ann"}},
		{"Stack, app's environ, nested Stack", func(log *slog.Logger) []func(http.Handler) http.Handler {
			return []func(http.Handler) http.Handler{Stack(Options{Logger: log}),
				withEnviron("REMOTE_USER", "ann"), Stack(Options{Logger: slog.New(slog.DiscardHandler)})}
		}, false, map[string]string{"REMOTE_USER": "ann"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			var env map[string]string
			var id string
			var own bool
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				env = wsgi.ExtraEnviron(r.Context())
				id = RequestIDFromContext(r.Context())
				_, own = r.Context().(*reqInfo)
				if tr := wsgi.TraceFrom(r.Context()); tr != nil {
					tr.Served, tr.Worker = true, 4242
				}
				router.MarkFallback(r.Context())
			})
			chain := tc.chain(log)
			for i := len(chain) - 1; i >= 0; i-- {
				h = chain[i](h)
			}
			req := httptest.NewRequest("GET", "/x", nil)
			h.ServeHTTP(httptest.NewRecorder(), req)

			want := maps.Clone(tc.want)
			want["graft.request_id"] = id
			if id == "" || !maps.Equal(env, want) {
				t.Errorf("environ %v, want %v", env, want)
			}
			if own != tc.oneLayer {
				t.Errorf("the handler's context is the record: %v, want %v", own, tc.oneLayer)
			}
			var line map[string]any
			if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
				t.Fatalf("access line %q: %v", buf.String(), err)
			}
			if line[AttrTarget] != "wsgi" || line[AttrWorker] != 4242.0 || line[AttrRoute] != "fallback" || line[AttrRequestID] != id {
				t.Errorf("access line %s: want the trace's target and worker, the fallback and id %s", buf.String(), id)
			}
		})
	}
}
