package wsgi

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// DefaultPrefetch is Config.Prefetch's default: the most requests that may
// wait in the socket of a busy worker whose requests are fast.
const DefaultPrefetch = 8

// DefaultMaxResponseHeadSize is Config.MaxResponseHeadSize when it is 0:
// 64 KiB, as DefaultLimitRequestHead for a request's head; sixteen cookies
// of the 4 KiB browsers keep at most, with room to spare.
const DefaultMaxResponseHeadSize = 64 << 10

// MaxThreads is the most request threads a container runs: Config.Workers
// times Config.Threads may not exceed it.
const MaxThreads = 1 << 15

// Config configures a Container. The zero value of every field but App is
// a documented default.
type Config struct {
	// App names the WSGI application like gunicorn does: "module:callable",
	// "module:attr.path", or "module:factory()" for an app factory called
	// with no arguments. "module" alone means "module:application".
	App string

	// Python is the interpreter that runs the workers: "python3" (found on
	// PATH) when empty. A virtualenv's bin/python works. Debian's packages
	// (python3-flask, ...) install into /usr/bin/python3. A relative path
	// with a slash ("venv/bin/python") is relative to the current
	// directory when New is called, not to Dir; New makes it absolute
	// (symbolic links are not resolved: a virtualenv's stays itself).
	Python string

	// Dir is the workers' working directory, also put first on sys.path
	// (gunicorn's --chdir). Empty means the Go process's directory.
	Dir string

	// AppFS, if not nil, is the app's source tree (typically an embed.FS,
	// narrowed with fs.Sub), so that the binary carries the app: New copies
	// it to a private read-only directory under TempDir (0700; removed by
	// Shutdown, or by the next start after a kill -9), which becomes Dir;
	// Dir must then be empty. Reload imports from the same copy. See
	// Container.AppDir and docs/operations.md. nil: the app is on disk.
	AppFS fs.FS

	// PythonPath lists extra sys.path entries, put after Dir.
	PythonPath []string

	// Env lists extra "KEY=VALUE" environment variables for the workers, on
	// top of the Go process's environment.
	Env []string

	// Workers is the number of worker processes: runtime.NumCPU() when 0.
	// Workers*Threads is at most [MaxThreads].
	Workers int

	// Threads is the number of threads running requests in each worker
	// (Tornado's executor): 1 when 0. Threads share one GIL, so they help
	// I/O-bound apps only; the app must be thread safe.
	Threads int

	// Timeout bounds the time a worker spends on one request, from the
	// moment it receives it to the end of its response. A request over it is
	// answered 504 (or aborted if its headers are out), the worker's Python
	// stacks are logged and the worker is killed and replaced. 30s when 0;
	// negative means no limit.
	Timeout time.Duration

	// MaxQueue bounds the requests waiting for a free worker thread; more
	// are answered 503 at once (one with a body before it is read, see
	// QueueReporter). 1024 when 0; negative means none may wait.
	MaxQueue int

	// QueueTimeout bounds the time a request waits for a free worker thread
	// before it is answered 503 with Retry-After. 30s when 0; New refuses
	// a negative one.
	QueueTimeout time.Duration

	// Prefetch is how many requests may wait in the socket of a busy worker
	// when every worker is busy, so that it goes from one to the next without
	// sleeping, and Go reads several responses at a time. A worker gets as
	// many as take less than 10ms in all at its average request time, up to
	// Prefetch (one averaging 2ms gets 4; one averaging 10ms or more none),
	// and none while one of its requests has been running for 5ms.
	// If a worker dies, the requests it had not started are sent to another
	// worker. Those waiting while each of a worker's threads runs a request
	// that has been in flight for a second (or 20 times the worker's
	// average, if longer) are taken back from the worker and sent to
	// another, if another worker could take them. DefaultPrefetch when 0;
	// negative turns prefetching off.
	Prefetch int

	// ScriptName is the prefix the app is mounted at (SCRIPT_NAME), such as
	// "/legacy". Requests under it see the rest of the path in PATH_INFO.
	// The router's mounts add to it per request (see WithMount).
	ScriptName string

	// BodyBuffer is the largest request body passed to the worker in memory;
	// larger bodies are spooled to an unlinked temporary file first, so that
	// neither Go nor Python holds them in memory and a slow upload never
	// holds a worker. 64 KiB when 0.
	BodyBuffer int

	// MaxBodySize rejects larger request bodies with 413. 0 means no limit
	// (like gunicorn); a front proxy or http.MaxBytesHandler may set one.
	MaxBodySize int64

	// MaxResponseHeadSize bounds the head of the app's response: its
	// status line and header fields, counted as HTTP/1.1 writes them
	// ("HTTP/1.1 ", the status and CRLF; each name, ": ", value and CRLF;
	// the closing CRLF), before any header a Go middleware adds. A larger
	// head is answered 502 (ErrResponseHeadTooLarge), with none of its
	// headers, and logged at ERROR with its size and the limit, as nginx
	// answers "upstream sent too big header" (over its proxy_buffer_size):
	// clients refuse heads far smaller than net/http sends (curl's HTTP/2
	// at about 128 KiB, Chrome's at 256 KiB), so the client would get an
	// error of its own with nothing in graft's log. A 103 Early Hints
	// (wsgi.early_hints) over it is not sent (logged at WARN); the final
	// response goes on. 0 means DefaultMaxResponseHeadSize; negative means
	// no limit (as gunicorn).
	MaxResponseHeadSize int

	// TempDir is where request bodies are spooled, and responses spilled
	// (see ResponseSpill): os.TempDir() when empty. New fails if it
	// cannot create a file there (a TMPDIR that does not exist, a
	// read-only mount).
	// Spool files are unlinked at once; up to 8 of bodies up to 4 MiB are
	// kept open for the next bodies (writing into a kept file's pages costs
	// less than a new file's), so a disk-backed TempDir sees their pages
	// written back now and then; on tmpfs nothing reaches a disk.
	TempDir string

	// ResponseBuffer is how many bytes of a streamed response Go holds in
	// memory ahead of the client: a response that fits frees the worker at
	// once, however slow the client. Of a larger one, what the client has
	// not taken spills to a file (see ResponseSpill). 1 MiB when 0.
	ResponseBuffer int

	// ResponseSpill is how many bytes of a response Go may keep in an
	// unlinked temporary file in TempDir when its client reads more slowly
	// than the worker sends, so that a slow client holds neither the
	// worker nor, with Threads > 1, the worker's other responses (the file
	// is emptied whenever the client has taken all of it). Past it the
	// response streams with backpressure: the worker waits for the client
	// (until Timeout: then it is killed and replaced, and the response
	// cut short). DefaultResponseSpill (1 GiB, as nginx's
	// proxy_max_temp_file_size) when 0; negative: never spill.
	ResponseSpill int64

	// SendTimeout is how long a write of a response may wait for a
	// client that takes none of it (nginx's send_timeout). Under [Serve]
	// (which takes this value unless ServeConfig.SendTimeout is set) every
	// response is watched, native and bridged, whole, streamed or a file:
	// a write to the socket that has made no progress for it fails and
	// the connection closes, and an HTTP/2 stream whose client grants no
	// flow-control window for a piece (up to 16 KiB) for it is reset (see
	// ServeConfig.SendTimeout). With another server, the container
	// watches its streamed responses itself: a write to the client (a
	// part of up to 256 KiB) that has not returned after it. In both
	// cases a spilled response (see ResponseSpill) of which the client
	// took nothing for it is given up too. Go then gives the client up,
	// whether or not it keeps its connection open: the spill file is
	// dropped, the app told to stop, the write cut and the connection (in
	// HTTP/2, the stream) closed before the response's end, logged once at
	// WARN. An app that pauses between writes is never cut by it. Without
	// Serve, a client reading 4.3 KB/s or more is never cut with the
	// default (256 KiB a minute), and a response the worker sends whole (a
	// body of up to 256 KiB) or a wsgi.file_wrapper file is written
	// unwatched. [DefaultSendTimeout] (60s) when 0; negative: no limit.
	SendTimeout time.Duration

	// NoPreload starts every worker as a fresh interpreter that imports the
	// app itself. By default (false) one preload process (a zygote) imports
	// the app once, freezes the garbage collector's view (gc.freeze) and
	// forks the workers: they share its memory copy-on-write and replacements
	// start in milliseconds. Set NoPreload for apps that break when forked
	// after import (threads or connections opened at import time).
	NoPreload bool

	// BatchScheduling makes New put the Go process's threads under Linux's
	// SCHED_BATCH policy (what `chrt -b 0` gives a command; any process may
	// choose it for itself) before it starts the workers, which inherit it,
	// as do the threads Go starts later. A SCHED_BATCH thread that wakes up
	// does not preempt the thread running on its CPU: it waits for that one
	// to block or for the scheduler's tick. Where Go and the workers share
	// few cores, Go's many short wake-ups (a client's request, a worker's
	// response) otherwise preempt the workers in the middle of the app's
	// code, thousands of times a second, and the app runs with cold caches;
	// measured on 2 cores, Flask and Django served about a fifth more
	// requests with a lower p99, and the Go side spent a quarter less CPU
	// per request (docs/performance.md). It applies to the whole process: Go code
	// besides graft's is scheduled the same way, and a native route whose
	// CPUs are kept busy by the workers waits a little longer for one. It
	// changes nothing while CPUs are idle. Threads under another policy
	// (real time, idle) are left alone. If the system refuses the change
	// (a seccomp filter), New logs a warning and goes on; outside Linux
	// nothing happens; either way Container.Config then reports it false.
	// false (the default) leaves scheduling alone; graft's example servers
	// turn it on (-sched-batch).
	BatchScheduling bool

	// ChildSubreaper makes New mark the Go process a child subreaper
	// (Linux's prctl PR_SET_CHILD_SUBREAPER) before it starts the
	// workers, and reap the orphans it is then given, as graft does when
	// it runs as PID 1: a process whose parent dies goes to its nearest
	// subreaper ancestor instead of the system's PID 1. Orphans of graft's
	// descendants (the workers of a preload process killed with -9, a
	// daemonised grandchild of an app's subprocess) are reaped by graft,
	// even under a PID 1 that does not reap (a supervisor that is not an
	// init, a shell script's exec'd wrapper). graft's own children and
	// those the program starts with os/exec keep their exit status for
	// their cmd.Wait (see docs/operations.md, Containers and Kubernetes:
	// the same rules as for PID 1, Linux 5.4 or later). It applies to the
	// whole process, and lasts (and the reaper with it) for the process's
	// life, after Shutdown too. New fails if it cannot be had, and on
	// systems other than Linux. false (the default): graft reaps only as
	// PID 1.
	ChildSubreaper bool

	// MaxRequests recycles a worker after it has been handed this many
	// requests (gunicorn's --max-requests; one it gave back before
	// beginning it, see Prefetch, does not count), plus a random
	// 0..MaxRequestsJitter so workers do not all recycle at once. The
	// request that completes it is never prefetched (it waits for a free
	// thread), so that none is given back once the replacement has
	// started: the worker serves exactly its budget. It is then
	// handed no more (control calls neither; they do not count), its
	// replacement starts at once, and it finishes what it has and exits
	// once the replacement is in service. Meanwhile the other workers take
	// the requests, or they wait for the replacement (the queue has room
	// for the worker's Threads beyond MaxQueue). If the replacement cannot
	// start, the worker serves on past its limit while the start is tried
	// again with backoff (100 ms doubling to 10 s), until one can. 0: never.
	MaxRequests int
	// MaxRequestsJitter: see MaxRequests.
	MaxRequestsJitter int

	// MaxRSS recycles a worker whose resident memory, checked after each
	// request, is over this many bytes (uWSGI's reload-on-rss). 0: never.
	// Linux only: New rejects it elsewhere.
	MaxRSS int64

	// MaxLifetime recycles a worker older than this (plus up to 10%, so
	// workers started together leave apart). 0: never.
	MaxLifetime time.Duration

	// SlowRequest logs the Python stacks of a worker (faulthandler) once
	// when one of its requests has run this long, with the request's method,
	// path and id. 0: never.
	SlowRequest time.Duration

	// AutoReload watches the .py files under Dir and PythonPath and reloads
	// the workers (see Container.Reload) when one changes. For development;
	// off by default.
	AutoReload bool

	// StartTimeout bounds the start of a worker (or of the preload
	// process), up to the end of the app's import, like gunicorn's
	// --timeout at boot. A process over it has its Python stack logged
	// once (at ERROR, graft.stack: where the import hangs) and is killed;
	// New or Reload then fails with an error wrapping ErrStartTimeout. 60s
	// when 0.
	StartTimeout time.Duration

	// Logger receives the container's logs and everything the workers log:
	// their stderr, wsgi.errors and Python's logging. slog.Default() when nil.
	Logger *slog.Logger

	// ErrorHandler writes the response when the container cannot get one
	// from the app (err wraps one of the Err* values of this package).
	// DefaultErrorHandler when nil.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// IdentityHook names the Python function that tells who a request's
	// user is (Container.Identity, Container.IdentityMiddleware):
	// "module:function", called in a worker with the request's environ and
	// returning a JSON-serialisable dict, or None for an anonymous request.
	// graft ships "graft:django" (Django's session and auth middleware),
	// "graft:flask" (the Flask session and flask-login's user id) and
	// "graft:pyramid" (request.authenticated_userid, from any Pyramid 2
	// security policy or Pyramid 1 authentication policy, and the
	// request's session); see [Identity] for what each returns. It is
	// loaded with the app: one that cannot be loaded (no such module or
	// function, an object that is not callable) makes New and Reload fail
	// with a *LoadError. Empty (the default): no identity lookups.
	IdentityHook string

	// IdentityTTL is how long an identity is cached per session (see
	// IdentityCookies): 10s when 0; negative turns the cache off. A logout
	// or a permission change in Python reaches Go within this time.
	IdentityTTL time.Duration

	// IdentityCacheSize bounds the cached identities (least recently used
	// out first): 10000 when 0.
	IdentityCacheSize int

	// IdentityCookies names the cookies that identify a session, whose
	// values key the identity cache. With graft's own hooks it may stay
	// empty: they tell Go with each answer what it depends on (the
	// cookies the app reads its users from: its SESSION_COOKIE_NAME and,
	// with flask-login, its REMEMBER_COOKIE_NAME; with flask-login's
	// SESSION_PROTECTION the client's address and User-Agent; with a
	// flask-login request_loader, and with graft:pyramid, what the
	// lookups read; with Django's RemoteUserMiddleware REMOTE_USER or its
	// header), and the
	// cache keys on those and the cookies named here; a WARN names the
	// app's cookies a non-empty list leaves out. With a hook of the app's
	// own, it must name every cookie the hook reads ("sessionid" for
	// Django, "session" for Flask); empty, the whole Cookie and
	// Authorization headers key the cache, which is right for any hook
	// but caches less. A user the app's own hook finds in a request that
	// carries none of them (names that miss the app's session cookie) is
	// not cached or shared, and is logged at ERROR once. A cookie not
	// named here is checked by name (its first request, then once per
	// IdentityTTL: a lookup in Python too); when Python's answer differs
	// from the cached one, a WARN names it and the cache keys on the
	// request's cookies not named here as well, until the process ends.
	IdentityCookies []string
}

