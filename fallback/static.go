package fallback

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/graft-dev/graft/internal/negotiate"
)

// Static serves the static files of a Python app (Django's STATIC_ROOT
// after collectstatic, a Flask static/ folder, or the same files embedded
// in the binary) from Go, WhiteNoise-style, so that the Python workers
// never see these requests. Create it with [NewStatic] or [NewStaticDir];
// a Static must not be modified once it serves requests.
//
// It answers GET and HEAD (405 otherwise) with:
//   - ETag (from size and modification time, or from the content for
//     files without one, such as embed.FS files) and Last-Modified;
//     conditional requests (If-None-Match, If-Modified-Since, If-Match,
//     If-Unmodified-Since, If-Range) and byte ranges, by [http.ServeContent]
//     (except that a suffix range of length 0, "bytes=-0", is 416, and a
//     range of an empty file gets the whole file, where ServeContent sends
//     an invalid Content-Range; and a request for more than 200 ranges
//     gets the whole file, as from Apache);
//   - Cache-Control "public, max-age=31536000, immutable" for names that
//     [Static.Immutable] says carry a content hash, "public, max-age=N"
//     ([Static.MaxAge]) for the others;
//   - the precompressed variant NAME.br or NAME.gz when it exists and the
//     client accepts that encoding (Content-Encoding set, Vary:
//     Accept-Encoding on every response for a name with variants); a
//     request for NAME.br or NAME.gz itself is 404 when NAME is a regular
//     file, as in WhiteNoise (a .gz or .br file with no NAME is served as
//     any other file);
//   - Access-Control-Allow-Origin: * (as WhiteNoise), unless
//     [Static.NoCORS];
//   - the Content-Type of the name's extension ([mime.TypeByExtension]),
//     else sniffed from the content of NAME (never of NAME.br or NAME.gz),
//     the same whichever encoding is sent.
//
// A 304 has the ETag, Cache-Control and Vary of the 200 and no body
// headers; a 412 or 416 has none of the file's length, encoding,
// validators or caching headers, so that a cache does not keep it.
//
// Anything but a regular file is 404: directories (no listings, no index
// files), and FIFOs and devices, which are not opened. So are paths with a
// ".." or "." segment, an empty segment, a backslash or a NUL byte,
// decoded or not, as WhiteNoise and http.FileServer answer them; with
// [NewStaticDir], symbolic links may not leave the directory ([os.Root]).
type Static struct {
	// Prefix is the URL path the files are served under, such as
	// "/static/": a request for Prefix+"css/app.css" gets the file
	// "css/app.css". Requests not under Prefix are 404. "" (the default)
	// serves the whole path: mount the Static at the root, or behind
	// http.StripPrefix("/static/"), which leaves "css/app.css".
	Prefix string

	// MaxAge is the Cache-Control max-age of files whose names are not
	// immutable: 60 seconds (WhiteNoise's default) when 0; negative means
	// "no-cache" (clients revalidate every time, cheaply, with the ETag).
	MaxAge time.Duration

	// Immutable reports whether a file name (slash-separated, relative to
	// the root) carries a hash of its content, so that it can be cached
	// forever. [HashedName] (Django's ManifestStaticFilesStorage names)
	// when nil.
	Immutable func(name string) bool

	// NoCORS, when true, leaves out the "Access-Control-Allow-Origin: *"
	// header that every answer about a file carries by default (false),
	// as WhiteNoise's allow_all_origins (True by default) sends it: the
	// files are public, and web fonts, crossorigin scripts and fetch()
	// calls from another origin (a CDN in front, a second site) cannot
	// read them without it. "*" gives no access to credentialed requests.
	// Set it for files that only a private network may read.
	NoCORS bool

	// NotFound, when not nil, answers every request that Static would
	// answer 404 (a file that is not there, a directory, a refused path, a
	// precompressed variant asked for by name, a path outside Prefix)
	// instead of Static's plain-text "404 page not found": typically the
	// Python app, the same [Handler] as the router's fallback, so that
	// clients keep getting Python's own 404 page (Flask's, Django's
	// 404.html) while it runs, and a shadow comparison of a missing file
	// compares Python's page with itself. nil (the default): Static
	// answers 404 itself, as once Python is gone.
	NotFound http.Handler

	// Logger receives errors reading files (not 404s). slog.Default() when
	// nil.
	Logger *slog.Logger

	fsys  fs.FS
	etags sync.Map // file name -> content ETag, for files with no ModTime
}

