package cli

import (
	"io/fs"
	"os"
)

// Unpack copies the files of fsys under root (an embedded Python app) into
// a new temporary directory named after pattern, as os.MkdirTemp does. The
// caller runs cleanup, which removes the directory, when done with it.
func Unpack(fsys fs.FS, root, pattern string) (dir string, cleanup func(), err error) {
	sub, err := fs.Sub(fsys, root)
	if err != nil {
		return "", nil, err
	}
	dir, err = os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if err := os.CopyFS(dir, sub); err != nil {
		cleanup()
		return "", nil, err
	}
	return dir, cleanup, nil
}