// appSpec matches "module[:attr.path[()]]".
var appSpec = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(\(\))?)?$`)

// CheckApp checks the form of spec, a [Config] App, as [New] does, for a
// program that checks its command line before anything starts.
func CheckApp(spec string) error {
	if err := checkApp(spec); err != nil {
		return fmt.Errorf("wsgi: %w", err)
	}
	return nil
}

func checkApp(spec string) error {
	if spec == "" {
		return errors.New("App is empty; want module:callable")
	}
	if !appSpec.MatchString(spec) {
		return fmt.Errorf("App %q is not module:callable (or module:factory())", spec)
	}
	return nil
}

// withDefaults validates c and returns a copy with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if err := checkApp(c.App); err != nil {
		errs = append(errs, err)
	}
	if c.Python == "" {
		c.Python = "python3"
	} else if strings.Contains(c.Python, "/") && !filepath.IsAbs(c.Python) {
		// exec would resolve it relative to Dir, where the workers run.
		if abs, err := filepath.Abs(c.Python); err == nil {
			c.Python = abs
		}
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("Workers %d is negative", c.Workers))
	} else if c.Workers == 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.Threads < 0 {
		errs = append(errs, fmt.Errorf("Threads %d is negative", c.Threads))
	} else if c.Threads == 0 {
		c.Threads = 1
	}
	if c.Workers > MaxThreads || c.Threads > MaxThreads || c.Workers*c.Threads > MaxThreads {
		// Each factor first: their product can overflow to a small number.
		errs = append(errs, fmt.Errorf("Workers*Threads (%d*%d) is more than MaxThreads (%d)", c.Workers, c.Threads, MaxThreads))
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Prefetch == 0 {
		c.Prefetch = DefaultPrefetch
	} else if c.Prefetch < 0 {
		c.Prefetch = 0
	}
	if c.MaxResponseHeadSize == 0 {
		c.MaxResponseHeadSize = DefaultMaxResponseHeadSize
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = 1024
	} else if c.MaxQueue < 0 {
		c.MaxQueue = 0
	}
	if c.QueueTimeout < 0 {
		errs = append(errs, fmt.Errorf("QueueTimeout %v is negative", c.QueueTimeout))
	} else if c.QueueTimeout == 0 {
		c.QueueTimeout = 30 * time.Second
	}
	if c.ScriptName != "" && (c.ScriptName[0] != '/' || strings.HasSuffix(c.ScriptName, "/")) {
		errs = append(errs, fmt.Errorf("ScriptName %q must start with / and not end with /", c.ScriptName))
	}
	// Each negative field is named with its value (they used to be
	// reported in two lists of four and five names, whichever was wrong).
	for _, f := range []struct {
		name string
		v    int64
		d    bool // a time.Duration
	}{
		{"BodyBuffer", int64(c.BodyBuffer), false},
		{"ResponseBuffer", int64(c.ResponseBuffer), false},
		{"MaxBodySize", c.MaxBodySize, false},
		{"StartTimeout", int64(c.StartTimeout), true},
		{"MaxRequests", int64(c.MaxRequests), false},
		{"MaxRequestsJitter", int64(c.MaxRequestsJitter), false},
		{"MaxRSS", c.MaxRSS, false},
		{"MaxLifetime", int64(c.MaxLifetime), true},
		{"SlowRequest", int64(c.SlowRequest), true},
	} {
		if f.v >= 0 {
			continue
		}
		v := fmt.Sprint(f.v)
		if f.d {
			v = time.Duration(f.v).String()
		}
		errs = append(errs, fmt.Errorf("%s %s is negative", f.name, v))
	}
	if c.MaxRSS > 0 && !rssSupported {
		errs = append(errs, errors.New("MaxRSS needs Linux (/proc), where resident memory is read"))
	}
	if c.ChildSubreaper && !subreaperSupported {
		errs = append(errs, errors.New("ChildSubreaper needs Linux (prctl PR_SET_CHILD_SUBREAPER)"))
	}
	if c.BodyBuffer == 0 {
		c.BodyBuffer = 64 << 10
	}
	if c.ResponseBuffer == 0 {
		c.ResponseBuffer = 1 << 20
	}
	if c.ResponseSpill == 0 {
		c.ResponseSpill = DefaultResponseSpill
	} else if c.ResponseSpill < 0 {
		c.ResponseSpill = 0
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = DefaultSendTimeout
	} else if c.SendTimeout < 0 {
		c.SendTimeout = 0
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 60 * time.Second
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("Env entry %q is not KEY=VALUE", kv))
		}
	}
	errs = append(errs, c.identityDefaults()...)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ErrorHandler == nil {
		c.ErrorHandler = DefaultErrorHandler
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("wsgi: invalid config: %w", errors.Join(errs...))
	}
	return c, nil
}

// checkProcess checks what New needs before it starts Python: a working
// directory that exists and an interpreter that does, so that neither is
// reported as the other (exec's "no such file or directory" for a missing
// directory names the interpreter).
func (c Config) checkProcess() error {
	if c.Dir != "" && c.AppFS == nil {
		if err := CheckDir(c.Dir); err != nil {
			return err
		}
	}
	if err := checkTempDir(c.TempDir, c.AppFS != nil); err != nil {
		return err
	}
	if _, err := exec.LookPath(c.Python); err != nil {
		what := "not found"
		if !errors.Is(err, exec.ErrNotFound) && !errors.Is(err, fs.ErrNotExist) {
			what = "is not an executable file" // a directory, a file without x permission
		}
		return fmt.Errorf("wsgi: python interpreter %s %s (Config.Python, the examples' -python; a virtualenv's bin/python works): %w", c.Python, what, err)
	}
	return nil
}

// checkTempDir reports why no file can be created in dir (Config.TempDir,
// os.TempDir() when empty), or nil: found by New, rather than by the first
// body over BodyBuffer, each of which would be refused with a 503 while
// smaller requests are served. It creates a file and removes it. appFS:
// the app's copy is made there too (Config.AppFS), which the error says.
func checkTempDir(dir string, appFS bool) error {
	f, err := tempFile(dir, "graft-check-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if dir == "" {
			dir = os.TempDir()
		}
		what := ""
		if appFS {
			what = "the copy of Config.AppFS is made and "
		}
		return fmt.Errorf("wsgi: cannot create files in the temporary directory %s (Config.TempDir, else $TMPDIR), where %srequest bodies and responses for slow clients are spooled: %w", dir, what, err)
	}
	return f.Close()
}

// CheckDir reports why the workers cannot run in dir (Config.Dir), or nil
// ("" is the current directory): "wsgi: cannot chdir to DIR: CAUSE". New
// checks it first, a start that fails later (a reload, a replacement)
// checks it again, dir having gone meanwhile, and a command can check it
// before it starts anything.
func CheckDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("wsgi: cannot chdir to %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("wsgi: cannot chdir to %s: %w", dir, syscall.ENOTDIR)
	}
	return nil
}
