package migrate

import (
	"net/http"
	"strings"
	"testing"

	"github.com/graft-dev/graft/router"
)

// TestRollbackHeadFollowsGet checks the automatic rollback of a HEAD route
// registered on its own (r.Head, as the Django example's static files)
// that follows its GET route's line in the stages file. Its Go handler
// failing must roll back the line it follows, so that Flask answers the
// HEAD (and the GET) on the next request. Before 2026-12-02 the HEAD's
// requests were never counted in a rollback window (it had no line of its
// own), so Go's 500s went on however many there were.
func TestRollbackHeadFollowsGet(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	for _, tc := range []struct {
		name  string
		stage Stage
	}{
		{"canary", StageCanary},
		{"go", StageGo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, py, Options{Routes: []RouteConfig{{Route: "GET /api/side", Stage: tc.stage, Percent: 100}}}, func(r *router.Router) {
				r.Get("/api/side", func(w http.ResponseWriter, r *http.Request) {
					w.Write([]byte("go\n"))
				})
				r.Head("/api/side", func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusInternalServerError)
				})
			})
			for i := range 50 {
				if code, _ := e.do(t, http.MethodHead, "/api/side", ""); code != http.StatusInternalServerError {
					t.Fatalf("HEAD %d: status %d before the rollback, want Go's 500", i, code)
				}
			}
			if code, _ := e.do(t, http.MethodHead, "/api/side", ""); code != http.StatusOK {
				t.Fatalf("HEAD after 50 failures: %d, want Flask's 200", code)
			}
			if _, body := e.get(t, "/api/side"); body != "python\n" {
				t.Errorf("GET after the rollback of its line: %q, want Flask's", body)
			}
			st := e.status(t, "GET /api/side")
			if st.Rollback == nil || !strings.Contains(st.Rollback.Reason, "HEAD /api/side") || st.Effective != StagePython {
				t.Fatalf("GET /api/side: effective %s, rollback %+v; want rolled back, naming the HEAD", st.Effective, st.Rollback)
			}
			if hs := e.status(t, "HEAD /api/side"); hs.Rollback == nil || hs.Effective != StagePython {
				t.Errorf("HEAD /api/side: effective %s, rollback %+v", hs.Effective, hs.Rollback)
			}
			if n := e.metric(t, "graft_migrate_rollbacks_total", "route", "GET /api/side"); n != 1 {
				t.Errorf("graft_migrate_rollbacks_total{route=GET /api/side} = %v, want 1", n)
			}

			// Re-enabling the line starts the HEAD's window afresh too: one
			// more failure does not roll it back again.
			if code, out := e.post(t, "/routes", `{"route": "GET /api/side", "percent": 100}`); code != 200 {
				t.Fatalf("re-enable: %d %v", code, out)
			}
			if code, _ := e.do(t, http.MethodHead, "/api/side", ""); code != http.StatusInternalServerError {
				t.Fatalf("HEAD after re-enabling: %d, want Go's 500", code)
			}
			if st := e.status(t, "GET /api/side"); st.Rollback != nil {
				t.Errorf("one HEAD failure after re-enabling rolled the line back again: %s", st.Rollback.Reason)
			}
		})
	}
}
