// Package migrate moves a route from Python to Go in stages, in process:
// it decides, for every request of a staged Go route of a
// [github.com/graft-dev/graft/router.Router], whether Python (the
// router's fallback) or Go serves it, compares the two, and rolls back by
// itself when Go misbehaves.
//
//	r := router.New()
//	r.Get("/api/users/{id}", showUser)
//	r.Fallback(pythonApp)
//	m, err := migrate.New(r, migrate.Options{StagesFile: "stages.json", Logger: logger})
//	...
//	go http.ListenAndServe("127.0.0.1:9090", auth(m.Handler(migrate.AdminOptions{})))
//
// # Stages
//
// Every Go route registered for one method has a [Stage]:
// [StagePython] (deployed dark: Python serves), [StageShadow] (Python
// serves; Go runs on a copy and the responses are compared),
// [StageCanary] (a sticky percentage is served by Go) or [StageGo] (the
// default). A global force-python switch overrides the stage of every
// configured route (a route with no configuration is not being migrated
// and stays in go), and a per-route one that of its route, on the next
// request. python, shadow and canary need a fallback:
// setting them on a route that no fallback covers is an error. A HEAD
// route with no configuration follows the GET route of its pattern (its
// stage, kill switches and canary buckets); one with a canary of its own
// still buckets with the GET route's key, so that a user gets GET and
// HEAD from the same side.
//
// The stage is decided before the route's own middlewares (those of
// router.With and of a Group's Use) run: they run for Go's share of the
// route (the shadow run included), never for Python's, which the
// fallback answers as if Go had no such route. The middlewares that also
// run for the fallback (the router's and sub-routers' Use) run for both,
// before the decision: canary's sticky keys remote_user and identity see
// what they set, not what a route's With middleware sets.
//
// # Shadow comparison
//
// In the shadow stage, Python's response goes to the client as it is
// produced; once Python is done, the Go handler runs in the background on
// a copy of the request (a context for which [IsShadow] is true, with the same request id),
// under [Options].Timeout, with panics recovered and at most
// [Options].MaxConcurrent runs in flight (more are dropped and counted).
// Go cannot stop a handler: a run past its timeout is counted as a
// timeout but keeps its slot until the handler returns
// ([RouteStatus].OverdueRuns).
// Only GET, HEAD and OPTIONS are shadowed unless the route sets
// ShadowUnsafe. The canary and go stages can compare a sample of Go's
// responses against Python the same way (reverse shadow).
//
// [Compare] compares status, headers and body (JSON structurally, per
// JSON pointer, numbers by exact value; text line by line; anything else
// by hash). Noise is learned as Diffy does: on a route's first
// comparisons, then on a sample of those with unexplained differences,
// Python is called a second time (for GET, HEAD and OPTIONS only, never
// for a request with side effects), and the pointers where Python differs
// from itself are no longer counted; an array it answers with the same
// elements in another order is learned as unordered instead
// ([RouteStatus].UnorderedPointers), and its elements are compared each
// with the other side's element that is the same, the noise learned in
// them left out ("*" stands for every element: "/items/*/seen_at", and
// "/orders/*/lines" for the lists in order of their own inside them), so
// that what differs inside its elements still counts. A conditional GET or HEAD answered
// 304 (or 206 under If-Range) by one side and 200 by the other, each by
// its own ETag and Last-Modified (two servers of one file mint different
// ETags), is compared on the whole answers: the side that did not answer
// 200 is run again without the conditions.
// Routes can also ignore pointers, headers and one name inside Vary
// ("Vary: Accept-Language"), and [Options].Normalize
// rewrites responses before comparison. The recent mismatches each route
// keeps (for GET /routes and the console) are bounded in size and have
// their secrets redacted when they are recorded: the values of headers,
// query parameters and JSON, form and HTML fields whose names contain a
// word of [DefaultRedact] or [Options].Redact.
//
// # Canary
//
// [Bucket] hashes the route and a sticky key (a cookie, a header,
// REMOTE_USER, an identity, or the client address) to one of 10,000
// buckets: a user stays on one side, and raising the percentage only adds
// users. Testers force a side with a signed override ([SignOverride]).
// When Go's 5xx rate, or its reverse-shadow mismatch rate, goes above
// [RollbackPolicy].Threshold, the route drops to python until a person
// sets it again; the rollback is written to the stages file
// ([File].Rollbacks), so that it outlasts a restart.
//
// # Control
//
// The configuration lives in an atomically swapped snapshot. It comes from
// a stages file ([File], [ParseFile]; [ReadFile] checks one before the app
// starts) polled for changes and reloaded by [Migrator.Reload] (call it on
// SIGHUP), from [Migrator.SetRoute] and [Migrator.SetForcePython], or from
// the admin API ([Migrator.Handler]).
// Changes made in process are written back to the file atomically. Every
// change is logged with who made it.
//
// # The migration console
//
// The HTML console, [Migrator.Console], is served by the
// [AdminOptions].Console handler, which the admin handler calls for every
// request its JSON API does not take (GET / first). The console reads the state with [Migrator.Routes] (the
// same [RouteStatus] values GET /routes encodes, recent mismatches
// included) and changes it with [Migrator.Config] + [Migrator.SetRoute]
// (stage, percentage; this also re-enables a rolled-back route) and
// [Migrator.SetForcePython] (kill switches), passing the person's name as
// who. Its forms are its own (with their CSRF protection); the JSON API
// only accepts Content-Type: application/json, which forms cannot send.
// Both answer only requests whose Host is an IP address, localhost or a
// name of [AdminOptions].Hosts (of [ConsoleOptions].Hosts for a console
// served alone), against DNS rebinding.
// A console written in JavaScript can use the JSON API instead:
// GET routes, POST routes, POST force-python, relative to the console's
// URL.
//
// # The migration inventory
//
// [NewInventory] joins the Python app's route map
// ([github.com/graft-dev/graft/wsgi.Container.AppRoutes]) with the
// router's inventory: which methods of each Python route Go serves and at
// which stage, the Go-only routes, the conflicts (partial captures,
// shadowed routes, different constraints, trailing slashes) and the
// coverage. [Inventory.WriteTable] prints it; the admin API serves it at
// GET /inventory when [AdminOptions].PythonRoutes is set, and the console
// then shows it as a page (console/inventory), linked from the console's
// page and from each route's row and card.
//
// # Metrics
//
// A Migrator registers these Prometheus metrics with [Options].Registerer:
//
//	graft_migrate_requests_total{route, side}        requests served by python or go
//	graft_migrate_refused_total{route}               of python's, those its container
//	                                                 refused without running the app
//	graft_migrate_comparisons_total{route, outcome}  match, mismatch, candidate_error,
//	                                                 candidate_panic, candidate_timeout,
//	                                                 dropped, skipped
//	graft_migrate_rollbacks_total{route}             automatic rollbacks
//	graft_migrate_overrides_total{result}            tester overrides: accepted, rejected
//	graft_migrate_duration_seconds{route, side}      time each side took, served or shadow
//	graft_migrate_stage{route, stage}                1 for the stage in effect
//	graft_migrate_shadow_overdue{route}              shadow runs past their timeout,
//	                                                 still holding a slot
package migrate
