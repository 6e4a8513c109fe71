package cli

import (
	"flag"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/files"
	"github.com/graft-dev/graft/internal/netlist"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/wsgi"
)

// Defaults are what differs between the examples' flags.
type Defaults struct {
	// Workers is the -workers default; 0 means one per CPU.
	Workers int
	// ChdirUsage is the help text of -chdir, with `DIR` in backquotes.
	ChdirUsage string
}

// Flags are the server flags of every example, named like gunicorn's.
type Flags struct {
	Binds []string
	// bindFlag is -bind's value, which knows whether it was given.
	bindFlag         *listValue
	Python           string
	Chdir            string
	Workers, Threads int
	Timeout          time.Duration
	StartTimeout     time.Duration
	GracefulTimeout  time.Duration
	// KeepAliveDrain is -keep-alive-drain (wsgi.ServeConfig.KeepAliveDrain;
	// 0: none).
	KeepAliveDrain    time.Duration
	KeepAlive         time.Duration
	H2C               bool
	CertFile, KeyFile string
	MetricsBind       string
	// SocketMode is -socket-mode: the permission bits of every Unix
	// socket of -bind and -metrics-bind (wsgi.ListenConfig.SocketMode).
	SocketMode        fs.FileMode
	Preload           bool
	Prefetch          int
	SchedBatch        bool
	ChildSubreaper    bool
	MinHeapMiB        int64
	MaxRequests       int
	MaxRequestsJitter int
	MaxRSSMiB         int64
	ResponseSpillMiB  int64
	MaxBodySizeMiB    int64
	MaxResponseHead   int
	SendTimeout       time.Duration
	BodyTimeout       time.Duration
	MaxLifetime       time.Duration
	SlowRequest       time.Duration
	Reload            bool
	Limits            wsgi.RequestLimits
	AccessLog         bool
	AccessLogVerbose  bool
	// ForwardedAllowIPs are the proxies in front (-forwarded-allow-ips,
	// gunicorn's name), whose forwarding headers are believed;
	// ForwardedHeader is what they write ("x-forwarded" or "forwarded");
	// ForwardedHost takes the host from them too. Check parses them into
	// the Proxies that NewRouter installs.
	ForwardedAllowIPs []string
	ForwardedHeader   string
	ForwardedHost     bool
	proxies           *middleware.Proxies
	// ProxyProtocol are the load balancers that send the PROXY protocol
	// (-proxy-protocol), for wsgi.ListenConfig.ProxyProtocol.
	ProxyProtocol []string
	// LogLevel and LogFormat are -log-level and -log-format; Check
	// parses the level for Logger.
	LogLevel, LogFormat string
	logLevel            slog.Level
	// Files are -static and -sendfile-root; Check sets
	// Files.StaticMaxAge from StaticMaxAge.
	Files files.Flags
	// StaticMaxAge is -static-max-age: the max-age of -static files whose
	// names carry no hash; 0 is no-cache.
	StaticMaxAge time.Duration
}