var _ http.Handler = (*Static)(nil)

// NewStatic returns a Static serving the files of fsys, such as an
// embed.FS narrowed with [fs.Sub]. fsys is trusted not to hand out files
// outside itself (embed.FS, [os.Root.FS] and fs.Sub of them do not;
// [os.DirFS] follows symbolic links anywhere: use [NewStaticDir] for a
// directory).
func NewStatic(fsys fs.FS) *Static {
	return &Static{fsys: fsys}
}

// NewStaticDir returns a Static serving the files under dir, which must
// exist. Symbolic links are followed only while they stay inside dir. The
// directory stays open until the process exits; its files are read on
// every request, so a deploy that replaces them is seen at once.
func NewStaticDir(dir string) (*Static, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("fallback: static directory: %w", err)
	}
	return NewStatic(root.FS()), nil
}

// hashedName matches the names ManifestStaticFilesStorage writes: the
// original name with the first 12 hex digits of the file's MD5 inserted
// before the extension ("app.3f2a9c1b4d5e.css").
var hashedName = regexp.MustCompile(`\.[0-9a-f]{12}\.[^./]+$`)

// HashedName reports whether name looks like a name written by Django's
// ManifestStaticFilesStorage (and WhiteNoise's CompressedManifest storage):
// "NAME.HASH.EXT" with HASH 12 lowercase hex digits. Compressed variants
// (".gz", ".br") are judged by the name they compress.
func HashedName(name string) bool {
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".br"), ".gz")
	return hashedName.MatchString(name)
}

