package reqctx

import (
	"context"
	"fmt"
	"strings"
)

// entry is one extra environ key carried by a request context, kept as a
// linked list so that adding one never copies the others. It is itself the
// context layer that carries it (one allocation per key, not two).
type entry struct {
	context.Context // the parent
	key, value      string
	next            *entry
}

// Value answers EnvironKey with the newest entry; anything else goes to
// the parent.
func (e *entry) Value(key any) any {
	if key == EnvironKey {
		return e
	}
	return e.Context.Value(key)
}

// String describes the layer, as context.WithValue's do.
func (e *entry) String() string {
	return fmt.Sprintf("%v.WithEnviron(%q, %q)", e.Context, e.key, e.value)
}

// head returns the newest entry ctx carries, or nil.
func head(ctx context.Context) *entry {
	e, _ := ctx.Value(EnvironKey).(*entry)
	return e
}

// WithEnviron returns a copy of ctx carrying key=value on top of the keys
// ctx carries. It does not check key: the caller does, with [AllowedKey]
// (wsgi.WithEnviron panics for a key it refuses).
func WithEnviron(ctx context.Context, key, value string) context.Context {
	return &entry{Context: ctx, key: key, value: value, next: head(ctx)}
}

// EnvironValue returns the latest value set for key, and whether one was.
func EnvironValue(ctx context.Context, key string) (string, bool) {
	for e := head(ctx); e != nil; e = e.next {
		if e.key == key {
			return e.value, true
		}
	}
	return "", false
}

// EachEnviron calls fn for each key set, once, with its latest value,
// newest first, without allocating.
func EachEnviron(ctx context.Context, fn func(key, value string)) {
	h := head(ctx)
	for e := h; e != nil; e = e.next {
		shadowed := false
		for n := h; n != e; n = n.next {
			if n.key == e.key {
				shadowed = true
				break
			}
		}
		if !shadowed {
			fn(e.key, e.value)
		}
	}
}

// AllowedKey reports whether Go code may set key in the environ:
// REMOTE_USER, AUTH_TYPE, or a lower-case key starting with "graft."
// (letters, digits, "." and "_"). Every other key is derived from the
// request by the container.
func AllowedKey(key string) bool {
	switch key {
	case "REMOTE_USER", "AUTH_TYPE":
		return true
	}
	if !strings.HasPrefix(key, "graft.") || len(key) == len("graft.") {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}
