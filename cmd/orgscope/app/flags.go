package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// envPrefix prefixes the environment variable of every flag: --public-url
// is also ORGSCOPE_PUBLIC_URL. A flag given on the command line wins.
const envPrefix = "ORGSCOPE_"

// envName returns the environment variable of a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagRef names a flag the way every message does: "--token-ttl
// (ORGSCOPE_TOKEN_TTL)", so whoever set it, on the command line or in the
// environment, finds it.
func flagRef(name string) string {
	return fmt.Sprintf("--%s (%s)", name, envName(name))
}

// usageError is a mistake in how a command was called: a bad flag value,
// a missing flag, an unknown command. Main reports it and exits with 2.
type usageError struct {
	err error
	// hint, when set, is printed after the error ("run orgscope serve -h").
	hint string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a usageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// command is one command's flag set, with the synopsis its help shows.
type command struct {
	fs       *flag.FlagSet
	synopsis string
	// about, when set, is printed between the synopsis and the flags.
	about string
	// failed records the flag whose value could not be parsed, so the
	// message can name it and its environment variable.
	failed *setFailure
	// maxArgs is how many arguments that are not flags the command takes
	// (FILE, URL), before or after its flags; parse leaves them in args.
	maxArgs int
	args    []string
}

type setFailure struct {
	name, value string
}

func newCommand(name, synopsis string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by parse, help by usage
	return &command{fs: fs, synopsis: synopsis, failed: &setFailure{}}
}

// usage writes the command's help: its synopsis and every flag with its
// environment variable and default.
func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n", c.synopsis)
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.about))
	}
	fmt.Fprintf(w, "\nFlags (each also read from the environment variable shown; the command line wins):\n")
	c.fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  --%s  [%s]\n        %s%s\n", f.Name, envName(f.Name), f.Usage, def)
	})
}

// parse parses args, then fills every flag not given on the command line
// from its environment variable. -h prints the help to stdout and returns
// flag.ErrHelp; any other mistake is a usageError naming the flag and its
// environment variable.
func (c *command) parse(args []string, stdout io.Writer, getenv func(string) string) error {
	c.fs.VisitAll(func(f *flag.Flag) { f.Value = &recordingValue{Value: f.Value, name: f.Name, failed: c.failed} })
	// Arguments may come before, between or after the flags ("backup FILE
	// --force", "doctor --json URL"); the flag package stops at the first
	// one, so parsing goes on after each.
	c.args = nil
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.usage(stdout)
				return err
			}
			if c.failed.name != "" {
				return c.invalid(c.failed.name, c.failed.value)
			}
			msg := strings.Replace(err.Error(), "flag provided but not defined: -", "unknown flag --", 1)
			return &usageError{err: errors.New(msg), hint: c.hint()}
		}
		args = c.fs.Args()
		if len(args) == 0 {
			break
		}
		if len(c.args) == c.maxArgs {
			return &usageError{err: fmt.Errorf("unexpected argument %q", args[0]), hint: c.hint()}
		}
		c.args, args = append(c.args, args[0]), args[1:]
	}
	given := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	c.fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if f.Value.Set(v) != nil {
				err = c.invalid(f.Name, v)
			}
		}
	})
	return err
}

// invalid says what kind of value flag name wants.
func (c *command) invalid(name, value string) error {
	want := "a valid value"
	if g, ok := c.fs.Lookup(name).Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			want = "a duration such as 30s, 15m or 1h"
		case float64:
			want = "a number"
		case int, int64, uint, uint64:
			want = "a whole number"
		case bool:
			want = "true or false"
		}
	}
	if d, ok := c.fs.Lookup(name).Value.(*recordingValue).Value.(*demoFlag); ok {
		want = d.want()
	}
	return &usageError{err: fmt.Errorf("%s must be %s, got %q", flagRef(name), want, value), hint: c.hint()}
}

func (c *command) hint() string {
	return fmt.Sprintf("run \"orgscope %s -h\" for the flags", c.fs.Name())
}

// recordingValue remembers which flag failed to parse, because the flag
// package's error names only "-flag" and not its environment variable.
type recordingValue struct {
	flag.Value
	name   string
	failed *setFailure
}

func (v *recordingValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		*v.failed = setFailure{name: v.name, value: s}
		return err
	}
	return nil
}

// IsBoolFlag keeps "--demo" and "--json" working without "=true".
func (v *recordingValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (v *recordingValue) Get() any {
	if g, ok := v.Value.(flag.Getter); ok {
		return g.Get()
	}
	return nil
}

// fmtDuration writes d the way people type durations: 5m, 48h, 1h30m
// rather than time's 5m0s, 48h0m0s, 1h30m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// stringList is a flag holding a comma-separated list.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// demoFlag is --demo: true, false, or not given (auto).
type demoFlag struct{ mode *DemoMode }

func (d *demoFlag) String() string {
	if d.mode == nil {
		return ""
	}
	return d.mode.String()
}

func (d *demoFlag) Set(s string) error {
	if strings.EqualFold(s, "auto") {
		*d.mode = DemoAuto
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*d.mode = DemoOff
	if b {
		*d.mode = DemoOn
	}
	return nil
}

func (d *demoFlag) IsBoolFlag() bool { return true }

func (d *demoFlag) want() string { return "true, false or auto" }
