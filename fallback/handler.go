package fallback

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/graft-dev/graft/internal/errhead"
	"github.com/graft-dev/graft/internal/hdrname"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// Errors passed to [Handler.ErrorHandler] for a misconfigured Handler.
var (
	// ErrNoApp means Handler.App is nil.
	ErrNoApp = errors.New("fallback: Handler.App is nil")
	// ErrBadPrefix means Handler.Prefix does not begin with "/".
	ErrBadPrefix = errors.New("fallback: Handler.Prefix must begin with '/'")
)

// Handler passes requests to App, the old app, telling it where it is
// mounted. The zero value is not usable: App must be set. A Handler must
// not be modified once it serves requests.
type Handler struct {
	// App receives the requests: the WSGI container, an
	// httputil.ReverseProxy, or any http.Handler. Required.
	App http.Handler

	// Prefix is the path App is mounted at, without a trailing slash
	// ("/legacy"), relative to any enclosing wsgi mount. Requests under
	// it reach the app with SCRIPT_NAME=Prefix and the rest of the path
	// in PATH_INFO; other requests keep SCRIPT_NAME "". "" or "/"
	// means the root.
	Prefix string

	// StripPrefix is for apps that are not the WSGI container and read the
	// mount prefix from X-Forwarded-Prefix, such as a reverse proxy to a
	// WSGI server whose app is wrapped in werkzeug's
	// ProxyFix(x_prefix=1): the prefix is removed from r.URL.Path and
	// r.URL.RawPath (at a segment boundary, on the escaped path, so that
	// "%2F" stays encoded; the mount root becomes "/") and
	// X-Forwarded-Prefix is set to it. If false (the default) r.URL is
	// left alone and the prefix goes to the container through the request
	// context.
	StripPrefix bool

	// ScriptNameHeader is for a reverse proxy to gunicorn, which takes
	// SCRIPT_NAME from a SCRIPT_NAME request header and then cuts it off
	// the front of the request path itself. The path is therefore sent
	// whole, as the client sent it, with a SCRIPT_NAME header naming the
	// prefix, and no X-Forwarded-Prefix: the app sees SCRIPT_NAME=Prefix,
	// PATH_INFO the rest (decoded once), RAW_URI the client's URI, and
	// url_for builds URLs under the prefix without ProxyFix. It implies
	// StripPrefix's proxy mode (the prefix is not passed through the
	// context), and replaces its path rewrite. gunicorn 22 and later
	// honour the header only from forwarded_allow_ips (127.0.0.1 by
	// default). Default false.
	ScriptNameHeader bool

	// Sendfile, if not nil, sends the files the app names in X-Sendfile or
	// X-Accel-Redirect response headers from Go (see [Sendfile]).
	Sendfile *Sendfile

	// ErrorHandler replies when the Handler is misconfigured (see
	// [ErrNoApp], [ErrBadPrefix]). If nil, the error is logged to Logger
	// and the reply is 502 Bad Gateway.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives the errors of the default ErrorHandler. If nil,
	// slog.Default() is used.
	Logger *slog.Logger
}

var (
	_ http.Handler    = (*Handler)(nil)
	_ router.Targeter = (*Handler)(nil)
)

// RouteTarget reports [router.TargetFallback], so that the route inventory
// lists a mounted Handler as the fallback.
func (h *Handler) RouteTarget() router.Target { return router.TargetFallback }

// ServeHTTP passes the request to App.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	router.MarkFallback(r.Context())
	prefix, err := h.prefix()
	if err == nil && h.App == nil {
		err = ErrNoApp
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if sw := h.Sendfile.writer(w, r); sw != nil {
		defer sw.finish()
		w = sw
	}
	if h.StripPrefix || h.ScriptNameHeader {
		h.App.ServeHTTP(w, h.forward(r, prefix))
		return
	}
	if prefix != "" {
		r = r.WithContext(wsgi.WithMount(r.Context(), prefix))
	}
	h.App.ServeHTTP(w, r)
}

func (h *Handler) prefix() (string, error) {
	if h.Prefix != "" && h.Prefix[0] != '/' {
		return "", ErrBadPrefix
	}
	return strings.TrimRight(h.Prefix, "/"), nil
}

// forward returns a copy of r for a proxy: the client's own copies of the
// headers that choose the prefix removed, and, when r is under prefix (and
// any enclosing wsgi mount), the prefix passed on as [Handler.StripPrefix]
// or [Handler.ScriptNameHeader] say.
func (h *Handler) forward(r *http.Request, prefix string) *http.Request {
	r2 := r.Clone(r.Context())
	dropPrefixHeaders(r2.Header)
	if prefix == "" {
		return r2
	}
	full := wsgi.MountPrefix(r.Context()) + prefix
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), full)
	if !ok || rest != "" && rest[0] != '/' {
		return r2
	}
	if h.ScriptNameHeader {
		// gunicorn splits SCRIPT_NAME off the path it receives: the
		// path must still start with it.
		r2.Header["SCRIPT_NAME"] = []string{full}
		return r2
	}
	if rest == "" {
		rest = "/"
	}
	path, err := url.PathUnescape(rest)
	if err != nil {
		path = rest
	}
	r2.URL.Path, r2.URL.RawPath = path, rest
	r2.Header.Set("X-Forwarded-Prefix", full)
	return r2
}

// prefixHeaders are the request headers with which a client could choose
// the prefix or the path the app sees: X-Forwarded-Prefix (ProxyFix), and
// SCRIPT_NAME and PATH_INFO (gunicorn reads both from headers).
var prefixHeaders = [...]string{"X-Forwarded-Prefix", "SCRIPT_NAME", "PATH_INFO"}

// dropPrefixHeaders removes prefixHeaders in every spelling a WSGI server
// reads as them, as [hdrname.Is] decides: any letter case, and '_' for '-'
// (gunicorn 20 passes X_Forwarded_Prefix as HTTP_X_FORWARDED_PREFIX,
// after the Handler's own X-Forwarded-Prefix, and ProxyFix takes the last
// value).
func dropPrefixHeaders(hdr http.Header) {
	for k := range hdr {
		for _, n := range prefixHeaders {
			if hdrname.Is(k, n) {
				delete(hdr, k)
				break
			}
		}
	}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if h.ErrorHandler != nil {
		// A HEAD gets GET's header fields: Content-Length: 0 for a page
		// with no body, which net/http sets on GET only.
		errhead.Write(w, r, func(w http.ResponseWriter) { h.ErrorHandler(w, r, err) })
		return
	}
	logger := h.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(r.Context(), slog.LevelError, "fallback: misconfigured handler",
		slog.String("error", err.Error()), slog.String("url.path", r.URL.Path))
	w.Header().Set("Content-Length", "0") // for a HEAD too, as a GET gets it
	w.WriteHeader(http.StatusBadGateway)
}
