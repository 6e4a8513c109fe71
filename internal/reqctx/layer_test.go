package reqctx_test

import (
	"context"
	"maps"
	"testing"

	"github.com/graft-dev/graft/internal/reqctx"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// ownLayer is a caller's context layer carrying an EnvironLayer, a Trace
// and a Dispatch itself, as middleware.Stack's record does.
type ownLayer struct {
	context.Context
	env      reqctx.EnvironLayer
	trace    wsgi.Trace
	dispatch router.Dispatch
}

func (l *ownLayer) Value(key any) any {
	switch key {
	case reqctx.TraceKey:
		return &l.trace
	case reqctx.DispatchKey:
		return &l.dispatch
	}
	if v, ok := l.env.Lookup(key); ok {
		return v
	}
	return l.Context.Value(key)
}

// TestEnvironLayer: a layer of the caller's own carries its key as
// wsgi.WithEnviron would, above the parent's keys and below later ones,
// and answers wsgi.TraceFrom and router.DispatchFrom with what it holds.
func TestEnvironLayer(t *testing.T) {
	parent := wsgi.WithEnviron(wsgi.WithEnviron(context.Background(), "REMOTE_USER", "ann"), "graft.id", "outer")
	tests := []struct {
		name string
		ctx  func() context.Context
		want map[string]string
	}{
		{"zero value carries nothing", func() context.Context {
			return &ownLayer{Context: parent}
		}, map[string]string{"REMOTE_USER": "ann", "graft.id": "outer"}},
		{"on top of the parent's keys", func() context.Context {
			l := &ownLayer{Context: parent}
			l.env.Set(parent, "graft.request_id", "r1")
			return l
		}, map[string]string{"REMOTE_USER": "ann", "graft.id": "outer", "graft.request_id": "r1"}},
		{"shadows the parent's value", func() context.Context {
			l := &ownLayer{Context: parent}
			l.env.Set(parent, "graft.id", "inner")
			return l
		}, map[string]string{"REMOTE_USER": "ann", "graft.id": "inner"}},
		{"shadowed by a later WithEnviron", func() context.Context {
			l := &ownLayer{Context: parent}
			l.env.Set(parent, "graft.id", "inner")
			return wsgi.WithEnviron(l, "graft.id", "later")
		}, map[string]string{"REMOTE_USER": "ann", "graft.id": "later"}},
		{"same as WithEnviron", func() context.Context {
			return wsgi.WithEnviron(parent, "graft.request_id", "r1")
		}, map[string]string{"REMOTE_USER": "ann", "graft.id": "outer", "graft.request_id": "r1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx()
			if got := wsgi.ExtraEnviron(ctx); !maps.Equal(got, tc.want) {
				t.Errorf("ExtraEnviron: %v, want %v", got, tc.want)
			}
			for k, want := range tc.want {
				if got, ok := reqctx.EnvironValue(ctx, k); !ok || got != want {
					t.Errorf("EnvironValue(%q): %q %v, want %q", k, got, ok, want)
				}
			}
			if got, ok := reqctx.EnvironValue(ctx, "graft.none"); ok {
				t.Errorf("EnvironValue(graft.none): %q, want none", got)
			}
			if l, ok := ctx.(*ownLayer); ok {
				if wsgi.TraceFrom(ctx) != &l.trace {
					t.Errorf("TraceFrom: not the layer's Trace")
				}
				if router.DispatchFrom(ctx) != &l.dispatch {
					t.Errorf("DispatchFrom: not the layer's Dispatch")
				}
			}
		})
	}
	for _, key := range []string{"PATH_INFO", "graft.", "graft.Upper", ""} {
		t.Run("refuses "+key, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Set(%q) did not panic", key)
				}
			}()
			var l reqctx.EnvironLayer
			l.Set(context.Background(), key, "v")
		})
	}
}
