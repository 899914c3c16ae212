package policy

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgscope/orgscope/authz"
)

// DefaultPollInterval is how often a policy file is checked for changes
// when Options.PollInterval is zero.
const DefaultPollInterval = 2 * time.Second

// Options configures New.
type Options struct {
	// File is the policy file; empty means the built-in policy, which
	// never changes.
	File string
	// PollInterval is how often Watch looks at File for a change; zero
	// means DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives reloads and refused files; nil discards.
	Logger *slog.Logger
	// Now is the clock policies see as context.time; nil means time.Now.
	Now func() time.Time
}

// Engine is the policy decision point: an authz.Authorizer that decides
// with the current policy set, which Reload replaces as a whole (a
// published set is never changed). Safe for concurrent use.
type Engine struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
	cur  atomic.Pointer[Set]
	// loadedAt is when the set in force was put in force.
	loadedAt atomic.Pointer[time.Time]

	mu       sync.Mutex // serializes reloads
	loaded   []byte     // the text of the current set, to skip unchanged files
	stamp    fileStamp
	onChange []func()

	reloads, failures atomic.Uint64
}

var _ authz.Authorizer = (*Engine)(nil)

// New loads the policy: opts.File, or the built-in one. A file that cannot
// be read, does not parse or does not validate is refused with an error
// naming the file, line and column (a *LoadError, for the latter two).
func New(opts Options) (*Engine, error) {
	e := &Engine{opts: opts, log: opts.Logger, now: opts.Now}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.opts.PollInterval == 0 {
		e.opts.PollInterval = DefaultPollInterval
	}
	if opts.File == "" {
		s, err := CompileBuiltin()
		if err != nil {
			return nil, err
		}
		e.put(s)
		e.loaded = builtinSource
		return e, nil
	}
	src, stamp, err := readFile(opts.File)
	if err != nil {
		return nil, err
	}
	s, err := Compile(opts.File, src)
	if err != nil {
		return nil, err
	}
	e.put(s)
	e.loaded, e.stamp = src, stamp
	return e, nil
}

// put puts s in force.
func (e *Engine) put(s *Set) {
	now := e.now()
	e.loadedAt.Store(&now)
	e.cur.Store(s)
}

// Info describes the policy in force, for the console.
type Info struct {
	// Name is the file it was read from, or BuiltinName.
	Name string
	// Version is the first 12 hex digits of the SHA-256 of its text: the
	// same text has the same version on every replica.
	Version string
	// LoadedAt is when this process put it in force (at start, or at the
	// reload that read it).
	LoadedAt time.Time
	// Policies are the ids of its policies, sorted.
	Policies []string
	// Source is its text.
	Source []byte
	// Reloads and Failures count this process's reloads since it started.
	Reloads, Failures uint64
}

// Info describes the policy in force.
func (e *Engine) Info() Info {
	s := e.cur.Load()
	st := e.Stats()
	return Info{Name: s.Name(), Version: s.Version(), LoadedAt: *e.loadedAt.Load(), Policies: s.IDs(), Source: s.Source(),
		Reloads: st.Reloads, Failures: st.Failures}
}

// Authorize implements authz.Authorizer with the current policy set.
func (e *Engine) Authorize(ctx context.Context, req authz.Request) authz.Decision {
	d, _ := e.cur.Load().decide(ctx, req, e.now())
	return d
}

// Current returns the policy set in force.
func (e *Engine) Current() *Set { return e.cur.Load() }

// OnChange registers fn to run after a reload that changed the policy (in
// the goroutine that reloaded). The server tells listening MCP clients that
// their tool list may have changed.
func (e *Engine) OnChange(fn func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onChange = append(e.onChange, fn)
}

// Reload reads the policy file again. A file that cannot be read or
// compiled changes nothing: the last good policy stays in force, and the
// error is logged, counted and returned. An unchanged file is not
// compiled again. The built-in policy has nothing to reload.
func (e *Engine) Reload() error {
	if e.opts.File == "" {
		return nil
	}
	e.mu.Lock()
	src, stamp, err := readFile(e.opts.File)
	if err == nil && bytes.Equal(src, e.loaded) {
		e.stamp = stamp
		e.mu.Unlock()
		return nil
	}
	var s *Set
	if err == nil {
		s, err = Compile(e.opts.File, src)
	}
	if err != nil {
		e.stamp = stamp // report a broken file once, not at every poll
		e.mu.Unlock()
		e.failures.Add(1)
		e.log.Error("policy file refused; the policy in force stays", "file", e.opts.File, "err", err)
		return err
	}
	e.put(s)
	e.loaded, e.stamp = src, stamp
	callbacks := append([]func(){}, e.onChange...)
	e.mu.Unlock()
	e.reloads.Add(1)
	e.log.Info("policy reloaded", "file", e.opts.File, "policies", len(s.policies))
	for _, fn := range callbacks {
		fn()
	}
	return nil
}

// Watch reloads the policy whenever its file changes (checked every
// PollInterval), until ctx ends. Without a file it returns at once.
func (e *Engine) Watch(ctx context.Context) {
	if e.opts.File == "" || e.opts.PollInterval < 0 {
		return
	}
	t := time.NewTicker(e.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := statFile(e.opts.File)
		e.mu.Lock()
		// A file that is gone is reported once, like a broken one.
		same := st.same(e.stamp) || (err != nil && e.stamp.info == nil)
		e.mu.Unlock()
		if !same {
			e.Reload()
		}
	}
}

// Stats counts reloads since the engine started.
type Stats struct {
	// Reloads that put a new policy in force; Failures that were refused.
	Reloads, Failures uint64
}

// Stats returns the reload counters.
func (e *Engine) Stats() Stats { return Stats{Reloads: e.reloads.Load(), Failures: e.failures.Load()} }

// fileStamp identifies a version of a file: the same file (inode; a file
// renamed over it is another), size and modification time.
type fileStamp struct{ info os.FileInfo }

func (s fileStamp) same(o fileStamp) bool {
	if s.info == nil || o.info == nil {
		return s.info == o.info
	}
	return os.SameFile(s.info, o.info) && s.info.Size() == o.info.Size() && s.info.ModTime().Equal(o.info.ModTime())
}

func statFile(name string) (fileStamp, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{info: fi}, nil
}

// maxPolicyBytes bounds a policy file.
const maxPolicyBytes = 4 << 20

func readFile(name string) ([]byte, fileStamp, error) {
	st, err := statFile(name)
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("policy file: %w", err)
	}
	if st.info.Size() > maxPolicyBytes {
		return nil, st, fmt.Errorf("policy file %s is larger than %d MiB", name, maxPolicyBytes>>20)
	}
	src, err := os.ReadFile(name)
	if err != nil {
		return nil, st, fmt.Errorf("policy file: %w", err)
	}
	return src, st, nil
}
