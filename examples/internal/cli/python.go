package cli

import "os"

// DefaultPython is the -python default of every example: $GRAFT_PYTHON
// when set; else Debian's interpreter, /usr/bin/python3, which the
// python3-flask and python3-django packages install into, when it exists;
// else python3 on PATH.
func DefaultPython() string {
	if py := os.Getenv("GRAFT_PYTHON"); py != "" {
		return py
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}