// Register defines the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet, d Defaults) {
	f.Binds = []string{wsgi.DefaultBind}
	f.bindFlag = &listValue{p: &f.Binds, check: wsgi.CheckBind}
	fs.Var(f.bindFlag, "bind", "`ADDR` to serve on: HOST:PORT or unix:/path/to.sock; repeat for several (ignored under systemd socket activation)")
	fs.StringVar(&f.Python, "python", DefaultPython(), "`PATH` of the Python interpreter that runs the workers, such as a virtualenv's bin/python; the default is $GRAFT_PYTHON, else /usr/bin/python3 when it exists, else python3")
	chdir := d.ChdirUsage
	if chdir == "" {
		chdir = "the workers' working `DIR`, first on sys.path"
	}
	fs.StringVar(&f.Chdir, "chdir", "", chdir)
	fs.IntVar(&f.Workers, "workers", d.Workers, "number of Python worker processes (0: one per CPU)")
	fs.IntVar(&f.Threads, "threads", 1, "threads per worker process")
	DurationVar(fs, &f.Timeout, "timeout", 30*time.Second, "per-request `TIMEOUT`: 504, the Python stacks logged, the worker replaced (0: none)")
	DurationVar(fs, &f.StartTimeout, "start-timeout", 60*time.Second, "how long (`DURATION`) a worker may take to start and import the app")
	DurationVar(fs, &f.GracefulTimeout, "graceful-timeout", 30*time.Second, "on SIGTERM/SIGINT, how long (`DURATION`) in-flight requests may take to finish")
	DurationVar(fs, &f.KeepAliveDrain, "keep-alive-drain", wsgi.DefaultKeepAliveDrain, "on SIGTERM/SIGINT, how long (`DURATION`) idle keep-alive connections stay open first, the requests they send answered with Connection: close, before they are closed; behind a load balancer that keeps idle connections long, up to its idle timeout (AWS ALB: 60s), with -graceful-timeout at least 4 times as long; the default is bounded by a quarter of -graceful-timeout (0: none, idle connections closed at once)")
	DurationVar(fs, &f.KeepAlive, "keep-alive", 2*time.Minute, "close a keep-alive connection idle for this long (`DURATION`); behind a load balancer, more than its idle timeout (AWS ALB: 60s)")
	fs.StringVar(&f.CertFile, "certfile", "", "PEM certificate `FILE` (with its chain): serve HTTPS, with HTTP/2, on every -bind")
	fs.StringVar(&f.KeyFile, "keyfile", "", "PEM private key `FILE` of -certfile")
	fs.BoolVar(&f.H2C, "h2c", false, "also serve HTTP/2 without TLS (prior knowledge), for a front proxy that speaks it (Envoy, Cloud Run's end-to-end HTTP/2, gRPC); not with -certfile, which offers HTTP/2 already")
	AddrVar(fs, &f.MetricsBind, "metrics-bind", "", false, "serve /metrics, /status, /healthz and /readyz on this separate `ADDR` (e.g. 127.0.0.1:9100)")
	ModeVar(fs, &f.SocketMode, "socket-mode", 0o660, "permission bits (octal `MODE`, such as 0666) of the -bind and -metrics-bind Unix sockets: 0660 lets graft's user and group connect; gunicorn's, with its default umask 0, are 0777 (ignored for systemd's sockets)")
	fs.BoolVar(&f.Preload, "preload", true, "import the app once and fork the workers from it (copy-on-write); -preload=false starts each worker fresh")
	fs.IntVar(&f.Prefetch, "prefetch", wsgi.DefaultPrefetch, "most requests that may wait in the socket of a busy worker whose requests are fast (fewer the slower they are: under 10ms in all); 0: none")
	fs.BoolVar(&f.SchedBatch, "sched-batch", true, "Linux: run the server and its workers under SCHED_BATCH, so that Go's wake-ups do not preempt the app mid-request on shared CPUs; -sched-batch=false keeps the default policy")
	fs.BoolVar(&f.ChildSubreaper, "child-subreaper", false, "Linux: make the server a child subreaper, which inherits and reaps the orphans of its descendants (the workers of a preload process that died, an app's daemonised grandchild), for when it is not PID 1 and the PID 1 above it does not reap them (as PID 1 it reaps them anyway)")
	fs.Int64Var(&f.MinHeapMiB, "min-heap", wsgi.DefaultMinHeap>>20, "let the Go heap grow to this many `MiB` before the garbage collector runs, while the live heap is small (GOGC applies above; 0: Go's default, 4 MiB)")
	fs.IntVar(&f.MaxRequests, "max-requests", 0, "recycle a worker after this many requests (0: never)")
	fs.IntVar(&f.MaxRequestsJitter, "max-requests-jitter", 0, "add a random 0..N to -max-requests per worker")
	fs.Int64Var(&f.MaxRSSMiB, "max-rss", 0, "recycle a worker whose resident memory exceeds this many `MiB` after a request (0: never)")
	fs.Int64Var(&f.MaxBodySizeMiB, "max-body-size", 0, "answer 413 to a request for the Python app whose body is over this many `MiB` (uWSGI's limit-post, nginx's client_max_body_size), before the app sees it; native Go routes are not limited (0: no limit)")
	fs.IntVar(&f.MaxResponseHead, "max-response-head-size", wsgi.DefaultMaxResponseHeadSize, "answer 502 to a response of the Python app whose head (status line and headers) is over this many `BYTES`, logged with its size, as nginx's \"upstream sent too big header\" (0: no limit)")
	fs.Int64Var(&f.ResponseSpillMiB, "response-spill", wsgi.DefaultResponseSpill>>20, "keep up to this many `MiB` of a response that a slow client has not taken in a temporary file ($TMPDIR), so that it holds no worker; past it the worker waits for the client (0: never spill)")
	DurationVar(fs, &f.SendTimeout, "send-timeout", 60*time.Second, "give up a client that has taken none of a response for this long (`DURATION`): a write to it with no progress for this long, native or bridged, even if it keeps its connection open: the connection (HTTP/2: the stream) closed, a spill file dropped, the app told to stop (0: never)")
	DurationVar(fs, &f.BodyTimeout, "body-timeout", wsgi.DefaultBodyTimeout, "answer 408 to a client that sends none of its request body for this long (`DURATION`; 0: never)")
	DurationVar(fs, &f.MaxLifetime, "max-lifetime", 0, "recycle workers older than this `DURATION` (0: never)")
	DurationVar(fs, &f.SlowRequest, "slow-request", 0, "log the Python stacks of a request running longer than this `DURATION` (0: never)")
	fs.BoolVar(&f.Reload, "reload", false, "development: reload the workers when a .py file changes")
	fs.IntVar(&f.Limits.Line, "limit-request-line", 0, "largest request line in bytes (0: 4094)")
	fs.IntVar(&f.Limits.Fields, "limit-request-fields", 0, "most header fields in a request (0: 100)")
	fs.IntVar(&f.Limits.FieldSize, "limit-request-field-size", 0, "largest header field in bytes (0: 8190)")
	fs.IntVar(&f.Limits.Head, "limit-request-head", 0, "largest request head in bytes, all lines (0: 65536)")
	fs.BoolVar(&f.AccessLog, "access-log", true, "log one line per request and give each an X-Request-ID (-access-log=false: neither)")
	fs.BoolVar(&f.AccessLogVerbose, "access-log-verbose", false, "log every field of each request (URL, client, headers, bytes, user agent) in the access log")
	fs.StringVar(&f.LogLevel, "log-level", "info", "log records at this `LEVEL` and above: debug, info, warning or error (the app's logging records included)")
	fs.StringVar(&f.LogFormat, "log-format", "text", "`FORMAT` of the log on stderr: text (tracebacks readable below their line) or json (one object per line)")
	ListVar(fs, &f.ForwardedAllowIPs, "forwarded-allow-ips", nil, "comma-separated `ADDRS` (IP addresses and CIDRs; * for every address; unix for the peers of Unix sockets) of the proxies in front, whose forwarding headers give the client's address and scheme (repeatable; none: a client's forwarding headers are removed)")
	fs.StringVar(&f.ForwardedHeader, "forwarded-header", "x-forwarded", "the forwarding headers the -forwarded-allow-ips proxies write: x-forwarded (X-Forwarded-For, and X-Forwarded-Proto, -Ssl or -Protocol) or forwarded (RFC 7239 Forwarded)")
	ListVar(fs, &f.ProxyProtocol, "proxy-protocol", nil, "comma-separated `ADDRS` (IP addresses and CIDRs; * for every address) of the load balancers that pass TCP through with the PROXY protocol (v1 or v2, as AWS's Network Load Balancer): their connections must begin with its header, which gives the client's address (repeatable; none: off)")
	fs.BoolVar(&f.ForwardedHost, "forwarded-host", false, "take the host the client asked for from the -forwarded-allow-ips proxies too (X-Forwarded-Host, or Forwarded's host=)")
	f.Files.Register(fs)
	DurationVar(fs, &f.StaticMaxAge, "static-max-age", 60*time.Second, "Cache-Control max-age (`DURATION`) of static files without a hash in their names, -static ones and the app's own (0: no-cache, revalidate every time, as Flask's own static view answers)")
}

