package wsgi

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAppLoggingConfigKept: an app whose logging setup replaces the root
// logger's handlers (dictConfig with a "root" entry, as Django projects'
// LOGGING often has) logs each record once, through its own handlers, with
// preload as without. Workers forked from the zygote added graft's handler
// back to the root logger: with preload every record was logged twice,
// once by the app's console handler and once by graft's.
func TestAppLoggingConfigKept(t *testing.T) {
	for _, noPreload := range []bool{false, true} {
		t.Run(fmt.Sprint("preload=", !noPreload), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "dictlog:app", NoPreload: noPreload})
			srv := newServer(t, c)
			// A LOG frame goes out before the response on the worker's
			// socket, so Go has logged it once the response is in; the
			// app's console handler writes to stderr, read apart.
			if b := mustGet(t, srv.URL+"/?once"); string(b) != "logged" {
				t.Fatalf("got %q", b)
			}
			logHas(t, logs, 5*time.Second, "dictlog-marker once")
			if n := strings.Count(logs.String(), "dictlog-marker once"); n != 1 {
				t.Errorf("the record was logged %d times, want once:\n%s", n, logs.String())
			}
		})
	}
}
