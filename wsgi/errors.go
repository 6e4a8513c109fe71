package wsgi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Errors passed to Config.ErrorHandler. Each maps to the status that
// DefaultErrorHandler answers with.
var (
	// ErrAppError: the app raised before sending headers (500).
	ErrAppError = errors.New("wsgi: the application raised an exception")
	// ErrWorkerDied: the worker process died while running the request (502).
	ErrWorkerDied = errors.New("wsgi: the worker died while serving the request")
	// ErrTimeout: the request ran over Config.Timeout (504).
	ErrTimeout = errors.New("wsgi: request timed out")
	// ErrQueueFull: Config.MaxQueue requests were already waiting (503).
	ErrQueueFull = errors.New("wsgi: too many requests waiting for a worker")
	// ErrQueueTimeout: no worker was free within Config.QueueTimeout (503).
	ErrQueueTimeout = errors.New("wsgi: no worker became free in time")
	// ErrClosed: the container is shutting down (503).
	ErrClosed = errors.New("wsgi: container is shut down")
	// ErrBodyTooLarge: the request body is over Config.MaxBodySize (413).
	ErrBodyTooLarge = errors.New("wsgi: request body too large")
	// ErrBadBody: the request body could not be read (400).
	ErrBadBody = errors.New("wsgi: request body could not be read")
	// ErrSpool: the request body could not be spooled to Config.TempDir
	// (the directory gone or unwritable, a full disk, the process out of
	// descriptors): the server's trouble, not the app's (503).
	ErrSpool = errors.New("wsgi: cannot spool the request body")
	// ErrBodyTimeout: the client sent none of the request body for
	// ServeConfig.BodyTimeout (408).
	ErrBodyTimeout = errors.New("wsgi: the client stopped sending the request body")
	// ErrProtocol: a worker sent something graft cannot parse (502).
	ErrProtocol = errors.New("wsgi: protocol error from worker")
	// ErrResponseHeadTooLarge: the app's response head is over
	// Config.MaxResponseHeadSize (502).
	ErrResponseHeadTooLarge = errors.New("wsgi: response head too large")
	// ErrClientStalled: the client took none of a response that waited for
	// it in a spill file for Config.SendTimeout. Its headers are out by
	// then, so the response is aborted (502 otherwise). (A write to the
	// client cut after SendTimeout ends the response the same way.)
	ErrClientStalled = errors.New("wsgi: the client stopped taking the response")
)

// ErrStartTimeout is wrapped by the error of New or Container.Reload (and
// logged for a replacement worker) when the app has not loaded within
// Config.StartTimeout: its import hangs. The Python stack where it hangs
// is logged once, at ERROR, under graft.stack, and the process is killed.
var ErrStartTimeout = errors.New("wsgi: the app did not load within Config.StartTimeout")

// ErrNotStarted is the retry signal of a [Transport]: a PartEnd whose Err
// wraps it says that the app never began the request (its worker died with
// the request still waiting in its socket). The Container then sends the
// request again, up to three times in all, whatever its method; a
// transport must not use it for a request the app may have seen. It wraps
// ErrWorkerDied (502), which is the answer once the attempts are used up.
var ErrNotStarted error = notStarted{}

// notStarted is ErrNotStarted's type: its text says what happened, where
// ErrWorkerDied's and a suffix read "died while serving the request before
// starting the request".
type notStarted struct{}

func (notStarted) Error() string { return "wsgi: the worker died before starting the request" }
func (notStarted) Unwrap() error { return ErrWorkerDied }

// ErrNoReload is returned by Container.Reload when the transport does not
// implement [Reloader].
var ErrNoReload = errors.New("wsgi: this transport cannot reload")

// StatusOf returns the HTTP status for an error from the container: the
// status listed with each Err* value (500 for ErrNoIdentityHook), 502 for
// anything else.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, ErrAppError), errors.Is(err, ErrNoIdentityHook):
		return http.StatusInternalServerError
	case errors.Is(err, ErrTimeout):
		return http.StatusGatewayTimeout
	case Refusal(err):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBodyTimeout):
		return http.StatusRequestTimeout
	case errors.Is(err, ErrBadBody), errors.Is(err, ErrBadTarget), errors.Is(err, ErrBadMethod), errors.Is(err, ErrBadHeader):
		return http.StatusBadRequest
	default:
		return http.StatusBadGateway
	}
}

