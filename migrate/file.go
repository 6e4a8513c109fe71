package migrate

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Reload reads the stages file again and applies it, logging changes as
// made by "file". A file that cannot be read, parsed or validated changes
// nothing: the error says why (with its line, and the file), it is logged
// with the file as graft.file (named once), and the old stages stay.
// The owner of the process calls it on SIGHUP; the file is also polled.
// Without a stages file, Reload does nothing.
func (m *Migrator) Reload() error {
	if m.o.StagesFile == "" {
		return nil
	}
	// Logged under the lock, so that the poll, which reports a broken
	// file once, never reports again what this call has reported.
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.loadFileLocked("file")
	if err != nil {
		m.logNotApplied(err)
	}
	return err
}

// inStagesFile is an error in the stages file's content: it reads as the
// error and "(in <file>)", and unwraps to the error.
type inStagesFile struct {
	err  error
	path string
}

func (e inStagesFile) Error() string { return fmt.Sprintf("%v (in %s)", e.err, e.path) }

func (e inStagesFile) Unwrap() error { return e.err }

// logNotApplied logs that the stages file was not applied because of err.
// The file is graft.file, named once: not again in the error.
func (m *Migrator) logNotApplied(err error) {
	var in inStagesFile
	if errors.As(err, &in) {
		err = in.err
	}
	m.log.Error("migrate: stages file not applied; the old stages stay",
		slog.String("graft.file", m.o.StagesFile), slog.String("error", err.Error()))
}

// loadFile reads, parses and applies the stages file.
func (m *Migrator) loadFile(who string) error {
	// Read under the lock, so that a change written back meanwhile is
	// never undone by what the file held before it.
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.loadFileLocked(who)
}

// maxStagesFile caps the size of a stages file: a few thousand routes.
const maxStagesFile = 4 << 20

// readStagesFile reads the stages file at path, which must be a regular
// file (or a symlink to one) of at most maxStagesFile bytes: a device
// such as /dev/zero, or a file grown by mistake, would otherwise be read
// into memory whole, every PollInterval.
func readStagesFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", path, fileKind(fi.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxStagesFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxStagesFile {
		return nil, fmt.Errorf("%s is bigger than %d MiB, the most a stages file may be", path, maxStagesFile>>20)
	}
	return data, nil
}

// fileKind names the type of a file that is not a regular one, in words
// ("a directory"), rather than as fs.FileMode prints it ("d---------").
func fileKind(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a file of type " + mode.Type().String()
}

// ReadFile reads and parses the stages file at path, with the errors
// that New and Reload give for it: one that is missing, not a regular file
// (or a symbolic link to one), bigger than 4 MiB, or that ParseFile
// refuses. Whether its routes exist is left to the Migrator that loads
// it. A program can call it before it starts Python, so that a broken
// file fails at once rather than after the app's import (the examples
// do).
func ReadFile(path string) (*File, error) {
	data, err := readStagesFileAt(path)
	if err != nil {
		return nil, err
	}
	f, err := ParseFile(data)
	if err != nil {
		return nil, inStagesFile{err, path}
	}
	return f, nil
}

// readStagesFileAt is readStagesFile with its errors as New gives them.
func readStagesFileAt(path string) ([]byte, error) {
	data, err := readStagesFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("migrate: reading stages file: %w (create it: a file holding {} configures no route)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: reading stages file: %w", err)
	}
	return data, nil
}

func (m *Migrator) loadFileLocked(who string) (err error) {
	defer func() { m.fileErr = err }()
	data, err := readStagesFileAt(m.o.StagesFile)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.fileBad = readErrorSum(errors.Unwrap(err))
		}
		return err
	}
	sum := sha256.Sum256(data)
	f, err := ParseFile(data)
	if err == nil {
		err = m.applyLocked(f, who)
	}
	if err != nil {
		m.fileBad = sum
		return inStagesFile{err, m.o.StagesFile}
	}
	m.fileSum, m.fileOK = sum, true
	m.fileBad = [32]byte{} // the same bad edit again is reported again
	m.fileRollbacks = rollbackKeys(f)
	return nil
}

// readErrorSum stands for a stages file that cannot be read (too big, not
// a regular file) in fileBad: the sum of the error, reported once until
// it changes.
func readErrorSum(err error) [32]byte { return sha256.Sum256([]byte(err.Error())) }

// rollbackKeys returns the routes f has a rollback for.
func rollbackKeys(f *File) map[string]bool {
	keys := make(map[string]bool, len(f.Rollbacks))
	for k := range f.Rollbacks {
		keys[k] = true
	}
	return keys
}

