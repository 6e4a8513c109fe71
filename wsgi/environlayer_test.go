package wsgi

import (
	"context"
	"maps"
	"testing"
)

// ownLayer is a caller's context layer carrying an EnvironLayer and a
// *Trace itself, as graft's middleware record does.
type ownLayer struct {
	context.Context
	env   EnvironLayer
	trace Trace
}

func (l *ownLayer) Value(key any) any {
	if IsTraceKey(key) {
		return &l.trace
	}
	if v, ok := l.env.Lookup(key); ok {
		return v
	}
	return l.Context.Value(key)
}

// TestEnvironLayer: a layer of the caller's own carries its key as
// WithEnviron would, above the parent's keys and below later ones, and
// answers WithTrace's key when it says so.
func TestEnvironLayer(t *testing.T) {
	parent := WithEnviron(WithEnviron(context.Background(), "REMOTE_USER", "ann"), "graft.id", "outer")
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
			return WithEnviron(l, "graft.id", "later")
		}, map[string]string{"REMOTE_USER": "ann", "graft.id": "later"}},
		{"same as WithEnviron", func() context.Context {
			return WithEnviron(parent, "graft.request_id", "r1")
		}, map[string]string{"REMOTE_USER": "ann", "graft.id": "outer", "graft.request_id": "r1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx()
			if got := ExtraEnviron(ctx); !maps.Equal(got, tc.want) {
				t.Errorf("ExtraEnviron: %v, want %v", got, tc.want)
			}
			if l, ok := ctx.(*ownLayer); ok && TraceFrom(ctx) != &l.trace {
				t.Errorf("TraceFrom: not the layer's Trace")
			}
		})
	}
	if IsTraceKey(environCtxKey) || !IsTraceKey(traceCtxKey) {
		t.Errorf("IsTraceKey answers for the wrong key")
	}
	for _, key := range []string{"PATH_INFO", "graft.", "graft.Upper", ""} {
		t.Run("refuses "+key, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Set(%q) did not panic", key)
				}
			}()
			var l EnvironLayer
			l.Set(context.Background(), key, "v")
		})
	}
}
