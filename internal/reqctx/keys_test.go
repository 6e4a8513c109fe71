package reqctx_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/graft-dev/graft/internal/reqctx"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// TestKeys: the keys print like chi's, with the name of the public
// package that sets them, and wsgi and router set exactly these keys.
func TestKeys(t *testing.T) {
	tr, d := &wsgi.Trace{}, &router.Dispatch{}
	ctx := router.WithDispatch(wsgi.WithTrace(wsgi.WithEnviron(context.Background(), "graft.a", "1"), tr), d)
	tests := []struct {
		key   any
		print string
		want  any
	}{
		{reqctx.EnvironKey, "wsgi context value Environ", nil},
		{reqctx.TraceKey, "wsgi context value Trace", tr},
		{reqctx.DispatchKey, "graft/router context value Dispatch", d},
	}
	for _, tc := range tests {
		t.Run(tc.print, func(t *testing.T) {
			if got := fmt.Sprint(tc.key); got != tc.print {
				t.Errorf("prints %q, want %q", got, tc.print)
			}
			got := ctx.Value(tc.key)
			if got == nil || tc.want != nil && got != tc.want {
				t.Errorf("Value: %v, want %v", got, tc.want)
			}
		})
	}
}
