package wsgi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestRecordRequestID: an app whose logging format uses %(request_id)s
// (gunicorn users add a filter of their own for it) gets graft's request
// id there: the id of the request its thread serves, "-" outside one (the
// import, a thread of the app's own); a record given its own request_id
// (extra=) keeps it and does not raise; the app's own record factory,
// set at import on top of graft's, still runs. Before, every record of
// that app failed to format ("Formatting field not found in record:
// 'request_id'", a logging error on stderr instead of the line).
func TestRecordRequestID(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, threads := range []int{1, 4} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "recordidapp:app", Threads: threads})
			srv := newServer(t, c)
			tag := fmt.Sprint("t", threads)
			fetchPath(t, srv.URL, "/log?tag="+tag, http.Header{"X-Request-Id": {"rid-" + tag}})
			for _, want := range []string{
				"rid=[-] tag=app-factory import-rid",
				"rid=[rid-" + tag + "] tag=app-factory view-rid " + tag,
				"rid=[mine-" + tag + "] tag=app-factory extra-rid " + tag,
				"rid=[-] tag=app-factory thread-rid " + tag,
			} {
				stdioLine(t, logs, want)
			}
			if strings.Contains(logs.String(), "Formatting field not found") || strings.Contains(logs.String(), "KeyError") {
				t.Errorf("a record failed to format:\n%s", logs.String())
			}
		})
	}
	t.Run("django", func(t *testing.T) {
		c, logs := newDjango(t, Config{Env: []string{"GRAFT_DJANGO_CONSOLE_LOG=rid"}})
		srv := newServer(t, c)
		req, err := http.NewRequest("GET", srv.URL+"/boom/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Request-Id", "rid-dj-5")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		stdioLine(t, logs, "ERROR rid-dj-5 Internal Server Error: /boom/")
	})
}
