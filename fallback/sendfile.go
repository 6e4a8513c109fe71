package fallback

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Sendfile lets the app behind a [Handler] hand a file download to Go, as
// nginx, Apache's mod_xsendfile and FrankenPHP let PHP and Python apps do:
// the app checks permissions and answers with an empty body and the header
//
//	X-Sendfile: /srv/protected/report.pdf
//
// (Flask's send_file with app.use_x_sendfile = True; django-sendfile2's
// "xsendfile" backend), or with
//
//	X-Accel-Redirect: /protected/report.pdf
//
// (nginx's internal location, mapped to a directory by Locations). Go then
// sends the file itself, with sendfile(2), byte ranges and conditional
// requests ([http.ServeContent]), keeping the app's other headers
// (Content-Type, Content-Disposition, Cache-Control, Set-Cookie, ETag,
// ...). The header is stripped and any body the app sends is discarded:
// the first write of it fails, so the worker is told to stop and is freed
// at once, however large the file and slow the client. An app that then
// aborts (panics with http.ErrAbortHandler), as httputil.ReverseProxy does
// when that write fails or when the backend sends less than its
// Content-Length (Werkzeug's send_file declares the file's and sends
// nothing), still gets the file sent: the client has seen nothing of its
// response.
//
// The Content-Type is the app's, else that of the file's extension, else
// sniffed from the file (a WSGI app that gave none included).
//
// Only regular files under Roots (X-Sendfile) or in a directory of
// Locations (X-Accel-Redirect) are sent: symbolic links are resolved and
// may not leave them ([os.Root]); directories, FIFOs and devices are
// refused before they are opened. Any other path gets a 500 and an error log line naming it; a missing
// file under a root gets a 404 and a warning. These errors, and the 412
// and 416 of a sent file, carry none of the app's length, encoding,
// Content-Disposition, validators or caching headers (Cache-Control,
// Expires), so that a cache does not keep an error as the file. The
// file is sent when the app's status is 2xx, or 304, 412 or 416 (those of
// an app that evaluated the conditional or Range headers itself, as
// Werkzeug does): the status is then recomputed by Go for the client's
// request. With another status (403, say) the header is stripped and the
// app's response passes.
//
// With no Roots, an X-Sendfile header passes to the client untouched; with
// no Locations, so does X-Accel-Redirect. A nil *Sendfile does nothing.
type Sendfile struct {
	// Roots are the directories (absolute, or relative to the working
	// directory) whose files X-Sendfile may name, by absolute path.
	Roots []string

	// Locations maps X-Accel-Redirect URI prefixes to directories:
	// {"/protected/": "/srv/protected"} sends /srv/protected/a/b.pdf for
	// "X-Accel-Redirect: /protected/a/b.pdf". The value is a URI path:
	// percent-escapes are decoded and a query string is ignored.
	Locations map[string]string

	// Logger receives the refusals. slog.Default() when nil.
	Logger *slog.Logger
}

// errDiscard is returned to the app's body writes once Go sends a file
// instead: the container stops the app's iteration and frees the worker.
var errDiscard = errors.New("fallback: response body discarded: Go sends the X-Sendfile file instead")

// errOutside marks a path the Sendfile may not send.
var errOutside = errors.New("outside the configured roots")

// writer returns a ResponseWriter that watches for the headers, or nil if
// s handles neither.
func (s *Sendfile) writer(w http.ResponseWriter, r *http.Request) *sendfileWriter {
	if s == nil || len(s.Roots) == 0 && len(s.Locations) == 0 {
		return nil
	}
	return &sendfileWriter{ResponseWriter: w, s: s, r: r}
}

// sendfileWriter passes the app's response through unless it carries a
// header to act on; then it holds the header back, discards the body, and
// finish sends the file.
type sendfileWriter struct {
	http.ResponseWriter
	s           *Sendfile
	r           *http.Request
	wroteHeader bool
	header      string // "X-Sendfile" or "X-Accel-Redirect" when intercepting
	value       string
}