// splitList returns the entries of a repeatable, comma-separated list
// flag, trimmed, without empty ones.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// checkProxies parses the -forwarded-* flags into f.proxies.
func (f *Flags) checkProxies() error {
	cidrs := splitList(f.ForwardedAllowIPs)
	if f.ForwardedHeader != "x-forwarded" && f.ForwardedHeader != "forwarded" {
		return Usagef("-forwarded-header %q: want x-forwarded or forwarded", f.ForwardedHeader)
	}
	if len(cidrs) == 0 {
		if f.ForwardedHost || f.ForwardedHeader != "x-forwarded" {
			return Usagef("-forwarded-header and -forwarded-host need -forwarded-allow-ips")
		}
		f.proxies = nil
		return nil
	}
	p, err := middleware.ParseProxies(cidrs...)
	if err != nil {
		return Usagef("-forwarded-allow-ips: %v", err)
	}
	if f.ForwardedHeader == "forwarded" {
		p = p.UseForwarded()
	}
	if f.ForwardedHost {
		p = p.TrustHost()
	}
	f.proxies = p
	return nil
}

// Check checks the flag values before anything starts: what is wrong
// with the command line itself (a value out of range, flags that go
// together) is a *UsageError naming the flag, as the values that
// their flag refuses when parsed are (an address's form with
// wsgi.CheckBind, a duration); a directory of -chdir, -static or
// -sendfile-root that does not exist is a plain error (see [Main]).
func (f *Flags) Check() error {
	var bad []string
	for _, n := range []struct {
		name string
		v    int64
	}{
		{"-workers", int64(f.Workers)}, {"-prefetch", int64(f.Prefetch)}, {"-max-requests", int64(f.MaxRequests)},
		{"-max-requests-jitter", int64(f.MaxRequestsJitter)}, {"-max-rss", f.MaxRSSMiB}, {"-min-heap", f.MinHeapMiB},
		{"-response-spill", f.ResponseSpillMiB}, {"-max-body-size", f.MaxBodySizeMiB}, {"-max-response-head-size", int64(f.MaxResponseHead)},
		{"-timeout", int64(f.Timeout)}, {"-start-timeout", int64(f.StartTimeout)},
		{"-graceful-timeout", int64(f.GracefulTimeout)}, {"-keep-alive-drain", int64(f.KeepAliveDrain)}, {"-keep-alive", int64(f.KeepAlive)}, {"-max-lifetime", int64(f.MaxLifetime)},
		{"-slow-request", int64(f.SlowRequest)}, {"-send-timeout", int64(f.SendTimeout)}, {"-body-timeout", int64(f.BodyTimeout)}, {"-limit-request-line", int64(f.Limits.Line)},
		{"-limit-request-fields", int64(f.Limits.Fields)}, {"-limit-request-field-size", int64(f.Limits.FieldSize)},
		{"-limit-request-head", int64(f.Limits.Head)}, {"-static-max-age", int64(f.StaticMaxAge)},
	} {
		if n.v < 0 {
			bad = append(bad, n.name)
		}
	}
	if len(bad) > 0 {
		return Usagef("%s must not be negative", strings.Join(bad, ", "))
	}
	const maxMiB = 1<<43 - 1 // MiB to bytes must fit in an int64
	var huge []string
	if f.MaxRSSMiB > maxMiB {
		huge = append(huge, "-max-rss")
	}
	if f.MinHeapMiB > maxMiB {
		huge = append(huge, "-min-heap")
	}
	if f.ResponseSpillMiB > maxMiB {
		huge = append(huge, "-response-spill")
	}
	if f.MaxBodySizeMiB > maxMiB {
		huge = append(huge, "-max-body-size")
	}
	if len(huge) > 0 {
		return Usagef("%s: too many MiB", strings.Join(huge, ", "))
	}
	// wsgi.Config and wsgi.ServeConfig read 0 as their default (60s,
	// 30s, 2m) and have no "never" for these three: refuse it rather than
	// silently wait the default.
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"-start-timeout", f.StartTimeout}, {"-graceful-timeout", f.GracefulTimeout}, {"-keep-alive", f.KeepAlive}} {
		if d.v == 0 {
			return Usagef("%s must be more than 0", d.name)
		}
	}
	// The default drain is bounded by the grace period (wsgi.Serve's
	// default); one asked for is refused past it, as Serve would, but
	// before Python starts.
	if f.KeepAliveDrain != wsgi.DefaultKeepAliveDrain && f.KeepAliveDrain > f.GracefulTimeout/4 {
		return Usagef("-keep-alive-drain %v is more than a quarter of -graceful-timeout (%v): make -graceful-timeout at least %v",
			f.KeepAliveDrain, f.GracefulTimeout, 4*f.KeepAliveDrain)
	}
	if f.Threads < 1 {
		return Usagef("-threads must be at least 1")
	}
	// A relative -python is the one the shell would run here, not one
	// relative to -chdir or to the temporary directory where the Django
	// example runs it (as wsgi.Config.Python is).
	if strings.Contains(f.Python, "/") && !filepath.IsAbs(f.Python) {
		if abs, err := filepath.Abs(f.Python); err == nil {
			f.Python = abs
		}
	}
	workers := f.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	if workers > wsgi.MaxThreads || f.Threads > wsgi.MaxThreads || workers*f.Threads > wsgi.MaxThreads {
		return Usagef("-workers times -threads (%d*%d) is more than %d", workers, f.Threads, wsgi.MaxThreads)
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return Usagef("-certfile and -keyfile go together")
	}
	if f.H2C && f.CertFile != "" {
		return Usagef("-h2c is for plain HTTP: with -certfile, HTTP/2 is offered over TLS already")
	}
	if err := f.checkProxies(); err != nil {
		return err
	}
	if err := f.checkLogging(); err != nil {
		return err
	}
	f.ProxyProtocol = splitList(f.ProxyProtocol)
	if _, err := netlist.Parse(f.ProxyProtocol...); err != nil {
		return Usagef("-proxy-protocol: load balancer %v", err)
	}
	switch f.StaticMaxAge {
	case 60 * time.Second:
		f.Files.StaticMaxAge = 0 // fallback.Static's default
	case 0:
		f.Files.StaticMaxAge = -1 // no-cache
	default:
		f.Files.StaticMaxAge = f.StaticMaxAge
	}
	// A directory the flags name but the machine lacks is not a mistake
	// in the command line: it exits 1, as a busy port does.
	if err := f.Files.Validate(); err != nil {
		return err
	}
	return wsgi.CheckDir(f.Chdir)
}

