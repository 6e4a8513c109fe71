package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/graft-dev/graft/wsgi"
)

// NewFlagSet returns a flag set that reports its errors instead of
// printing them with the whole usage: [Parse] and [Main] do the printing.
func NewFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// HelpError is returned by [Parse] for -h, -help or --help: Usage is the
// text to print. It matches flag.ErrHelp with errors.Is.
type HelpError struct{ Usage string }

func (e *HelpError) Error() string { return "help requested" }

// Unwrap returns flag.ErrHelp.
func (e *HelpError) Unwrap() error { return flag.ErrHelp }

// UsageError is a command-line mistake: [Main] prints it with a pointer to
// -h, not the whole usage, and exits 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the mistake.
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// Parse parses args into fs, with flags allowed before and after the
// positional arguments (gunicorn's "app:app -workers 2" as well as
// "-workers 2 app:app"), and returns the positional ones. "--" ends the flags. For -h
// it returns a *HelpError whose usage starts with synopsis; a bad flag or
// value is a *UsageError naming it; one of gunicorn's flags that graft
// names otherwise, or lacks, says what to use instead (-w: -workers).
func Parse(fs *flag.FlagSet, synopsis string, args []string) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			var b bytes.Buffer
			fmt.Fprintf(&b, "%s\n\nFlags may come before or after the arguments. Durations are seconds (30, 2.5)\nor Go durations (30s, 1m30s, 500ms).\n\nflags:\n", strings.TrimRight(synopsis, "\n"))
			fs.SetOutput(&b)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
			return nil, &HelpError{Usage: b.String()}
		}
		if err != nil {
			return nil, &UsageError{withGunicornHint(err)}
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// Main runs a command: run gets the arguments and returns its error.
// Usage goes to stdout with exit status 0 for -h; a *UsageError is printed
// with a pointer to -h and exits 2; another error exits 1. SIGHUP and
// SIGPIPE are ignored until wsgi.Serve takes the signals over (see
// ignoreEarlySignals).
//
// The rule, the same in every example: a mistake in the command line
// itself, wrong on any machine (an unknown flag, a malformed value or
// address, a value out of its range, flags that go together, a malformed
// module:callable), is a *UsageError naming its flag and exits 2, found
// before anything starts ([Parse], the flag values' Set, [Flags.Check],
// [CheckApp], [CheckMount]); what fails on this machine (a directory or
// file that does not exist, a port in use, the interpreter missing, the
// app failing to import) exits 1.
func Main(name string, run func(args []string) error) {
	ignoreEarlySignals()
	os.Exit(exitCode(name, run(os.Args[1:]), os.Stdout, os.Stderr))
}

// exitCode prints err as Main does and returns the exit status.
func exitCode(name string, err error, stdout, stderr io.Writer) int {
	var help *HelpError
	var usage *UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		io.WriteString(stdout, help.Usage)
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s: %v\nRun '%s -h' for the flags.\n", name, err, name)
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
}

// durationValue is a duration flag in plain seconds ("30", "0.5",
// gunicorn's form) or Go's form ("30s", "1m30s").
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

// ParseDuration parses plain seconds ("30", "2.5") or a Go duration
// ("30s", "1m30s", "500ms").
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.Duration(0), error(nil)
	if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && !strings.ContainsAny(s, "xXpPnN_") {
		if f > float64(1<<63-1)/float64(time.Second) || f < -float64(1<<63-1)/float64(time.Second) {
			return 0, errors.New("out of range")
		}
		d = time.Duration(f * float64(time.Second))
		if d == 0 && f != 0 {
			// 0 means "never" for most flags: a value that rounds to it
			// would turn a limit off instead of making it tiny.
			return 0, errors.New("under a nanosecond")
		}
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, errors.New("want seconds (30, 2.5) or a duration (30s, 1m30s, 500ms)")
	} else if d == 0 && strings.ContainsAny(s, "123456789") {
		return 0, errors.New("under a nanosecond") // 0.5ns
	}
	return d, nil
}

// DurationVar defines a duration flag that takes plain seconds or Go's
// form (the usage header of Parse says so).
func DurationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}

// listValue is a repeatable string flag; the first Set replaces the
// default. check, when not nil, checks each value.
type listValue struct {
	p     *[]string
	set   bool
	check func(string) error
}

func (l *listValue) String() string {
	if l == nil || l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ", ")
}

func (l *listValue) Set(s string) error {
	if l.check != nil {
		if err := l.check(s); err != nil {
			return err
		}
	}
	if !l.set {
		*l.p, l.set = nil, true
	}
	*l.p = append(*l.p, s)
	return nil
}

// ListVar defines a repeatable string flag with a default.
func ListVar(fs *flag.FlagSet, p *[]string, name string, value []string, usage string) {
	*p = value
	fs.Var(&listValue{p: p}, name, usage)
}

// addrValue is an address flag, "" for none, checked as it is parsed:
// with wsgi.CheckBind, or as a TCP host:port only.
type addrValue struct {
	p       *string
	tcpOnly bool
}

func (a addrValue) String() string {
	if a.p == nil {
		return ""
	}
	return *a.p
}

func (a addrValue) Set(s string) error {
	switch {
	case s == "":
	case a.tcpOnly && strings.HasPrefix(s, "unix:"):
		return errors.New("want host:port: this listener takes no Unix socket")
	default:
		if err := wsgi.CheckBind(s); err != nil {
			return err
		}
	}
	*a.p = s
	return nil
}

// AddrVar defines an address flag such as -metrics-bind ("" for none):
// HOST:PORT, or unix:/path/to.sock unless tcpOnly, checked with
// wsgi.CheckBind as it is parsed.
func AddrVar(fs *flag.FlagSet, p *string, name, value string, tcpOnly bool, usage string) {
	*p = value
	fs.Var(addrValue{p: p, tcpOnly: tcpOnly}, name, usage)
}

// modeValue is a file mode flag in octal: 0666, 666 or 0o666.
type modeValue fs.FileMode

func (m *modeValue) String() string { return fmt.Sprintf("%#o", uint32(*m)) }

func (m *modeValue) Set(s string) error {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || v > 0o777 || s == "0o" {
		return errors.New("want octal permission bits up to 0777, such as 0660 or 0666")
	}
	if v == 0 {
		// wsgi.ListenConfig would take 0 for its default, 0660.
		return errors.New("0 would let only root connect")
	}
	*m = modeValue(v)
	return nil
}

// ModeVar defines a flag of permission bits in octal (0666, 666 or
// 0o666), 1 to 0777: anything else, such as 0, 0668 or 4777, is refused
// as it is parsed.
func ModeVar(fs *flag.FlagSet, p *fs.FileMode, name string, value fs.FileMode, usage string) {
	*p = value
	fs.Var((*modeValue)(p), name, usage)
}
