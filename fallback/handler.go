package fallback

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

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

	// StripPrefix is for apps that are not the WSGI container, such as a
	// reverse proxy to gunicorn: the prefix is removed from r.URL.Path and
	// r.URL.RawPath (at a segment boundary, on the escaped path, so that
	// "%2F" stays encoded), and X-Forwarded-Prefix is set to it. If false
	// (the default) r.URL is left alone and the prefix goes to the
	// container through the request context.
	StripPrefix bool

	// ScriptNameHeader, with StripPrefix, also sets a SCRIPT_NAME request
	// header, which gunicorn turns into SCRIPT_NAME when the request
	// comes from one of its forwarded_allow_ips. Default false.
	ScriptNameHeader bool

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
	if h.StripPrefix {
		h.App.ServeHTTP(w, h.strip(r, prefix))
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

// strip returns a copy of r with prefix removed from its URL and the
// forwarding headers set, or unchanged but for the client's own copies of
// these headers when r is not under prefix.
func (h *Handler) strip(r *http.Request, prefix string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Header.Del("X-Forwarded-Prefix")
	r2.Header.Del("Script_name")
	delete(r2.Header, "SCRIPT_NAME")
	if prefix == "" {
		return r2
	}
	escaped := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(escaped, prefix)
	if !ok || rest != "" && rest[0] != '/' {
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
	r2.Header.Set("X-Forwarded-Prefix", wsgi.MountPrefix(r.Context())+prefix)
	if h.ScriptNameHeader {
		r2.Header["SCRIPT_NAME"] = []string{wsgi.MountPrefix(r.Context()) + prefix}
	}
	return r2
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if h.ErrorHandler != nil {
		h.ErrorHandler(w, r, err)
		return
	}
	logger := h.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(r.Context(), slog.LevelError, "fallback: misconfigured handler",
		slog.String("error", err.Error()), slog.String("url.path", r.URL.Path))
	w.WriteHeader(http.StatusBadGateway)
}