// CheckApp checks a module:callable argument with wsgi.CheckApp: a
// malformed one is a *UsageError.
func CheckApp(app string) error {
	if err := wsgi.CheckApp(app); err != nil {
		return &UsageError{err}
	}
	return nil
}

// CheckMount checks a -mount flag: empty, or starting but not ending
// with /.
func CheckMount(mount string) error { return CheckPrefix("-mount", mount) }

// CheckPrefix checks the path prefix value of the flag name (with how it
// was given, such as "-script-name (from $SCRIPT_NAME)"): empty, or
// starting but not ending with /, as wsgi.Config.ScriptName wants it.
func CheckPrefix(name, prefix string) error {
	if prefix != "" && (!strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/")) {
		flag, from, _ := strings.Cut(name, " ")
		if from != "" {
			from = " " + from
		}
		return Usagef("%s %q%s must start with / and not end with /", flag, prefix, from)
	}
	return nil
}

// Listen binds every listener of the flags: -bind (or systemd's sockets)
// and -metrics-bind. Call it before starting Python, so that a busy port
// fails at once.
func (f *Flags) Listen() (*wsgi.Listeners, error) {
	return wsgi.Listen(f.listenConfig())
}

// listenConfig is the ListenConfig of the flags. Binds is nil when -bind
// was not given: wsgi.Listen binds wsgi.DefaultBind then, unless systemd
// passed only its ops socket, where it fails saying so rather than serve
// on a loopback port.
func (f *Flags) listenConfig() wsgi.ListenConfig {
	binds := f.Binds
	if f.bindFlag != nil && !f.bindFlag.set {
		binds = nil
	}
	return wsgi.ListenConfig{
		Binds: binds, OpsBind: f.MetricsBind, CertFile: f.CertFile, KeyFile: f.KeyFile,
		ProxyProtocol: f.ProxyProtocol, SocketMode: f.SocketMode,
	}
}

