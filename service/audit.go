package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/orgscope/orgscope/store"
)

// auditWriter records the events that are not part of a change's own
// transaction — reads, refusals, failed writes — with group commit: each
// caller waits until its event is committed, and events that arrive while
// a transaction commits go together into the next. On SQLite, whose one
// writer serialises every write, this keeps an audited read from costing a
// transaction of its own.
type auditWriter struct {
	store store.Store
	log   *slog.Logger

	queue chan pendingEvent
	done  chan struct{}
	once  sync.Once
	mu    sync.RWMutex // held for reading while enqueuing; close takes it for writing
	shut  bool
}

type pendingEvent struct {
	ev     store.AuditEvent
	result chan error
}

// maxAuditBatch bounds the events one transaction commits.
const maxAuditBatch = 256

// auditTimeout bounds one batch's transaction, whatever the callers'
// contexts: the batch serves many callers at once.
const auditTimeout = 10 * time.Second

func newAuditWriter(st store.Store, log *slog.Logger) *auditWriter {
	w := &auditWriter{store: st, log: log, queue: make(chan pendingEvent, maxAuditBatch), done: make(chan struct{})}
	go w.loop()
	return w
}

var errAuditClosed = errors.New("service: closed")

// record writes ev and returns once it is committed (or failed).
func (w *auditWriter) record(ctx context.Context, ev store.AuditEvent) error {
	p := pendingEvent{ev: ev, result: make(chan error, 1)}
	w.mu.RLock()
	if w.shut {
		w.mu.RUnlock()
		return errAuditClosed
	}
	select {
	case w.queue <- p:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-p.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *auditWriter) loop() {
	defer close(w.done)
	for first := range w.queue {
		batch := []pendingEvent{first}
	more:
		for len(batch) < maxAuditBatch {
			select {
			case p, ok := <-w.queue:
				if !ok {
					break more
				}
				batch = append(batch, p)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), auditTimeout)
		err := w.store.InTx(ctx, func(tx store.Tx) error {
			for _, p := range batch {
				if err := tx.AppendAuditEvent(ctx, p.ev); err != nil {
					return err
				}
			}
			return nil
		})
		cancel()
		for _, p := range batch {
			p.result <- err
		}
	}
}

// close lets queued events commit, then stops the writer.
func (w *auditWriter) close() {
	w.once.Do(func() {
		w.mu.Lock()
		w.shut = true
		close(w.queue)
		w.mu.Unlock()
		<-w.done
	})
}

// canonicalArgs returns an operation's input as JSON values (objects as
// maps, numbers exact) for the decision point, the hex SHA-256 of its
// canonical JSON — object members sorted by name, no insignificant
// whitespace — and that JSON. The hash identifies the arguments in the
// audit trail without keeping them.
func canonicalArgs(in any) (args map[string]any, hash string, canonical []byte) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, "", nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, "", nil
	}
	if canonical, err = json.Marshal(v); err != nil { // maps marshal with sorted keys
		return nil, "", nil
	}
	sum := sha256.Sum256(canonical)
	args, _ = v.(map[string]any)
	if args == nil {
		args = map[string]any{}
	}
	return args, hex.EncodeToString(sum[:]), canonical
}

// HashArguments is the params_sha256 of raw JSON arguments: the hex
// SHA-256 of their canonical form (members sorted, no whitespace, numbers
// as written), or of the bytes themselves when they are not JSON. Absent
// arguments hash as an empty object.
func HashArguments(raw []byte) string {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) == nil {
		if canonical, err := json.Marshal(v); err == nil {
			raw = canonical
		}
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
