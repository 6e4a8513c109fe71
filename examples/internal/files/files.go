// Package files holds the file-serving flags of graft's example servers:
// -static /PREFIX/=DIR (repeatable) mounts a fallback.Static, so that Go
// serves the app's static files and the Python workers never see them;
// -sendfile-root DIR (repeatable) lets the app answer with an X-Sendfile
// header naming a file under DIR, which Go then sends.
package files

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/router"
)

// Static is one -static flag: files of Dir served under Prefix.
type Static struct {
	Prefix, Dir string
}

// Flags are the file-serving flags.
type Flags struct {
	Static        []Static
	SendfileRoots []string
	// StaticNoCORS turns off the Access-Control-Allow-Origin: * that
	// every -static mount sends by default (fallback.Static.NoCORS).
	StaticNoCORS bool
	// StaticMaxAge is the Cache-Control max-age of -static files whose
	// names carry no hash (fallback.Static.MaxAge): 60 seconds when 0,
	// no-cache when negative. The examples' -static-max-age sets it (its
	// 0 is no-cache, Flask's own static view's answer).
	StaticMaxAge time.Duration
}

// staticFlag collects -static /PREFIX/=DIR.
type staticFlag struct{ f *Flags }

func (s staticFlag) String() string { return "" }

func (s staticFlag) Set(v string) error {
	prefix, dir, ok := strings.Cut(v, "=")
	if !ok || dir == "" || !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
		return errors.New("want /PREFIX/=DIR, the prefix starting and ending with /")
	}
	for _, st := range s.f.Static {
		if st.Prefix == prefix {
			return fmt.Errorf("prefix %s given twice", prefix)
		}
	}
	s.f.Static = append(s.f.Static, Static{Prefix: prefix, Dir: dir})
	return nil
}

// rootFlag collects -sendfile-root DIR.
type rootFlag struct{ f *Flags }

func (r rootFlag) String() string { return "" }

func (r rootFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty directory")
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return err
	}
	r.f.SendfileRoots = append(r.f.SendfileRoots, abs)
	return nil
}

// Register defines -static and -sendfile-root on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.Var(staticFlag{f}, "static", "serve the files of DIR under /PREFIX/ from Go, as /PREFIX/=DIR (repeatable): ETag, Range, immutable caching of hashed names, .br/.gz variants")
	fs.BoolVar(&f.StaticNoCORS, "static-no-cors", false, "send no Access-Control-Allow-Origin: * with static files, -static ones and the app's own (sent by default, as WhiteNoise does; for files only a private network may read)")
	fs.Var(rootFlag{f}, "sendfile-root", "let the app answer X-Sendfile: /path for files under DIR, sent by Go (repeatable; none: the header passes through)")
}

// Validate checks that the directories exist: the error says "no such
// file or directory" for a missing one (or the system's reason, such as
// "permission denied"), "not a directory" for a file.
func (f *Flags) Validate() error {
	for _, st := range f.Static {
		if err := isDir(st.Dir); err != nil {
			return fmt.Errorf("-static %s=%s: %w", st.Prefix, st.Dir, err)
		}
	}
	for _, dir := range f.SendfileRoots {
		if err := isDir(dir); err != nil {
			return fmt.Errorf("-sendfile-root %s: %w", dir, err)
		}
	}
	return nil
}

// isDir returns why dir is not a directory one can use, or nil: the
// system's reason without the path (the caller names it), or ENOTDIR.
func isDir(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	if !info.IsDir() {
		return syscall.ENOTDIR
	}
	return nil
}

// Configure sets s up as the flags ask every static folder the examples
// serve to be, a -static mount or the app's own (Flask's static folder,
// the Django admin's): its Prefix, its Logger, and the CORS header and
// max-age of -static-no-cors and -static-max-age.
func (f *Flags) Configure(s *fallback.Static, prefix string, log *slog.Logger) {
	s.Prefix, s.Logger, s.NoCORS, s.MaxAge = prefix, log, f.StaticNoCORS, f.StaticMaxAge
}

// Mount mounts a fallback.Static for each -static flag on r, logging to
// log. Mount before the routes under the same prefix, such as the
// app's fallback. notFound (fallback.Static.NotFound) answers what a
// mount does not have: the app's fallback, so that a missing file gets
// the app's own 404 page and the app's views under the prefix keep
// answering, as docs/migration.md advises while Python runs; nil for
// Static's plain-text 404 where no app serves the prefix.
func (f *Flags) Mount(r *router.Router, notFound http.Handler, log *slog.Logger) error {
	for _, st := range f.Static {
		s, err := fallback.NewStaticDir(st.Dir)
		if err != nil {
			return fmt.Errorf("-static %s=%s: %w", st.Prefix, st.Dir, err)
		}
		f.Configure(s, st.Prefix, log)
		s.NotFound = notFound
		r.Handle(st.Prefix+"*", s)
		log.Info("static files", slog.String("graft.prefix", st.Prefix), slog.String("graft.dir", st.Dir))
	}
	return nil
}

// Handler returns app as it is when no flag is set; otherwise a router
// with the -static mounts in front of app, which gets the -sendfile-root
// roots and what the mounts do not have.
func (f *Flags) Handler(app http.Handler, log *slog.Logger) (http.Handler, error) {
	if len(f.Static) == 0 && len(f.SendfileRoots) == 0 {
		return app, nil
	}
	r := router.New()
	fb := &fallback.Handler{App: app, Sendfile: f.Sendfile(log), Logger: log}
	if err := f.Mount(r, fb, log); err != nil {
		return nil, err
	}
	r.Fallback(fb)
	return r, nil
}

// WithSendfile returns app behind a fallback.Handler with the
// -sendfile-root roots, or app itself without any; for a main that mounts
// app with fallback.Handlers of its own (which then need no Sendfile).
func (f *Flags) WithSendfile(app http.Handler, log *slog.Logger) http.Handler {
	sf := f.Sendfile(log)
	if sf == nil {
		return app
	}
	return &fallback.Handler{App: app, Sendfile: sf, Logger: log}
}

// Front returns h with the -static mounts in front of it (a router whose
// fallback is h, which also gets what the mounts do not have), or h
// itself without any.
func (f *Flags) Front(h http.Handler, log *slog.Logger) (http.Handler, error) {
	if len(f.Static) == 0 {
		return h, nil
	}
	r := router.New()
	if err := f.Mount(r, h, log); err != nil {
		return nil, err
	}
	r.Fallback(h)
	return r, nil
}

// Sendfile returns the fallback.Sendfile of the -sendfile-root flags, or
// nil without any.
func (f *Flags) Sendfile(log *slog.Logger) *fallback.Sendfile {
	if len(f.SendfileRoots) == 0 {
		return nil
	}
	return &fallback.Sendfile{Roots: f.SendfileRoots, Logger: log}
}

// AppAt returns the handler for what a -static mount does not have
// (Mount's notFound) when the app is mounted at prefix ("" for the root,
// else without a trailing slash): app for the paths under prefix, which it
// answers with its own 404 page or its views, and a plain 404 elsewhere,
// where no app would have answered.
func AppAt(app http.Handler, prefix string) http.Handler {
	if prefix == "" {
		return app
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == prefix || strings.HasPrefix(p, prefix+"/") {
			app.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
}
