package main

import (
	"strings"
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
)

// -routes prints the shop's routes joined with the Go routes, and exits.
func TestRoutesFlag(t *testing.T) {
	out := opstest.Stdout(t, func() error {
		return run([]string{"-routes", "-python", pythontest.Python(t, "flask"), "-workers", "1"})
	})
	for _, want := range []string{
		"PYTHON ROUTE (flask)",
		"/shop/api/products/{pid:[0-9]+}",
		"/api/products [api_products]",
		"3 of 10 Python routes (30%) served by Go", // the API pair and the static folder (fallback.Static)
		// Flask's <int:pid> takes every decimal digit, Go's [0-9]+ not:
		// a note, not a conflict.
		"\nNotes:\n",
		"\n  /api/products/<int:pid>: Go's /[0-9]+/ reads the digits 0-9 only",
		// The static mount's * also takes /shop/static/, which Flask's
		// <path:filename> refuses: a note too.
		"\n  /static/<path:filename>: Go's * also takes the empty rest",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-routes output lacks %q:\n%s", want, out)
		}
	}
}
