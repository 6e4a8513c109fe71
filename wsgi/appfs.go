package wsgi

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The app inside the binary (Config.AppFS): the workers import the app
// from a private, read-only copy of the tree, made when the container
// starts and removed by Shutdown. Its layout, under Config.TempDir:
//
//	graft-app-PID-START-RANDOM/  0700, owned by the server's user
//	    .lock                    flock(2)ed by the server while it runs
//	    app/                     the tree: directories 0500, files 0400
//	                             (0500 if executable); Config.Dir
//	    pycache/                 PYTHONPYCACHEPREFIX: the bytecode
//
// A copy whose server is gone (kill -9, a crash, a power cut with a
// persistent temporary directory) is removed by the next server to start
// there. The lock says whether its server runs: the kernel releases it
// when the server's process ends, whatever PID namespace each server is
// in (two containers sharing a volume as their temporary directory are
// both PID 1). The copy is made under another name, locked, then renamed,
// so that no other server sees it unlocked. PID and START (the process's
// start time in clock ticks since boot, from /proc, or 0 where there is
// none) name the server that made it; they judge only a copy without a
// lock, left by an older graft: START tells a live process that reused
// the PID from the owner.

const appCopyPrefix = "graft-app-"

// newPoolFromAppFS is newPool for a cfg whose AppFS is set: it copies the
// tree first and points cfg.Dir at the copy, and removes the copy if the
// workers do not start. Without AppFS it is newPool.
// The returned lock, when not nil, is the copy's: hold it until the copy
// is removed.
func newPoolFromAppFS(cfg *Config) (*pool, *os.File, error) {
	if cfg.AppFS == nil {
		pl, err := newPool(*cfg)
		return pl, nil, err
	}
	if cfg.Dir != "" {
		return nil, nil, errors.New("wsgi: invalid config: Dir and AppFS are both set; AppFS's copy is the workers' directory")
	}
	dir, lock, err := copyAppFS(cfg.AppFS, cfg.TempDir, cfg.Logger)
	if err != nil {
		return nil, nil, err
	}
	cfg.Dir = filepath.Join(dir, "app")
	env := append([]string(nil), cfg.Env...)
	if !hasEnv(env, "PYTHONPYCACHEPREFIX") {
		env = append(env, "PYTHONPYCACHEPREFIX="+filepath.Join(dir, "pycache"))
	}
	cfg.Env = env
	pl, err := newPool(*cfg)
	if err != nil {
		removeAppCopy(dir)
		lock.Close()
		if le := (*LoadError)(nil); errors.As(err, &le) && appFSLacksInitPy(cfg.AppFS) {
			le.noInitPy = true
		}
		return nil, nil, err
	}
	if appFSLacksInitPy(cfg.AppFS) {
		// The app imported (namespace packages), but what needs the
		// files embed left out does not work: Django finds no migrations
		// in a migrations/ without its __init__.py.
		cfg.Logger.Warn("wsgi: " + embedAllHint)
	}
	return pl, lock, nil
}

// appFSLacksInitPy reports whether fsys has Python files in
// subdirectories and no __init__.py anywhere: the tree that
// //go:embed pyapp (without "all:") makes of a Python project, whose
// packages then import as empty namespace packages.
func appFSLacksInitPy(fsys fs.FS) bool {
	nested, initPy := false, false
	fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		switch {
		case err != nil || d.IsDir():
		case path.Base(name) == "__init__.py":
			initPy = true
			return fs.SkipAll
		case strings.HasSuffix(name, ".py") && strings.Contains(name, "/"):
			nested = true
		}
		return nil
	})
	return nested && !initPy
}

// removeAppFSCopy removes the copy of AppFS, if any, once the workers are
// gone; it returns err, the error of the shutdown, or the removal's.
func (c *Container) removeAppFSCopy(err error) error {
	if c.cfg.AppFS == nil || c.cfg.Dir == "" {
		return err
	}
	if rerr := removeAppCopy(filepath.Dir(c.cfg.Dir)); rerr != nil && err == nil {
		err = fmt.Errorf("wsgi: removing the app's copy: %w", rerr)
	}
	if c.appLock != nil {
		c.appLock.Close() // after the removal: no server sees the copy unlocked
	}
	return err
}

