package wsgi

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// autoReloadPoll is how often AutoReload looks at the files; a change is
// acted on once the files have been still for one more poll (debounce), so
// an editor saving several files causes one reload.
const autoReloadPoll = 500 * time.Millisecond

// autoReload reloads the container whenever a .py file under Config.Dir or
// Config.PythonPath changes, until the container shuts down. It polls
// modification times, which works on every filesystem (also bind mounts
// and network shares, where inotify does not).
func (c *Container) autoReload(stop <-chan struct{}) {
	roots := append([]string{c.cfg.Dir}, c.cfg.PythonPath...)
	if roots[0] == "" {
		roots[0] = "."
	}
	last := snapshotPy(roots)
	pending := false
	t := time.NewTicker(autoReloadPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := snapshotPy(roots)
		if now != last {
			last, pending = now, true
			continue // wait until the files are still
		}
		if !pending {
			continue
		}
		pending = false
		c.log.Info("wsgi: a .py file changed; reloading")
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StartTimeout)
		// A failure is logged by the transport, with its traceback, once
		// (pool.Reload); not again here.
		_ = c.Reload(ctx)
		cancel()
	}
}

// pySnapshot summarises the .py files under some roots: a change in any
// file's size or modification time, or a file added or removed, changes it.
type pySnapshot struct {
	files   int
	size    int64
	modHash int64
}

func snapshotPy(roots []string) pySnapshot {
	var s pySnapshot
	for _, root := range roots {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				name := d.Name()
				if path != root && (strings.HasPrefix(name, ".") || name == "__pycache__" ||
					name == "node_modules" || name == "site-packages") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".py") {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			s.files++
			s.size += info.Size()
			s.modHash = s.modHash*31 + info.ModTime().UnixNano() + int64(len(path))
			return nil
		})
	}
	return s
}
