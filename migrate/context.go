package migrate

import "context"

// contextKey is the type of the context keys of this package, in chi's
// style: a pointer, so keys never collide, to an unexported type, so that
// only this package sets and reads them.
type contextKey struct{ name string }

func (k *contextKey) String() string { return "graft/migrate context value " + k.name }

var (
	// shadowCtxKey marks the context of a shadow run (IsShadow).
	shadowCtxKey = &contextKey{"Shadow"}
	// hostCheckedCtxKey marks, in its context, a request whose Host the
	// admin handler allowed, so that the console it serves does not check
	// it again with the rule of a console served alone
	// (ConsoleOptions.Hosts).
	hostCheckedCtxKey = &contextKey{"HostChecked"}
	// pythonRoutesCtxKey holds, in the context of a request the admin
	// handler passes to its console, the handler's
	// AdminOptions.PythonRoutes (when set), so that the console shows the
	// inventory the handler serves as JSON.
	pythonRoutesCtxKey = &contextKey{"PythonRoutes"}
)

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