func (w *sendfileWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: the final response follows
		return
	}
	w.wroteHeader = true
	h := w.Header()
	defer func() {
		if w.header != "" {
			// The app's length is not the file's; dropping it also tells
			// the container that the short body is deliberate.
			delete(h, "Content-Length")
		}
	}()
	for _, name := range sendfileHeaders {
		v, ok := h[name]
		if !ok || !w.s.handles(name) {
			continue
		}
		delete(h, name)
		if w.header != "" || !fileStatus(code) {
			continue // stripped; the first one acted on wins
		}
		w.header, w.value = name, strings.Join(v, ",")
	}
	if w.header != "" {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// sendfileHeaders are the response headers that name a file, in the order
// they are acted on.
var sendfileHeaders = [...]string{"X-Sendfile", "X-Accel-Redirect"}

// handles reports whether s acts on the response header name (one of
// sendfileHeaders): X-Sendfile with Roots, X-Accel-Redirect with
// Locations.
func (s *Sendfile) handles(name string) bool {
	if name == "X-Sendfile" {
		return len(s.Roots) > 0
	}
	return len(s.Locations) > 0
}

// ModifyResponse is for the ModifyResponse field of an
// httputil.ReverseProxy that is the App of a [Handler] with this Sendfile:
// when the backend's response names a file s will send, its body is closed
// unread (the connection to the backend is not reused) and replaced by an
// empty one. Without it the proxy reads the body it is about to discard,
// and Werkzeug's send_file, which declares the file's Content-Length and
// sends nothing, leaves it waiting for the backend to close the
// connection: at once under gunicorn's sync worker, after the keep-alive
// timeout under its gthread worker (2 seconds by default). A nil *Sendfile
// changes nothing. It never returns an error.
func (s *Sendfile) ModifyResponse(res *http.Response) error {
	if s == nil || !fileStatus(res.StatusCode) || res.Body == nil || res.Body == http.NoBody {
		return nil
	}
	for _, name := range sendfileHeaders {
		if _, ok := res.Header[name]; ok && s.handles(name) {
			res.Body.Close()
			res.Body = http.NoBody
			return nil
		}
	}
	return nil
}

// fileStatus reports whether an app's status lets Go send the file: 2xx,
// and the answers of an app that handled the conditional or range request
// itself (Werkzeug's make_conditional does): 304, 412 and 416.
func fileStatus(code int) bool {
	switch code {
	case http.StatusNotModified, http.StatusPreconditionFailed, http.StatusRequestedRangeNotSatisfiable:
		return true
	}
	return code/100 == 2
}

func (w *sendfileWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.header != "" {
		return 0, errDiscard
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps sendfile(2) for wsgi.file_wrapper responses that pass.
func (w *sendfileWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.header != "" {
		return 0, errDiscard
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

type writerOnly struct{ io.Writer }

// Flush sends the app's headers, unless they name a file: a flush is the
// end of the headers, as the first write is.
func (w *sendfileWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush with the error of the underlying writer's flush,
// which http.ResponseController.Flush asks for before it unwraps (with
// Flush alone, the app's side got nil from a flush that failed).
func (w *sendfileWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.header == "" {
		return http.NewResponseController(w.ResponseWriter).Flush()
	}
	return nil
}

// Unwrap is for http.ResponseController.
func (w *sendfileWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish, deferred, sends the file the app named, if it named one. An app
// that set the header and returned without writing anything counts.
//
// An abort (a panic with http.ErrAbortHandler) after the headers named a
// file still sends it: nothing of the app's response has reached the
// client, and its body is not wanted. httputil.ReverseProxy aborts so
// when a write of the body fails, as the first discarded write does, and
// when the backend's body is shorter than its Content-Length, as that of
// Werkzeug's send_file (which declares the file's length and sends
// nothing) always is. Any other panic is the app's and is passed on.
func (w *sendfileWriter) finish() {
	if p := recover(); p != nil && (p != http.ErrAbortHandler || w.header == "") {
		panic(p)
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.header == "" {
		return
	}
	s, r, rw := w.s, w.r, w.ResponseWriter
	var (
		f   *os.File
		err error
	)
	if w.header == "X-Sendfile" {
		f, err = s.openSendfile(w.value)
	} else {
		f, err = s.openAccel(w.value)
	}
	if err == nil {
		defer f.Close()
	}
	var info os.FileInfo
	if err == nil {
		info, err = f.Stat()
		if err == nil && !info.Mode().IsRegular() {
			err = fmt.Errorf("%w: not a regular file", errOutside)
		}
	}
	if err != nil {
		s.refuse(rw, r, w.header, w.value, err)
		return
	}
	h := rw.Header()
	for _, k := range [...]string{"Content-Length", "Content-Range", "Transfer-Encoding", "Accept-Ranges"} {
		delete(h, k)
	}
	if h.Get("Etag") == "" {
		h.Set("Etag", `"`+strconv.FormatInt(info.ModTime().UnixNano(), 36)+"-"+strconv.FormatInt(info.Size(), 36)+`"`)
	}
	if _, ok := h["Last-Modified"]; ok {
		delete(h, "Last-Modified") // ServeContent sets the file's
	}
	if v, ok := h["Content-Type"]; ok && len(v) == 0 {
		// The container's mark for "the app gave no Content-Type" (so
		// that net/http does not sniff its body): the file's is wanted.
		delete(h, "Content-Type")
	}
	// ServeContent takes Content-Type from the header when the app set
	// one, else from the file's extension, else sniffs the content.
	http.ServeContent(&contentWriter{ResponseWriter: rw, size: info.Size()}, satisfiableRange(r, info.Size()), info.Name(), info.ModTime(), f)
}

// refuse answers a header that cannot be honoured.
func (s *Sendfile) refuse(w http.ResponseWriter, r *http.Request, header, value string, err error) {
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	h := w.Header()
	delete(h, "Content-Range")
	for _, k := range fileErrorHeaders {
		delete(h, k)
	}
	if errors.Is(err, fs.ErrNotExist) {
		logger.LogAttrs(r.Context(), slog.LevelWarn, "fallback: "+header+" names a missing file",
			slog.String("graft.file", value), slog.String("error", err.Error()), slog.String("url.path", r.URL.Path))
		http.Error(w, http.StatusText(http.StatusNotFound), http.StatusNotFound)
		return
	}
	logger.LogAttrs(r.Context(), slog.LevelError, "fallback: refusing "+header+": not a file under the configured roots",
		slog.String("graft.file", value), slog.String("error", err.Error()), slog.String("url.path", r.URL.Path))
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// openSendfile opens the absolute path p if it is under one of the roots.
// The lexical match picks the root; os.Root then opens the file without
// letting a symbolic link (in the path or in the file) leave that root.
// Paths reaching a root through a symbolic link (a root of /srv/files
// when the app says /var/www/files/x and /var/www is a link to /srv) match
// once resolved.
func (s *Sendfile) openSendfile(p string) (*os.File, error) {
	if p == "" || !filepath.IsAbs(p) || strings.ContainsRune(p, 0) {
		return nil, fmt.Errorf("%w: not an absolute path", errOutside)
	}
	p = filepath.Clean(p)
	candidates := []string{p}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil && dir != filepath.Dir(p) {
		candidates = append(candidates, filepath.Join(dir, filepath.Base(p)))
	}
	for _, root := range s.Roots {
		abs, err := filepath.Abs(root)
		if err != nil {
			continue
		}
		roots := []string{abs}
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
			roots = append(roots, real)
		}
		for _, rt := range roots {
			for _, c := range candidates {
				rel, err := filepath.Rel(rt, c)
				if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					continue
				}
				return openIn(rt, rel)
			}
		}
	}
	return nil, errOutside
}

// openAccel opens the file an X-Accel-Redirect URI names.
func (s *Sendfile) openAccel(uri string) (*os.File, error) {
	uri, _, _ = strings.Cut(uri, "?")
	p, err := url.PathUnescape(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errOutside, err)
	}
	// Longest prefix first.
	prefixes := make([]string, 0, len(s.Locations))
	for k := range s.Locations {
		prefixes = append(prefixes, k)
	}
	sort.Slice(prefixes, func(i, j int) bool { return len(prefixes[i]) > len(prefixes[j]) })
	for _, prefix := range prefixes {
		pre := prefix
		if !strings.HasSuffix(pre, "/") {
			pre += "/"
		}
		rest, ok := strings.CutPrefix(p, pre)
		if !ok {
			continue
		}
		if rest == "" || strings.ContainsAny(rest, "\\\x00") || !fs.ValidPath(rest) || path.Clean(rest) != rest {
			return nil, fmt.Errorf("%w: bad path %q", errOutside, rest)
		}
		return openIn(s.Locations[prefix], filepath.FromSlash(rest))
	}
	return nil, fmt.Errorf("%w: no location for %q", errOutside, p)
}

// openIn opens rel inside dir, never outside it, if it is a regular file.
// It checks before opening: opening a FIFO blocks until a writer comes,
// for ever if none does. finish checks the open file again.
func openIn(dir, rel string) (*os.File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	info, err := root.Stat(rel)
	if err == nil && !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", errOutside)
	}
	var f *os.File
	if err == nil {
		f, err = root.Open(rel)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errOutside, err)
	}
	return f, nil
}