// Config returns the container's configuration for app, with dir as its
// directory (-chdir, or where the example unpacked its app).
func (f *Flags) Config(app, dir string, log *slog.Logger) wsgi.Config {
	timeout := f.Timeout
	if timeout == 0 {
		timeout = -1 // wsgi.Config: negative means no limit
	}
	prefetch := f.Prefetch
	if prefetch == 0 {
		prefetch = -1 // wsgi.Config: negative means none
	}
	spill := f.ResponseSpillMiB << 20
	if spill == 0 {
		spill = -1 // wsgi.Config: negative means never
	}
	head := f.MaxResponseHead
	if head == 0 {
		head = -1 // wsgi.Config: negative means no limit
	}
	send := f.SendTimeout
	if send == 0 {
		send = -1 // wsgi.Config: negative means no limit
	}
	return wsgi.Config{
		App: app, Python: f.Python, Dir: dir, Prefetch: prefetch,
		Workers: f.Workers, Threads: f.Threads, Timeout: timeout, StartTimeout: f.StartTimeout,
		NoPreload: !f.Preload, MaxRequests: f.MaxRequests, MaxRequestsJitter: f.MaxRequestsJitter,
		MaxRSS: f.MaxRSSMiB << 20, MaxBodySize: f.MaxBodySizeMiB << 20, MaxResponseHeadSize: head, MaxLifetime: f.MaxLifetime, SlowRequest: f.SlowRequest,
		AutoReload: f.Reload, BatchScheduling: f.SchedBatch, ChildSubreaper: f.ChildSubreaper, ResponseSpill: spill, SendTimeout: send, Logger: log,
	}
}

// Registry returns a new registry for the metrics of the operations
// listener, or nil when ls has none.
func Registry(ls *wsgi.Listeners) *prometheus.Registry {
	if ls.Ops == nil {
		return nil
	}
	return prometheus.NewRegistry()
}

// ServeConfig returns the serve loop's configuration: reg (from Registry)
// is served on the operations listener.
func (f *Flags) ServeConfig(reg *prometheus.Registry, log *slog.Logger) wsgi.ServeConfig {
	body := f.BodyTimeout
	if body == 0 {
		body = -1 // wsgi.ServeConfig: negative means no limit
	}
	send := f.SendTimeout // the container's too: one value
	if send == 0 {
		send = -1
	}
	drain := f.KeepAliveDrain
	switch drain {
	case wsgi.DefaultKeepAliveDrain:
		drain = 0 // Serve's default: bounded by a quarter of the grace period
	case 0:
		drain = -1 // none
	}
	return wsgi.ServeConfig{GracefulTimeout: f.GracefulTimeout, KeepAliveDrain: drain, IdleTimeout: f.KeepAlive, H2C: f.H2C, Limits: f.Limits, BodyTimeout: body, SendTimeout: send, MinHeap: f.MinHeapMiB << 20, Registry: reg, Logger: log}
}
