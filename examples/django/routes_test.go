package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
)

// -routes prints the project's routes (admin and notes, through include()
// and namespaces) joined with the Go routes, and exits.
func TestRoutesFlag(t *testing.T) {
	out := opstest.Stdout(t, func() error {
		return run([]string{"-routes", "-python", pythontest.Python(t, "django"), "-workers", "1", "-admin-password", "x"})
	})
	for _, want := range []string{
		"PYTHON ROUTE (django)",
		"admin/login/ [admin:login]",
		"/legacy/admin/login/",
		"served by Go",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-routes output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`api/whoami/ \[api_whoami\] +any +/legacy/api/whoami/ +GET:go +go\n`).MatchString(out) {
		t.Errorf("-routes: GET api/whoami/ is not shown as served by Go:\n%s", out)
	}
}
