package wsgi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestRequestIDLog: a `logging` record that the app logs in the thread
// serving a request carries the request's id as request.id, the key of
// graft's own lines for the request and of the access log, so that the
// app's lines and the request's are joined. The id is the one graft's
// lines give the request: graft.request_id (set by middleware.RequestID
// with WithEnviron, as here), else the X-Request-Id header. A record of
// a thread of the app's own, or logged outside of a request, carries
// none; with 4 threads, concurrent requests each get their own. Before,
// no record of the app's had a request.id.
func TestRequestIDLog(t *testing.T) {
	pythontest.Python(t, "flask")
	for _, threads := range []int{1, 4} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "reqidlogapp:app", Threads: threads})
			h := testIDs(c)
			srv := e2eServe(t, h)

			cases := []struct {
				name, tag string
				hdr       http.Header
				want      string // the request.id of the view's records; "" for none
			}{
				{"environ", "env", http.Header{"X-Test-Id": {"rid-env-1"}}, "rid-env-1"},
				{"environ over header", "both", http.Header{"X-Test-Id": {"rid-both"}, "X-Request-Id": {"hdr-both"}}, "rid-both"},
				{"header", "hdr", http.Header{"X-Request-Id": {"hdr-only-7"}}, "hdr-only-7"},
				// Go's bytes, which the environ has as latin-1: the id on
				// the app's records is the one on graft's lines.
				{"non-ASCII", "utf8", http.Header{"X-Test-Id": {"id-é-☃"}}, "id-é-☃"},
				{"none", "none", nil, ""},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					fetchLog(t, srv.URL, "tag="+tc.tag, tc.hdr)
					for _, m := range []string{"view-marker ", "module-marker "} {
						if got := recordID(t, logs, m+tc.tag); got != tc.want {
							t.Errorf("record %q: request.id %q, want %q", m+tc.tag, got, tc.want)
						}
					}
					if got := recordID(t, logs, "thread-marker "+tc.tag); got != "" {
						t.Errorf("the record of the app's own thread has request.id %q, want none", got)
					}
				})
			}
			t.Run("outside a request", func(t *testing.T) {
				if got := recordID(t, logs, "import-marker"); got != "" {
					t.Errorf("the import's record has request.id %q, want none", got)
				}
			})
			if threads < 4 {
				return
			}
			t.Run("concurrent", func(t *testing.T) {
				var wg sync.WaitGroup
				for i := range threads {
					wg.Add(1)
					go func() {
						defer wg.Done()
						fetchLog(t, srv.URL, fmt.Sprintf("tag=c%d&meet=%d", i, threads), http.Header{"X-Test-Id": {fmt.Sprintf("rid-c%d", i)}})
					}()
				}
				wg.Wait()
				for i := range threads {
					for _, m := range []string{"view-marker ", "module-marker "} {
						msg, want := fmt.Sprintf("%sc%d", m, i), fmt.Sprintf("rid-c%d", i)
						if got := recordID(t, logs, msg); got != want {
							t.Errorf("record %q: request.id %q, want %q", msg, got, want)
						}
					}
					if got := recordID(t, logs, fmt.Sprintf("thread-marker c%d", i)); got != "" {
						t.Errorf("the record of the app's own thread has request.id %q, want none", got)
					}
				}
			})
		})
	}
}

// fetchLog asks reqidlogapp's /log with query and the headers hdr.
func fetchLog(t *testing.T, base, query string, hdr http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/log?"+query, nil)
	if err != nil {
		t.Error(err)
		return
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET /log?%s: %v", query, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /log?%s: status %d", query, resp.StatusCode)
	}
}

var requestIDAttr = regexp.MustCompile(` request\.id=(\S+)`)

// recordID waits for the record whose message is msg and returns its
// request.id ("" if it has none).
func recordID(t *testing.T, logs *pythontest.Buffer, msg string) string {
	t.Helper()
	sub := "msg=" + msg + " "
	if strings.ContainsAny(msg, " \"=") {
		sub = fmt.Sprintf("msg=%q ", msg) // as slog.TextHandler quotes it
	}
	logHas(t, logs, 10*time.Second, sub)
	line := logLine(logs, sub)
	if !strings.Contains(line, "log.logger=") {
		t.Errorf("the record %q is not a logging record: %s", msg, line)
	}
	if m := requestIDAttr.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}

// testIDs gives each request to c the id of its X-Test-Id header, as
// middleware.RequestID does: in the environ, as graft.request_id.
func testIDs(c http.Handler) http.Handler {
	return ctxHandler(func(r *http.Request) context.Context {
		if id := r.Header.Get("X-Test-Id"); id != "" {
			return WithEnviron(r.Context(), "graft.request_id", id)
		}
		return r.Context()
	})(c)
}
