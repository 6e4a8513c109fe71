package wsgi

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// certCheckEvery is how often, at most, the TLS handshakes of a listener
// whose certificate came from files look whether the files changed.
const certCheckEvery = time.Second

// certFiles is a certificate and key read from files, replaceable while
// handshakes read it. Besides load (Listen, SIGHUP), get reads the files
// again when they changed: gunicorn reads them on every connection, so a
// service moved from it, or fed by cert-manager (a Kubernetes Secret
// volume, whose files are swapped by a symbolic link and which nobody
// sends a SIGHUP), would otherwise serve its old certificate until it
// expires.
type certFiles struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
	every             time.Duration               // certCheckEvery; 0: at every handshake
	since             time.Time                   // Listen's call: looks are timed from it (monotonic)
	next              atomic.Int64                // when the next look may be, in nanoseconds since since
	log               atomic.Pointer[slog.Logger] // set by Serve; nil: nothing logged

	mu   sync.Mutex     // one read of the files at a time
	seen [2]os.FileInfo // the files as they were when last read (nil: missing)
}

// load reads the files; the current certificate stays if they do not load.
func (c *certFiles) load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loadLocked()
}

func (c *certFiles) loadLocked() error {
	// Looked at before reading: a change made meanwhile is seen next time.
	c.seen = c.stat()
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("wsgi: certificate: %w", err)
	}
	c.cur.Store(&cert)
	return nil
}

func (c *certFiles) stat() [2]os.FileInfo {
	var fi [2]os.FileInfo
	for i, name := range []string{c.certFile, c.keyFile} {
		if st, err := os.Stat(name); err == nil { // through symbolic links
			fi[i] = st
		}
	}
	return fi
}

// sameFile reports whether a and b (either nil for a missing file) are the
// same file, unchanged.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// check reads the files again if they changed since they were last read,
// looking at most once per every, and logs the outcome. Files that do
// not load (a renewal half written, a key that does not match) are tried
// again when they next change; the current certificate stays meanwhile.
func (c *certFiles) check() {
	now := int64(time.Since(c.since))
	next := c.next.Load()
	if now < next || !c.next.CompareAndSwap(next, now+int64(c.every)) {
		return
	}
	if !c.mu.TryLock() {
		return // being read (SIGHUP)
	}
	defer c.mu.Unlock()
	fi := c.stat()
	if sameFile(fi[0], c.seen[0]) && sameFile(fi[1], c.seen[1]) {
		return
	}
	err := c.loadLocked()
	log := c.log.Load()
	switch {
	case log == nil:
	case err != nil:
		log.Warn("wsgi: the certificate files changed but do not load; the current certificate stays",
			slog.String("graft.file", c.certFile), slog.String(logError, err.Error()))
	default:
		log.Info("wsgi: certificate reloaded: its files changed", slog.String("graft.file", c.certFile))
	}
}

func (c *certFiles) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.check()
	return c.cur.Load(), nil
}
