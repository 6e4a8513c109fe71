package reqctx

import "context"

// EnvironLayer carries one extra environ key, as [WithEnviron] does, in a
// context layer of the caller's own: middleware.Stack's per-request record
// embeds one and answers Value with [EnvironLayer.Lookup] first, instead
// of adding a layer with WithEnviron. The zero value carries nothing.
type EnvironLayer struct {
	e entry
}

// Set makes the layer carry key=value on top of the keys parent carries,
// parent being the context the caller's layer is made on (nothing may sit
// between them that sets environ keys). It panics for a key [AllowedKey]
// refuses.
func (l *EnvironLayer) Set(parent context.Context, key, value string) {
	if !AllowedKey(key) {
		panic("reqctx: EnvironLayer.Set: key " + key + " is not REMOTE_USER, AUTH_TYPE or graft.*")
	}
	l.e = entry{Context: parent, key: key, value: value, next: head(parent)}
}

// Lookup returns what the caller's Value should answer for key, and true,
// when key is [EnvironKey] and the layer carries a key; else nil and
// false.
func (l *EnvironLayer) Lookup(key any) (any, bool) {
	if key == EnvironKey && l.e.key != "" {
		return &l.e, true
	}
	return nil, false
}
