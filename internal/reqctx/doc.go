// Package reqctx holds the request-context keys and the environ entries
// that graft's wsgi, router and middleware packages share, so that none of
// them needs an exported name for the others.
//
// The public API stays where it was: wsgi.WithEnviron, wsgi.ExtraEnviron,
// wsgi.WithTrace and wsgi.TraceFrom, router.WithDispatch and
// router.DispatchFrom set and read their values with the keys of this
// package ([EnvironKey], [TraceKey], [DispatchKey]; chi's style: pointers to
// an unexported type, printed with the name of the package that sets
// them). What the seam is for: middleware.Stack keeps a request's state in
// one record that is itself a context layer, and that record answers these
// keys from its own Value method (the *wsgi.Trace and *router.Dispatch it
// holds, the request id's environ key through an embedded [EnvironLayer])
// instead of adding a context layer, one allocation, per value.
//
// The environ entries form a linked list through the context: each entry
// is itself the context layer that carries it ([WithEnviron]), the newest
// is what [EnvironKey] answers, and [EnvironValue] and [EachEnviron] walk
// the list. [AllowedKey] is the one rule for which keys may be set.
package reqctx