// Refusal reports whether err is the container's refusal of a request it
// could not take, whose app never ran: ErrClosed, ErrQueueFull,
// ErrQueueTimeout or ErrSpool (the ones StatusOf maps to 503). A request
// refused so has [Trace].Refused set.
func Refusal(err error) bool {
	return errors.Is(err, ErrQueueFull) || errors.Is(err, ErrQueueTimeout) || errors.Is(err, ErrClosed) || errors.Is(err, ErrSpool)
}

// DefaultErrorHandler answers with StatusOf(err) and its status text as a
// plain-text body, adding "Retry-After: 1" to 503s. It never reveals the
// Python traceback to the client; the container logs it. Over HTTP/1.x, a
// 413 or 400 also closes the connection (Connection: close), whose unread
// or broken body would otherwise be read as the next request; over HTTP/2
// only the stream ends: net/http's HTTP/2 server takes Connection: close
// as a GOAWAY for the whole connection, and the client's other requests
// would need a new one.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	code := StatusOf(err)
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if (code == http.StatusRequestEntityTooLarge || code == http.StatusBadRequest) && r.ProtoMajor < 2 {
		w.Header().Set("Connection", "close")
	}
	http.Error(w, http.StatusText(code), code)
}

// LoadError reports an app that could not be imported: an ImportError, a
// missing attribute, a syntax error, an exception raised at import, or a
// process that ended while importing it (os._exit, a signal, a crash in C
// code).
type LoadError struct {
	// App is the configured app spec.
	App string
	// Python is the interpreter that tried to import it (Config.Python).
	Python string
	// Dir is the directory the workers ran in, first on their sys.path:
	// Config.Dir (the private copy of Config.AppFS, with one), or the
	// server's working directory when that is empty.
	Dir string
	// Traceback is the Python traceback; with Exit set, the last lines the
	// process wrote, if any (the container has logged them already).
	Traceback string
	// Exit, for a process that ended before it loaded the app without
	// reporting an exception, says which process and how it ended: "the
	// preload process ended before loading it (exit status 3)". Empty
	// otherwise.
	Exit string

	// noInitPy: the app came from a Config.AppFS with Python files in
	// subdirectories and no __init__.py at all, as //go:embed without
	// "all:" makes one (see appFSLacksInitPy).
	noInitPy bool
}

// Error implements error: the exception line (or Exit) first, then a hint
// when the interpreter lacks a framework or the app's module is not found
// (see Hint), then the traceback (or the process's last output).
func (e *LoadError) Error() string {
	s := e.headline()
	if h := e.Hint(); h != "" {
		s += "\n" + h
	}
	if tb := strings.TrimSpace(e.Traceback); tb != "" {
		s += "\n" + tb
	}
	return s
}

// Hint returns advice for a load error of an app from a Config.AppFS
// that has Python files in subdirectories and no __init__.py anywhere
// (//go:embed without "all:" leaves out every name that begins with _ or
// .), and for one that is most likely the wrong interpreter: a ModuleNotFoundError for a web framework or a library
// every app of its kind has (flask, django, werkzeug, ...). It names the
// interpreter and how to pick another. For a ModuleNotFoundError of the
// app spec's own module (or of a package it is in), most likely a
// directory left out (gunicorn's --chdir), it names Dir and says to set
// Config.Dir; for a spec naming a file ("app.py:app"), it says to name
// the module. "" for other errors.
func (e *LoadError) Hint() string {
	if e.noInitPy {
		return embedAllHint
	}
	if h := e.dirHint(); h != "" {
		return h
	}
	if strings.HasSuffix(e.Exit, "(exit status 0)") && strings.TrimSpace(e.Traceback) == "" {
		// Python runs the worker program it reads and never ends it with
		// status 0 before the app is loaded and without a word: a program
		// that is not Python does (/bin/true; a wrapper script that
		// ignores its arguments).
		return fmt.Sprintf("%s ended with status 0 and no output before graft's worker program ran: "+
			"is it a Python 3 interpreter? Config.Python (the examples' -python flag) names it, "+
			"such as /usr/bin/python3 or a virtualenv's bin/python", e.pythonName())
	}
	m := missingModule.FindStringSubmatch(e.Traceback)
	if m == nil {
		return ""
	}
	top, _, _ := strings.Cut(m[len(m)-1], ".")
	if !frameworkModules[top] {
		return ""
	}
	return fmt.Sprintf("%s cannot import %s: install it for that interpreter, or pick one that has it with "+
		"Config.Python (the examples' -python flag), such as /usr/bin/python3 (Debian's python3-%s) or a virtualenv's bin/python",
		e.pythonName(), top, strings.ReplaceAll(top, "_", "-"))
}