// syncFileLocked applies the stages file first if it changed on disk
// since it was last read or written, so that a change made through the
// API or the console goes on top of an edit of the file, which writing
// back would otherwise undo. An edit that does not apply is left alone:
// writeBackLocked then does not overwrite it.
func (m *Migrator) syncFileLocked() {
	if m.o.StagesFile == "" {
		return
	}
	data, err := readStagesFile(m.o.StagesFile)
	if errors.Is(err, fs.ErrNotExist) || err == nil && m.fileOK && m.fileErr == nil && sha256.Sum256(data) == m.fileSum {
		return // removed (written back afresh), or as graft left it and applied
	}
	if err := m.loadFileLocked("file"); err != nil {
		m.logNotApplied(err)
	}
}

// watch polls the stages file until Shutdown. It reads the file each
// time (stat alone misses a ConfigMap's symlink swap to a file with the
// same size and time) and reloads when its content changed, or when the
// file last read did not apply and it now holds what graft last applied
// or wrote (a broken edit undone). A file that does not apply is
// reported once, by the poll or by Reload, until it changes. A file gone
// for missingPolls polls in a row is reported once too (the stages stay;
// a restart would fail), and applies again when it is back.
func (m *Migrator) watch() {
	defer m.watching.Done()
	t := time.NewTicker(m.o.PollInterval)
	defer t.Stop()
	missing := 0
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		data, err := readStagesFile(m.o.StagesFile)
		if errors.Is(err, fs.ErrNotExist) {
			// Mid-swap (an editor's rename, a ConfigMap's symlink
			// swap), or removed: keep the stages, and say so once it
			// is clearly not a swap.
			if missing++; missing == missingPolls {
				m.mu.Lock()
				if err := m.loadFileLocked("file"); err != nil {
					m.logNotApplied(err)
				}
				m.mu.Unlock()
			}
			continue
		}
		missing = 0
		sum := sha256.Sum256(data)
		if err != nil { // too big, not a regular file
			sum = readErrorSum(err)
		}
		m.mu.Lock()
		applied := err == nil && m.fileOK && m.fileErr == nil && sum == m.fileSum
		if !applied && sum != m.fileBad {
			if err := m.loadFileLocked("file"); err != nil {
				m.logNotApplied(err)
			}
		}
		m.mu.Unlock()
	}
}

// missingPolls is how many polls in a row must find the stages file gone
// before watch reports it: one is a swap caught midway.
const missingPolls = 2

// writeBackLocked writes the configuration to the stages file, if any,
// atomically: a temporary file in the same directory, renamed over it. A
// symlink is followed, so that the link stays. A file that changed on
// disk since graft last read or wrote it (an edit syncFileLocked could
// not apply) is not overwritten: the change stays in memory only, and the
// error says so.
func (m *Migrator) writeBackLocked() error {
	if m.o.StagesFile == "" {
		return nil
	}
	cur, err := readStagesFile(m.o.StagesFile)
	if err == nil && m.fileOK && sha256.Sum256(cur) != m.fileSum || err != nil && !errors.Is(err, fs.ErrNotExist) {
		err := fmt.Errorf("migrate: change applied in memory but not saved: %s was edited and the edit does not apply (see the log); fix it, and it replaces the stages", m.o.StagesFile)
		m.log.Error("migrate: writing stages file", slog.String("error", err.Error()))
		return err
	}
	f := m.fileLocked()
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("migrate: writing stages file: %w", err)
	}
	data = append(data, '\n')
	err = writeAtomic(m.o.StagesFile, data)
	if err != nil {
		err = fmt.Errorf("migrate: change applied in memory but not saved to %s: %w", m.o.StagesFile, err)
		m.log.Error("migrate: writing stages file", slog.String("error", err.Error()))
		return err
	}
	m.fileSum, m.fileOK = sha256.Sum256(data), true
	m.fileErr = nil // the file on disk now holds the stages in effect
	m.fileRollbacks = rollbackKeys(f)
	return nil
}

func writeAtomic(path string, data []byte) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(name, mode)
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// FileError returns why the stages file on disk is not applied: the
// error of the last time it was read (at start, at a reload, or before a
// change made through the API or the console), with its line; nil when
// it applied, or without a stages file. While it is not nil, the stages
// in effect are the last ones that applied.
func (m *Migrator) FileError() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fileErr
}
