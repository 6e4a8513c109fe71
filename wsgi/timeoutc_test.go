package wsgi

import (
	"strings"
	"testing"
	"time"
)

// TestTimeoutStuckInC: a request stuck in C code (libc's sleep, the GIL
// released) past Timeout gets 504 and its worker is killed and replaced,
// while the other worker keeps serving a load that sees no failure. The
// stack dump's SIGUSR1 ends the C sleep early: the view then returned
// within the 0.5 s Go gives the dump before the kill, and that answer
// reached the client as a complete 200, though Go had logged the request
// as timed out and killed its worker for it. With every signal blocked in
// the request's thread the sleep is not cut, and the kill ends it.
func TestTimeoutStuckInC(t *testing.T) {
	for _, tc := range []struct{ name, path string }{
		{"signal ends the sleep", "/csleep?s=30"},
		{"signals blocked", "/csleep?s=30&mask=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "opsapp:app", Workers: 2, Timeout: time.Second})
			srv := newServer(t, c)
			lg := startLoad(t, srv.URL+"/pid", 4)
			start := time.Now()
			resp, b, err := get(t, nil, "GET", srv.URL+tc.path, nil)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("GET %s: %v", tc.path, err)
			}
			if resp.StatusCode != 504 {
				t.Errorf("GET %s: %d %q after %v; want 504", tc.path, resp.StatusCode, b, took)
			}
			if took > 5*time.Second {
				t.Errorf("the 504 took %v; want about Timeout plus the 0.5 s of the stack dump", took)
			}
			logHas(t, logs, 3*time.Second, "request timed out", "url.path=/csleep")
			waitFor(t, 10*time.Second, "the worker replaced", func() bool {
				st := c.Status()
				return st.Restarts["timeout"] == 1 && len(st.Workers) == 2
			})
			time.Sleep(200 * time.Millisecond) // some load on the replacement
			lg.checkNoFailures(t, 10)
			if strings.Contains(logs.String(), "woke up") {
				t.Errorf("the log has the view's answer: %s", logs.String())
			}
		})
	}
}