// embedAllHint is the hint for an AppFS without its __init__.py files.
const embedAllHint = "Config.AppFS has Python packages but no __init__.py: a //go:embed pattern leaves out files whose names begin with _ or . " +
	"unless it has the all: prefix (//go:embed all:pyapp), and Python then imports each package as an empty namespace package"

// pythonName names e.Python for a hint: "python3 (/usr/local/bin/python3)"
// says which one a bare name was.
func (e *LoadError) pythonName() string {
	py := e.Python
	if py == "" {
		return "the interpreter"
	}
	if !filepath.IsAbs(py) {
		if path, err := exec.LookPath(py); err == nil && path != py {
			py += " (" + path + ")"
		}
	}
	return py
}

// dirHint is Hint for an app spec whose own module is not found.
func (e *LoadError) dirHint() string {
	ms := missingName.FindAllStringSubmatch(e.Traceback, -1)
	if ms == nil {
		return ""
	}
	missing := ms[len(ms)-1][1]
	module, _, _ := strings.Cut(strings.TrimSpace(e.App), ":")
	if missing != module && !strings.HasPrefix(module, missing+".") {
		return "" // a module the app imports, not the app's own
	}
	if base, ok := strings.CutSuffix(module, ".py"); ok && !strings.Contains(base, ".") {
		spec := base
		if _, callable, ok := strings.Cut(e.App, ":"); ok {
			spec += ":" + callable
		}
		return fmt.Sprintf("%q is a file name: the app spec takes the module, %q", module, spec)
	}
	top, _, dotted := strings.Cut(module, ".")
	holds := "the package " + top + "/"
	if !dotted {
		holds = top + ".py or " + holds
	}
	return fmt.Sprintf("the app's module %q is not in %s (the workers' directory, first on their sys.path: Config.Dir, the examples' -chdir, "+
		"or the copy of Config.AppFS) nor elsewhere on sys.path: set Dir to the directory that holds %s (or put it at the root of AppFS)",
		module, e.Dir, holds)
}

// missingName finds the ModuleNotFoundErrors of a traceback, also those
// that say more after the name ("; 'app' is not a package").
var missingName = regexp.MustCompile(`(?m)^ModuleNotFoundError: No module named '([A-Za-z0-9_.]+)'`)

// missingModule finds the last ModuleNotFoundError of a traceback.
var missingModule = regexp.MustCompile(`(?m)^ModuleNotFoundError: No module named '([A-Za-z0-9_.]+)'\s*$`)

// frameworkModules are the modules whose absence means the interpreter is
// not the app's: web frameworks and what they are made of.
var frameworkModules = map[string]bool{
	"flask": true, "werkzeug": true, "jinja2": true, "markupsafe": true, "itsdangerous": true, "click": true,
	"django": true, "rest_framework": true, "asgiref": true, "sqlparse": true, "whitenoise": true,
	"pyramid": true, "falcon": true, "bottle": true, "webob": true, "sqlalchemy": true, "flask_sqlalchemy": true,
	"flask_login": true, "flask_wtf": true, "wtforms": true, "psycopg2": true, "psycopg": true, "pymysql": true,
	"MySQLdb": true, "celery": true, "redis": true, "requests": true, "gunicorn": true,
}

// headline is the first line of Error: the app and the exception line,
// or how the process ended.
func (e *LoadError) headline() string {
	if e.Exit != "" {
		return fmt.Sprintf("wsgi: app %q failed to load: %s", e.App, e.Exit)
	}
	tb := strings.TrimSpace(e.Traceback)
	last := tb
	if i := strings.LastIndexByte(tb, '\n'); i >= 0 {
		last = tb[i+1:]
	}
	return fmt.Sprintf("wsgi: app %q failed to load: %s", e.App, last)
}

// errorAttrs are the log attributes of err: the error, and for a
// *LoadError its exception line as the error and its Python traceback
// under error.stack_trace (a multi-line value: see NewTextHandler). For a
// process that ended while importing the app, the error says how, and its
// last output is not repeated: its lines are in the log already.
func errorAttrs(err error) []any {
	var le *LoadError
	if errors.As(err, &le) && (le.Traceback != "" || le.Exit != "") {
		msg := le.headline()
		if h := le.Hint(); h != "" {
			msg += "; " + h
		}
		if le.Exit != "" {
			return []any{slog.String(logError, msg)}
		}
		return []any{slog.String(logError, msg), slog.String(logTraceback, strings.TrimRight(le.Traceback, "\n"))}
	}
	return []any{slog.String(logError, err.Error())}
}
