package middleware

// contextKey is the type of the context keys of this package, in chi's
// style: a pointer, so that keys never collide, with a name for debugging.
type contextKey struct{ name string }

func (k *contextKey) String() string { return "graft/middleware context value " + k.name }
