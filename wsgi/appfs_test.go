package wsgi

import (
	"bufio"
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// embeddedApp is testdata/appfs, as a binary would carry it ("all:" keeps
// __init__.py, which embed otherwise skips).
//
//go:embed all:testdata/appfs
var embeddedApp embed.FS

func appFS(t testing.TB) fs.FS {
	t.Helper()
	sub, err := fs.Sub(embeddedApp, "testdata/appfs")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// copies lists the entries of tmp.
func copies(t testing.TB, tmp string) []string {
	t.Helper()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestAppFS(t *testing.T) {
	pythontest.Python(t, "flask")
	tmp := t.TempDir()
	c, _ := newContainer(t, Config{App: "embedded:app", AppFS: appFS(t), TempDir: tmp, Workers: 2})
	srv := newServer(t, c)

	dir := c.AppDir()
	top := filepath.Dir(dir)
	if filepath.Dir(top) != tmp || !strings.HasPrefix(filepath.Base(top), "graft-app-"+strconv.Itoa(os.Getpid())+"-") {
		t.Fatalf("AppDir %s: want a graft-app-PID-... copy under %s", dir, tmp)
	}
	// Locked while the server runs, so that no other server, whatever
	// its PID namespace, takes it for a stale copy.
	if locked, known := copyLocked(top); !locked || !known {
		t.Errorf("the copy's lock: held %v, present %v", locked, known)
	}
	if stale := staleAppCopies(tmp); len(stale) != 0 {
		t.Errorf("the live copy counted as stale: %v", stale)
	}
	for path, want := range map[string]fs.FileMode{
		top:                                    0o700,
		dir:                                    0o500,
		filepath.Join(dir, "embedded"):         0o500,
		filepath.Join(dir, "embedded", "data"): 0o500,
		filepath.Join(dir, "embedded", "__init__.py"):            0o400,
		filepath.Join(dir, "embedded", "templates", "page.html"): 0o400,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}

	t.Run("template and data file by path", func(t *testing.T) {
		b := string(mustGet(t, srv.URL+"/"))
		for _, want := range []string{"<li>alpha</li><li>beta</li>", `href="/static/app.css"`} {
			if !strings.Contains(b, want) {
				t.Errorf("page lacks %q:\n%s", want, b)
			}
		}
	})
	t.Run("Flask static folder", func(t *testing.T) {
		if b := string(mustGet(t, srv.URL+"/static/app.css")); !strings.Contains(b, "teal") {
			t.Errorf("got %q", b)
		}
	})
	t.Run("runs from the copy", func(t *testing.T) {
		var w struct {
			H  string `json:"here"`
			C  string `json:"cwd"`
			P  string `json:"pycache_prefix"`
			CC bool   `json:"can_create"`
		}
		if err := json.Unmarshal(mustGet(t, srv.URL+"/where"), &w); err != nil {
			t.Fatal(err)
		}
		if w.H != filepath.Join(dir, "embedded") || w.C != dir || w.P != filepath.Join(top, "pycache") {
			t.Errorf("here %s cwd %s pycache %s; copy %s", w.H, w.C, w.P, dir)
		}
		// root ignores permission bits: the modes are checked above.
		if os.Getuid() != 0 && w.CC {
			t.Errorf("the app could create a file in its copy")
		}
		var pyc int
		filepath.WalkDir(filepath.Join(top, "pycache"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".pyc") {
				pyc++
			}
			return nil
		})
		if pyc == 0 && os.Getenv("PYTHONDONTWRITEBYTECODE") == "" {
			t.Errorf("no bytecode under the pycache prefix")
		}
	})
	t.Run("reload from the same copy", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if c.AppDir() != dir {
			t.Errorf("AppDir changed: %s, was %s", c.AppDir(), dir)
		}
		if b := string(mustGet(t, srv.URL+"/")); !strings.Contains(b, "alpha") {
			t.Errorf("after reload: %q", b)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if names := copies(t, tmp); len(names) != 0 {
		t.Errorf("left after Shutdown: %v", names)
	}
}

// A Django project's templates, opened by path, from the copy.
func TestAppFSDjango(t *testing.T) {
	pythontest.Python(t, "django")
	mfs := fstest.MapFS{}
	root := filepath.Join(testdataDir(t), "djangoapp")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "__pycache__") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(testdataDir(t), p)
		mfs[filepath.ToSlash(rel)] = &fstest.MapFile{Data: b, Mode: 0o644}
		return nil
	})
	tmp := t.TempDir()
	c, _ := newContainer(t, Config{App: "djangoapp.wsgi:application", AppFS: mfs, TempDir: tmp, Workers: 1,
		Env: []string{"GRAFT_DJANGO_DB=" + filepath.Join(t.TempDir(), "db.sqlite3"), "DJANGO_SETTINGS_MODULE=djangoapp.settings"}})
	srv := newServer(t, c)
	if b := string(mustGet(t, srv.URL+"/csrf/form/")); !strings.Contains(b, "csrfmiddlewaretoken") {
		t.Errorf("the template did not render: %q", b)
	}
	c.Shutdown(context.Background())
	if names := copies(t, tmp); len(names) != 0 {
		t.Errorf("left after Shutdown: %v", names)
	}
}

func TestAppFSErrors(t *testing.T) {
	pythontest.Python(t, "flask")
	tmp := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"Dir too", Config{App: "embedded:app", AppFS: appFS(t), Dir: "/srv/app"}, "Dir and AppFS are both set"},
		{"app does not load", Config{App: "missing_module:app", AppFS: appFS(t)}, "missing_module"},
		{"unreadable tree", Config{App: "embedded:app", AppFS: fstest.MapFS{"a": &fstest.MapFile{Mode: fs.ModeSymlink}}}, "copying AppFS"},
		// //go:embed pyapp (not all:pyapp) leaves out shop/__init__.py,
		// which defines app: Python imports shop as a namespace package.
		{"embedded without all:", Config{App: "wsgi:app", AppFS: fstest.MapFS{
			"wsgi.py":       &fstest.MapFile{Data: []byte("from shop import app\n")},
			"shop/views.py": &fstest.MapFile{Data: []byte("x = 1\n")},
		}}, "//go:embed all:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.TempDir, tc.cfg.Python, tc.cfg.Workers = tmp, pythontest.Python(t), 1
			tc.cfg.Logger = slog.New(slog.DiscardHandler)
			c, err := New(tc.cfg)
			if err == nil {
				c.Shutdown(context.Background())
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if hint := "//go:embed all:"; tc.want != hint && strings.Contains(err.Error(), hint) {
				t.Errorf("error %v: the embed hint for a tree that has its __init__.py", err)
			}
			if names := copies(t, tmp); len(names) != 0 {
				t.Errorf("left behind: %v", names)
			}
		})
	}
}