// ServeHTTP serves the file named by the request path.
func (s *Static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.fsys == nil {
		s.readFailed(w, r, r.URL.Path, errors.New("Static has no files: create it with NewStatic or NewStaticDir"))
		return
	}
	name, status := s.name(r)
	if status != http.StatusOK {
		if status == http.StatusNotFound {
			// The same 404 as for a file that is not there: a name
			// Static refuses ("/static/", the catch-all's empty rest,
			// a directory, "..") answered "Not Found" until 2026-12-02.
			s.notFound(w, r)
			return
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	s.serve(w, r, name)
}

// notFound answers a request for a file Static does not serve: NotFound,
// else a 404.
func (s *Static) notFound(w http.ResponseWriter, r *http.Request) {
	if s.NotFound != nil {
		s.NotFound.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// name returns the file name the request asks for, or the error status.
func (s *Static) name(r *http.Request) (string, int) {
	prefix := s.Prefix
	if prefix == "" && !strings.HasPrefix(r.URL.Path, "/") {
		prefix = "" // behind http.StripPrefix("/static/"): "css/app.css"
	} else if !strings.HasSuffix(prefix, "/") {
		prefix += "/" // "/static" serves "/static/x", not "/staticx"
	}
	// Both forms are checked: Path is decoded once ("..%2f" is "../"),
	// RawPath, when set, is what the client sent.
	for _, p := range []string{r.URL.Path, r.URL.RawPath} {
		if strings.ContainsAny(p, "\\\x00") || strings.Contains(strings.ToLower(p), "%00") ||
			strings.Contains(strings.ToLower(p), "%5c") {
			return "", http.StatusNotFound
		}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok || rest == "" || strings.HasSuffix(rest, "/") {
		return "", http.StatusNotFound
	}
	for seg := range strings.SplitSeq(rest, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", http.StatusNotFound
		}
	}
	if !fs.ValidPath(rest) {
		return "", http.StatusNotFound
	}
	return rest, http.StatusOK
}

// precompressed lists the precompressed variants Static looks for, best
// first: the content coding and the extension of its files.
func precompressed() [2]struct{ token, ext string } {
	return [...]struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}}
}

// isVariant reports whether name is the precompressed variant of another
// file: it ends in ".br" or ".gz" and the name without it is a regular
// file. Such a name is served only through Accept-Encoding, never asked
// for itself, as WhiteNoise answers (its is_compressed_variant).
func (s *Static) isVariant(name string) bool {
	for _, enc := range precompressed() {
		if base, ok := strings.CutSuffix(name, enc.ext); ok {
			info, err := fs.Stat(s.fsys, base)
			return err == nil && info.Mode().IsRegular()
		}
	}
	return false
}

// serve sends name, or its best precompressed variant.
func (s *Static) serve(w http.ResponseWriter, r *http.Request, name string) {
	if s.isVariant(name) {
		s.notFound(w, r)
		return
	}
	f, info, err := s.open(name)
	if err != nil {
		s.openFailed(w, r, name, err)
		return
	}
	defer f.Close()
	h := w.Header()

	ctype := mime.TypeByExtension(path.Ext(name))
	file, fileName, encoding := f, name, ""
	variants := false
	accept := r.Header.Values("Accept-Encoding")
	for _, enc := range precompressed() {
		vf, vinfo, err := s.open(name + enc.ext)
		if err != nil {
			continue
		}
		variants = true
		if encoding == "" && acceptsEncoding(accept, enc.token) {
			file, fileName, info, encoding = vf, name+enc.ext, vinfo, enc.token
			defer vf.Close()
			continue
		}
		vf.Close()
	}
	if variants {
		h.Add("Vary", "Accept-Encoding")
	}
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
	}
	h.Set("Cache-Control", s.cacheControl(name))
	if !s.NoCORS {
		h.Set("Access-Control-Allow-Origin", "*")
	}

	rs, err := s.seeker(file, info)
	if err != nil {
		s.readFailed(w, r, name, err)
		return
	}
	if ctype == "" {
		// Sniffed from NAME's own content whichever encoding is sent,
		// never from compressed bytes.
		if ctype, err = s.sniff(f, rs, encoding); err != nil {
			s.readFailed(w, r, name, err)
			return
		}
	}
	h.Set("Content-Type", ctype)
	etag, err := s.etag(fileName, info, rs)
	if err != nil {
		s.readFailed(w, r, name, err)
		return
	}
	h.Set("Etag", etag)
	http.ServeContent(&contentWriter{ResponseWriter: w, size: info.Size()}, satisfiableRange(r, info.Size()), name, info.ModTime(), rs)
}

// sniff returns the Content-Type of the uncompressed file f, whose
// extension has none: [http.DetectContentType] of its first 512 bytes,
// the rule of http.ServeContent. With no encoding chosen, f is the file
// sent and rs its seeker, read from and rewound; otherwise f is read,
// the variant (rs) left untouched.
func (s *Static) sniff(f fs.File, rs io.ReadSeeker, encoding string) (string, error) {
	src := io.Reader(f)
	if encoding == "" {
		src = rs
	}
	var buf [512]byte
	n, err := io.ReadFull(src, buf[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return "", err
	}
	if encoding == "" {
		if _, err := rs.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
	}
	return http.DetectContentType(buf[:n]), nil
}

// contentWriter is what [http.ServeContent] writes a file's answer to, for
// Static and Sendfile, which set the headers of a 200 before it; they are
// completed or cleaned up once ServeContent picks the status:
//   - a 200 (the whole file) gets its Content-Length even when a
//     Content-Encoding is set, where ServeContent leaves it out for
//     compressing middlewares: the file is sent as it is;
//   - an error (412, 416, 500) drops [fileErrorHeaders].
//
// ServeContent's 304 removes the body headers itself and keeps the caching
// ones, as RFC 9110 wants; a 206 keeps Content-Encoding, the ranges being
// of the encoded file.
type contentWriter struct {
	http.ResponseWriter
	size        int64 // the file's
	wroteHeader bool
}

// fileErrorHeaders are the headers an error answer about a file must not
// carry, whoever set them (Static, or the app behind a Sendfile): the
// file's length, encoding and name would describe the error text as the
// file (a 412 with the file's Content-Length and no body leaves the client
// waiting for it), its validators would validate the error, and
// Cache-Control or Expires would let a cache keep the error for as long as
// the file. net/http's serveError drops most of them for the same reasons.
var fileErrorHeaders = [...]string{
	"Content-Length", "Content-Encoding", "Content-Disposition",
	"Etag", "Last-Modified", "Cache-Control", "Expires",
}

func (w *contentWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		h := w.Header()
		switch {
		case code == http.StatusOK:
			if _, ok := h["Content-Length"]; !ok {
				h.Set("Content-Length", strconv.FormatInt(w.size, 10))
			}
		case code >= 400:
			for _, k := range fileErrorHeaders {
				delete(h, k)
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *contentWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps sendfile(2): ServeContent copies the file with io.CopyN.
func (w *contentWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Unwrap is for http.ResponseController.
func (w *contentWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// open opens name and returns it if it is a regular file. It checks before
// opening: opening a FIFO blocks until a writer comes, for ever if none
// does, and a device may do anything. It checks again once the file is
// open, in case the name was replaced in between.
func (s *Static) open(name string) (fs.File, fs.FileInfo, error) {
	info, err := fs.Stat(s.fsys, name)
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fs.ErrNotExist // directories, FIFOs and devices are not served
	}
	f, err := s.fsys.Open(name)
	if err != nil {
		return nil, nil, err
	}
	info, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, fs.ErrNotExist
	}
	return f, info, nil
}

// seeker returns f as an io.ReadSeeker, reading it into memory if its
// fs.FS does not provide one.
func (s *Static) seeker(f fs.File, info fs.FileInfo) (io.ReadSeeker, error) {
	if rs, ok := f.(io.ReadSeeker); ok {
		return rs, nil
	}
	b, err := io.ReadAll(io.LimitReader(f, info.Size()+1))
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// etag is a strong ETag for the file called name (the variant's own name
// for a precompressed one): size and modification time (like nginx) when
// it has one, else a hash of the content, computed once per file.
func (s *Static) etag(name string, info fs.FileInfo, rs io.ReadSeeker) (string, error) {
	if mt := info.ModTime(); !mt.IsZero() {
		return `"` + strconv.FormatInt(mt.UnixNano(), 36) + "-" + strconv.FormatInt(info.Size(), 36) + `"`, nil
	}
	if e, ok := s.etags.Load(name); ok {
		return e.(string), nil
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, rs); err != nil {
		return "", err
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	e := `"` + base64.RawURLEncoding.EncodeToString(sum.Sum(nil)[:18]) + `"`
	s.etags.Store(name, e)
	return e, nil
}

func (s *Static) cacheControl(name string) string {
	immutable := s.Immutable
	if immutable == nil {
		immutable = HashedName
	}
	if immutable(name) {
		return "public, max-age=31536000, immutable"
	}
	switch {
	case s.MaxAge < 0:
		return "no-cache"
	case s.MaxAge == 0:
		return "public, max-age=60"
	}
	return "public, max-age=" + strconv.FormatInt(int64(s.MaxAge/time.Second), 10)
}

func (s *Static) openFailed(w http.ResponseWriter, r *http.Request, name string, err error) {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) {
		s.notFound(w, r)
		return
	}
	// os.Root refuses links that leave the root with an error of its own.
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
		s.notFound(w, r)
		return
	}
	s.readFailed(w, r, name, err)
}

func (s *Static) readFailed(w http.ResponseWriter, r *http.Request, name string, err error) {
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(r.Context(), slog.LevelError, "fallback: static file unreadable",
		slog.String("graft.file", name), slog.String("error", err.Error()), slog.String("url.path", r.URL.Path))
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// acceptsEncoding reports whether the Accept-Encoding field values accept
// coding (RFC 9110 §12.5.3): listed, or matched by "*", with a q-value
// above 0 (negotiate.Weight: a malformed one is 0). No field means
// identity only.
func acceptsEncoding(values []string, coding string) bool {
	star, found := false, false
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			token, params, _ := strings.Cut(item, ";")
			token = strings.TrimSpace(token)
			ok := negotiate.Weight(params) > 0
			switch {
			case strings.EqualFold(token, coding):
				if !ok {
					return false // an explicit refusal wins over "*"
				}
				found = true
			case token == "*":
				star = ok
			}
		}
	}
	return found || star
}
