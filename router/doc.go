// Package router routes requests to native Go handlers and sends everything
// else to a fallback, typically the Python app run by the wsgi package. It
// is Tornado's tornado.routing plus FallbackHandler, built on
// [github.com/go-chi/chi/v5], for teams that move an app to Go one route at
// a time.
//
// # Routes
//
// A [Router] has chi's methods (Get, Post, Handle, Route, Mount, Use, With,
// Group), takes chi patterns ("/users/{id}", "/files/*",
// "/n/{n:[0-9]+}") and plain net/http handlers and middlewares. URL
// parameters are read with [chi.URLParam] or r.PathValue. A pattern may
// also end in graft's constrained catch-all, "{*:regexp}"
// ("/files/{*:.+}"): the catch-all whose value, the rest of the path,
// must match the regexp (see docs/routing.md).
//
// Unlike chi, and like http.ServeMux, a GET route also serves HEAD, with
// the body discarded and the GET's headers kept, unless a HEAD route is
// registered on the same pattern (see [Router.Get]).
//
//	r := router.New()
//	r.Use(middleware.Stack(middleware.Options{}))
//	r.Get("/users/{id}", showUser).Name("user")
//	r.Fallback(pythonApp)
//
// # Fallback
//
// [Router.Fallback] receives every request that no Go route serves: an
// unknown path, and also a known path with another method, so that Python
// keeps serving POST /users after Go took over GET /users. This holds inside
// sub-routers made with [Router.Route] and [Router.Mount]. A route that
// should answer a real 405 says so with [Route.Allow].
//
// A Router's Use middlewares run before its fallback, even while the Router
// has no Go route, where plain chi skips them: a sub-router that only has
// an authentication middleware and a fallback still authenticates every
// request it passes to Python.
//
// Requests are routed as their decoded path, the PATH_INFO the Python app
// gets: "/%73ecret" and "/admin%2Fx" go where "/secret" and "/admin/x" go,
// so that escaping part of a path cannot take a request past a Go route or
// a sub-router's middlewares into the fallback (an escaped slash is kept
// for a Go route that takes it in a value). For the same reason a path with
// more than one leading slash, which Flask matches with one ("//secret" is
// its /secret), is routed with one when that reaches a Go route or a
// sub-router. A catch-all ("/files/*") does not take a value holding a
// newline, which Python's "." (Flask's and Django's <path:p>) refuses:
// that request goes to the fallback. A Go route guards only its own
// methods: see docs/routing.md.
//
// # Named routes
//
// [Route.Name] names a route and [Router.URL] builds its path from
// parameters, percent-encoding them like Tornado's reverse_url. Names are
// unique: a duplicate panics at registration.
//
//	u, err := r.URL("user", "id", "42") // "/users/42"
//
// # Hosts
//
// [Hosts] puts a Router per host rule ("api.example.com",
// "*.example.com") in front, with a default Router for every other host.
//
// # Inventory
//
// [Router.Inventory] and [Hosts.Inventory] list every route with its
// method, full pattern, name and target ([TargetGo] or [TargetFallback]).
//
// # Stages
//
// A route registered for one method (Get, Post, Method, Handle("GET
// /path", ...)) is staged: a [Stager] set with [Router.SetStager] decides
// who serves each of its requests, the Go handler or the fallback (the
// migrate package does this, route by route). [Router.StagedRoutes] lists
// them with the fallback that covers each. Without a Stager, Go serves.
//
// The Stager decides before the route's own middlewares run: those of
// [Router.With] and of a Group's Use run only for the requests Go serves,
// so that the fallback answers its share of a route as if Go had no such
// route. The Use middlewares of a Router made by New or Route (the
// server-wide stack, a sub-Router's), and those of With and Group that a
// Route or Mount was registered under, run for every request that reaches
// the fallback under them, so for both shares. Middlewares applied to the
// handler value itself (r.Get("/x", auth(h))) are part of the Go handler.
//
// # Errors
//
// Registration mistakes (a duplicate name, a nil handler, an invalid host
// rule) panic with a "router: " prefix; chi's own checks panic with
// "chi: ". At request time nothing panics: unmatched requests go to the
// fallback, or get a 404 or 405.
package router