// The copy of a server killed with SIGKILL is removed by the next start.
func TestAppFSStaleCopyAfterKill(t *testing.T) {
	pythontest.Python(t, "flask")
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAppFSChildServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GRAFT_APPFS_CHILD_TMP="+tmp, "GRAFT_PYTHON="+pythontest.Python(t))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	var childDir string
	for lines.Scan() {
		if d, ok := strings.CutPrefix(lines.Text(), "APPDIR="); ok {
			childDir = d
			break
		}
	}
	if childDir == "" {
		t.Fatalf("the child server did not start: %v", lines.Err())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup runs
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(childDir); err != nil {
		t.Fatalf("the killed server's copy should still be there: %v", err)
	}

	c, logs := newContainer(t, Config{App: "embedded:app", AppFS: appFS(t), TempDir: tmp, Workers: 1})
	if _, err := os.Stat(filepath.Dir(childDir)); !os.IsNotExist(err) {
		t.Errorf("the stale copy %s is still there (%v)", childDir, err)
	}
	if !strings.Contains(logs.String(), "removed the copy of an app left by a server that is gone") {
		t.Errorf("removal not logged:\n%s", logs.String())
	}
	if names := copies(t, tmp); len(names) != 1 || filepath.Join(tmp, names[0]) != filepath.Dir(c.AppDir()) {
		t.Errorf("copies %v, want only this server's", names)
	}
}

// TestAppFSChildServer is the server TestAppFSStaleCopyAfterKill kills; it
// does nothing unless run by it.
func TestAppFSChildServer(t *testing.T) {
	tmp := os.Getenv("GRAFT_APPFS_CHILD_TMP")
	if tmp == "" {
		return
	}
	c, err := New(Config{App: "embedded:app", AppFS: appFS(t), TempDir: tmp, Workers: 1,
		Python: pythontest.Python(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("APPDIR=" + c.AppDir() + "\n")
	time.Sleep(10 * time.Minute) // until killed
}

func TestStaleAppCopies(t *testing.T) {
	tmp := t.TempDir()
	me := strconv.Itoa(os.Getpid())
	start := procStart(os.Getpid())
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := strconv.Itoa(dead.Process.Pid)
	mk := func(name string, mode fs.FileMode) string {
		p := filepath.Join(tmp, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	want := map[string]bool{
		mk("graft-app-"+me+"-"+start+"-live", 0o700): false,
		mk("graft-app-"+deadPID+"-0-dead", 0o700):    true,
		mk("graft-app-"+deadPID+"-0-shared", 0o755):  false, // not a private copy: not ours to judge
		mk("graft-app-x-0-junk", 0o700):              false,
		mk("other-"+deadPID+"-0-x", 0o700):           false,
	}
	if start != "0" {
		want[mk("graft-app-"+me+"-1-reused", 0o700)] = true // same PID, another process
	}
	// A copy with a lock file is judged by its lock alone, whatever its
	// PID says (in another PID namespace, it says nothing).
	held := mk("graft-app-"+deadPID+"-0-held", 0o700)
	lock, err := lockAppCopy(held)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	want[held] = false
	free := mk("graft-app-"+me+"-"+start+"-free", 0o700)
	l2, err := lockAppCopy(free)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close() // its server is gone
	want[free] = true
	got := map[string]bool{}
	for _, p := range staleAppCopies(tmp) {
		got[p] = true
	}
	for p, stale := range want {
		if got[p] != stale {
			t.Errorf("%s: stale %v, want %v", filepath.Base(p), got[p], stale)
		}
	}
}

// An AppFS whose packages lost their __init__.py (//go:embed without
// "all:") may still import, as namespace packages, but what needs the
// left-out files does not work: New says so once, at WARN. A tree with
// its __init__.py, or with no package at all, gets no such line.
func TestAppFSWithoutInitPyWarns(t *testing.T) {
	app := []byte("def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n")
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		warn bool
	}{
		{"package without __init__.py", fstest.MapFS{
			"wsgi.py":       &fstest.MapFile{Data: []byte("from shop.views import app\n")},
			"shop/views.py": &fstest.MapFile{Data: app},
		}, true},
		{"package with __init__.py", fstest.MapFS{
			"wsgi.py":          &fstest.MapFile{Data: []byte("from shop.views import app\n")},
			"shop/__init__.py": &fstest.MapFile{},
			"shop/views.py":    &fstest.MapFile{Data: app},
		}, false},
		{"one module", fstest.MapFS{"wsgi.py": &fstest.MapFile{Data: app}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, logs := newContainer(t, Config{App: "wsgi:app", AppFS: tc.fsys, TempDir: t.TempDir()})
			if got := strings.Contains(logs.String(), "//go:embed all:"); got != tc.warn {
				t.Errorf("embed warning logged: %v, want %v; log:\n%s", got, tc.warn, logs)
			}
		})
	}
}
