package wsgi

import (
	"strings"
	"testing"
	"time"
)

// TestDjangoDebugLoggedOnce: with DEBUG on, Django's default logging
// gives the "django" logger a console handler (stderr) that propagates to
// the root logger, where graft's handler is. A failed view's record was
// logged twice: printed by Django's handler (graft.stream=stdio) and sent
// again by graft's (log.logger=django.request), where gunicorn prints it
// once. graft's handler now leaves out a record that a handler of the app
// on its way to the root logger wrote to stdout or stderr.
func TestDjangoDebugLoggedOnce(t *testing.T) {
	c, logs := newDjango(t, Config{Env: []string{"GRAFT_DJANGO_DEBUG=1"}})
	srv := newServer(t, c)
	resp, err := srv.Client().Get(srv.URL + "/boom/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("GET /boom/ = %d, want 500", resp.StatusCode)
	}
	logHas(t, logs, 10*time.Second, "RuntimeError: djangoapp boom", "Internal Server Error: /boom/")
	time.Sleep(2 * dumpQuiet) // the end of a traceback is its quiet
	s := logs.String()
	if n := strings.Count(s, "Internal Server Error: /boom/"); n != 1 {
		t.Errorf("the record was logged %d times, want once:\n%s", n, s)
	}
	if strings.Contains(s, "log.logger=django.request") {
		t.Errorf("graft's handler sent the record Django's console handler printed:\n%s", s)
	}
}
