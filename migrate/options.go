package migrate

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a [Migrator]. The zero value is usable: no stages
// file, every route in stage go, shadowing with the defaults below.
type Options struct {
	// Logger receives stage changes (INFO), rollbacks and stages-file
	// errors (ERROR); nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the Prometheus metrics (see metrics.go); nil
	// means prometheus.DefaultRegisterer, which wsgi.Serve's /metrics
	// does not serve: pass the registry given as wsgi.ServeConfig.Registry.
	// New fails if they are already registered there.
	Registerer prometheus.Registerer

	// StagesFile is the JSON stages file (see [File]) loaded by New,
	// reloaded when it changes on disk (polled every PollInterval; a
	// Kubernetes ConfigMap's symlink swap counts) and by
	// [Migrator.Reload], and where admin changes are written back
	// (atomically: a temporary file renamed over it). It must exist: New
	// fails when it cannot read it ("{}" is a file that configures no
	// route), and when it is not a regular file (a symlink to one is) or is
	// bigger than 4 MiB. "" means none.
	StagesFile string
	// PollInterval is how often StagesFile is checked; 0 means 2s.
	PollInterval time.Duration
	// Routes configures routes when there is no StagesFile (ignored when
	// there is one).
	Routes []RouteConfig
	// ForcePython sets the global kill switch at start when there is no
	// StagesFile.
	ForcePython bool

	// MaxBodyBytes caps the request body buffered for a shadow run;
	// requests with bigger bodies are not shadowed. 0 means 1 MiB.
	MaxBodyBytes int64
	// MaxResponseBytes caps each response body kept for comparison;
	// bigger bodies are compared by length and hash. 0 means 1 MiB.
	MaxResponseBytes int64
	// Timeout bounds a shadow run (the candidate, and Python's second
	// call); 0 means 5s. The client never waits for it. At the timeout the
	// handler's context is canceled and the run counted as a timeout, but
	// Go cannot stop the handler: the run keeps its slot (MaxConcurrent)
	// until the handler returns (see [RouteStatus].OverdueRuns).
	Timeout time.Duration
	// MaxConcurrent caps the shadow runs in flight, those past their
	// timeout included; requests beyond it are not shadowed and are
	// counted as dropped. 0 means 32.
	MaxConcurrent int
	// NoiseSample is the share (0 to 1) of comparisons with differences
	// not yet explained for which Python is called a second time, to learn
	// which of them are noise, unless a route sets its own; 0 means 0.1, a
	// negative value turns learning off. The first 20 comparisons of each
	// route always learn; comparisons that match never do, and neither do
	// requests with a method other than GET, HEAD and OPTIONS (shadowed
	// with ShadowUnsafe), which Python must not run twice.
	NoiseSample float64
	// CompareHeaders are the response headers compared unless a route
	// names its own; nil means [DefaultCompareHeaders]().
	CompareHeaders []string
	// Normalize, if not nil, is called on each side's response before
	// comparison (both Python runs included), to rewrite what is known to
	// differ (a host name, a date format). It sees bodies decoded (a
	// gzip or deflate Content-Encoding undone). It runs on a background
	// goroutine and may modify resp. If it panics, the comparison is
	// skipped (counted in Counts.Skipped) and logged at ERROR.
	Normalize func(route string, side Side, resp *Response)
	// RecentMismatches is how many mismatches each route keeps; 0 means 20.
	RecentMismatches int
	// Redact adds words to [DefaultRedact]: in the mismatches recorded
	// (and so in GET /routes and the console), the value of a header, a
	// query parameter (of the request line and of Location,
	// Content-Location and Referer), a JSON object key, a form field or
	// an HTML <input> or <meta> (its value or content) is
	// replaced by "[redacted]" when its name contains one of the words,
	// ignoring case, "-", "_" and "." ("apikey" covers X-Api-Key and
	// api_key). A JSON object key's value includes the keys below it:
	// JSON pointers through it are shown cut after it ("/tokens/[redacted]"),
	// so that a map keyed by secrets (tokens, session ids) named by a word
	// does not show them; list the name of such a map here when it has
	// none. The override header (OverrideHeader) is always redacted.
	// Redaction happens when a mismatch is recorded, before comparison
	// results are kept; it does not change what is compared. nil adds
	// nothing.
	Redact []string

	// OverrideSecret is the HMAC key of tester overrides (see
	// [SignOverride]); empty means overrides are ignored (and counted).
	OverrideSecret []byte
	// OverrideCookie and OverrideHeader carry tester overrides; "" means
	// [DefaultOverrideCookie] and [DefaultOverrideHeader].
	OverrideCookie string
	OverrideHeader string
	// Identity returns the user a request is bucketed by for the sticky
	// key "identity"; nil means REMOTE_USER as set by Go middleware
	// (middleware.WithRemoteUser).
	Identity func(*http.Request) string

	// Rollback is the automatic rollback policy of the canary and go
	// stages.
	Rollback RollbackPolicy
}

// RollbackPolicy says when a route in the canary or go stage drops to
// python by itself: when, over Window, Go's 5xx rate (or, with reverse
// shadow, its mismatch rate) exceeds Threshold over at least MinRequests
// requests while Python's does not.
type RollbackPolicy struct {
	// Disabled turns automatic rollback off.
	Disabled bool
	// Threshold is the rate above which Go is rolled back; 0 means 0.05.
	Threshold float64
	// MinRequests is the fewest Go requests (or comparisons) in the window
	// for a decision; 0 means 50.
	MinRequests int
	// Window is the period the rates are measured over; 0 means 1 minute.
	// A positive Window shorter than a second is an error (New).
	Window time.Duration
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.DefaultRegisterer
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 1 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 32
	}
	if o.NoiseSample == 0 {
		o.NoiseSample = 0.1
	}
	if o.CompareHeaders == nil {
		o.CompareHeaders = DefaultCompareHeaders()
	} else {
		o.CompareHeaders = canonicalHeaders(o.CompareHeaders)
	}
	if o.RecentMismatches <= 0 {
		o.RecentMismatches = 20
	}
	if o.OverrideCookie == "" {
		o.OverrideCookie = DefaultOverrideCookie
	}
	if o.OverrideHeader == "" {
		o.OverrideHeader = DefaultOverrideHeader
	}
	if o.Rollback.Threshold <= 0 {
		o.Rollback.Threshold = 0.05
	}
	if o.Rollback.MinRequests <= 0 {
		o.Rollback.MinRequests = 50
	}
	if o.Rollback.Window <= 0 {
		o.Rollback.Window = time.Minute
	}
}
