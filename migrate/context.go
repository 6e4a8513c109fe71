package migrate

import "context"

// shadowKey marks the context of a shadow run.
type shadowKey struct{}

func (*shadowKey) String() string { return "migrate context value shadow" }

var shadowCtxKey = &shadowKey{}

// IsShadow reports whether ctx is the context of a shadow run: a copy of a
// client's request that the Migrator runs only to compare its response,
// which nobody receives. Go handlers call it to skip side effects (sending
// mail, charging a card, enqueueing jobs). Python code sees the same flag
// as environ["graft.shadow"] == "1".
//
// A shadow run carries the context values of the client's request (so the
// same request id), is not canceled when the client goes away, and has a
// deadline ([Options].Timeout).
func IsShadow(ctx context.Context) bool {
	v, _ := ctx.Value(shadowCtxKey).(bool)
	return v
}