// AppDir returns the directory the workers run in: Config.Dir, or the
// private copy of Config.AppFS (read-only; removed by Shutdown), for
// tools that must run in the same tree (Django's "manage.py migrate").
// "" means the Go process's working directory.
func (c *Container) AppDir() string { return c.cfg.Dir }

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// copyAppFS removes the stale copies under tmp and makes a new one of
// fsys, returning its top directory and its lock.
func copyAppFS(fsys fs.FS, tmp string, log *slog.Logger) (string, *os.File, error) {
	if tmp == "" {
		tmp = os.TempDir()
	}
	for _, stale := range staleAppCopies(tmp) {
		if err := removeAppCopy(stale); err != nil {
			log.Warn("wsgi: could not remove a stale copy of an app", slog.String("graft.dir", stale), slog.String("error", err.Error()))
		} else {
			log.Info("wsgi: removed the copy of an app left by a server that is gone", slog.String("graft.dir", stale))
		}
	}
	pid := os.Getpid()
	name := appCopyPrefix + strconv.Itoa(pid) + "-" + procStart(pid) + "-"
	setup, err := os.MkdirTemp(tmp, ".setup-"+name) // 0700
	if err != nil {
		return "", nil, fmt.Errorf("wsgi: copying AppFS: %w", err)
	}
	dir := filepath.Join(tmp, name+strings.TrimPrefix(filepath.Base(setup), ".setup-"+name))
	lock, err := lockAppCopy(setup)
	if err == nil {
		err = os.Rename(setup, dir)
	}
	if err != nil {
		removeAppCopy(setup)
		if lock != nil {
			lock.Close()
		}
		return "", nil, fmt.Errorf("wsgi: copying AppFS: %w", err)
	}
	err = os.Mkdir(filepath.Join(dir, "pycache"), 0o700)
	if err == nil {
		err = writeTree(fsys, filepath.Join(dir, "app"))
	}
	if err != nil {
		removeAppCopy(dir)
		lock.Close()
		return "", nil, fmt.Errorf("wsgi: copying AppFS: %w", err)
	}
	return dir, lock, nil
}

// lockAppCopy creates the lock file of the copy dir and takes its lock,
// which the server holds as long as the copy is its.
func lockAppCopy(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return f, nil
}

// copyLocked reports whether the server of the copy dir runs, by its
// lock: known is false for a copy without a lock file (an older graft's).
func copyLocked(dir string) (locked, known bool) {
	f, err := os.Open(filepath.Join(dir, ".lock"))
	if err != nil {
		return false, false
	}
	defer f.Close() // releases the lock taken here, if any
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	return err != nil, true
}

// writeTree copies fsys to the new directory dst, read-only: files are
// 0400 (0500 when executable), directories 0500 once filled.
func writeTree(fsys fs.FS, dst string) error {
	var dirs []string
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		info, err := fs.Stat(fsys, name) // follows a symbolic link
		if err != nil {
			return err
		}
		switch {
		case info.IsDir() && d.IsDir():
			dirs = append(dirs, target)
			return os.Mkdir(target, 0o700)
		case info.IsDir():
			return fmt.Errorf("%s: a symbolic link to a directory is not copied", name)
		case !info.Mode().IsRegular():
			return fmt.Errorf("%s: not a regular file", name)
		}
		return copyFile(fsys, name, target, info.Mode())
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- { // deepest first
		if err := os.Chmod(dirs[i], 0o500); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(fsys fs.FS, name, target string, mode fs.FileMode) error {
	src, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	perm := fs.FileMode(0o400)
	if mode&0o111 != 0 {
		perm = 0o500
	}
	if err := dst.Chmod(perm); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// removeAppCopy removes a copy, making its directories writable first.
func removeAppCopy(dir string) error {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// staleAppCopies lists the copies under tmp that belong to this user and
// whose server is no longer running.
func staleAppCopies(tmp string) []string {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil
	}
	var stale []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), appCopyPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		parts := strings.SplitN(rest, "-", 3)
		if len(parts) != 3 {
			continue
		}
		pid, err := strconv.Atoi(parts[0])
		if err != nil || pid <= 0 {
			continue
		}
		path := filepath.Join(tmp, e.Name())
		if !ownedByMe(path) {
			continue
		}
		if locked, known := copyLocked(path); locked || !known && serverAlive(pid, parts[1]) {
			continue
		}
		stale = append(stale, path)
	}
	return stale
}

// serverAlive reports whether the process pid that started at start is
// running. A process we may not signal (another user's) counts as alive.
func serverAlive(pid int, start string) bool {
	err := syscall.Kill(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return false
	}
	if now := procStart(pid); err == nil && now != "0" && start != "0" && now != start {
		return false // the PID was reused
	}
	return true
}

func ownedByMe(path string) bool {
	info, err := os.Lstat(path)
	if err != nil {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid() && info.Mode().Perm()&0o077 == 0
}

// procStart returns the start time of process pid in clock ticks since
// boot (/proc/PID/stat, field 22), or "0" where /proc has none.
func procStart(pid int) string {
	fields := procStat(pid)
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 {
		return "0"
	}
	if _, err := strconv.ParseUint(fields[19], 10, 64); err != nil {
		return "0"
	}
	return fields[19]
}

// procStat returns the fields of /proc/PID/stat after the command name,
// from field 3 (the state) on, or nil where /proc has none.
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}
