package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"runtime"
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
//
// The event of a call that failed because the store is unavailable is
// handed over without waiting (detach): the call is answered 503 at once,
// within the store's deadline, rather than after a second deadline spent
// failing to write its event. Such events are held and written, in a
// goroutine of their own, as soon as the store answers again — after a
// batch commits, or at retries spaced from auditRetryMin to auditRetryMax.
// One held longer than auditHoldFor, or pushed out of a full hold
// (maxHeldEvents), is logged as lost, with its id.
type auditWriter struct {
	store store.Store
	log   *slog.Logger

	queue chan pendingEvent
	done  chan struct{}
	once  sync.Once
	mu    sync.RWMutex // held for reading while enqueuing; close takes it for writing
	shut  bool

	// The hold of detached events, and its retrier.
	holdMu      sync.Mutex
	held        []heldEvent
	wake        chan struct{} // buffered: the store answered, or events were detached
	stopRetry   chan struct{}
	retrierDone chan struct{}
	// failing is set while the last write of held events failed: detaching
	// then does not wake the retrier, which waits for its next retry.
	failing bool
}

type pendingEvent struct {
	ev     store.AuditEvent
	result chan error
}

type heldEvent struct {
	ev    store.AuditEvent
	since time.Time
}

// maxAuditBatch bounds the events one transaction commits.
const maxAuditBatch = 256

// auditTimeout bounds one batch's transaction, whatever the callers'
// contexts: the batch serves many callers at once.
const auditTimeout = 10 * time.Second

// The hold of detached events: how many, for how long, and how often their
// write is retried while the store does not answer.
var (
	maxHeldEvents = 10_000
	auditHoldFor  = 15 * time.Minute
	auditRetryMin = time.Second
	auditRetryMax = 30 * time.Second
)

func newAuditWriter(st store.Store, log *slog.Logger) *auditWriter {
	w := &auditWriter{store: st, log: log, queue: make(chan pendingEvent, maxAuditBatch), done: make(chan struct{}),
		wake: make(chan struct{}, 1), stopRetry: make(chan struct{}), retrierDone: make(chan struct{})}
	go w.loop()
	go w.retrier()
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

// detach hands ev over without waiting, for a call the store failed: it is
// written once the store answers again, or logged as lost.
func (w *auditWriter) detach(ev store.AuditEvent) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.shut {
		w.lost(ev, "the service was closing")
		return
	}
	w.holdMu.Lock()
	if len(w.held) >= maxHeldEvents {
		w.lost(w.held[0].ev, "too many events were waiting for the store")
		w.held = w.held[1:]
	}
	w.held = append(w.held, heldEvent{ev: ev, since: time.Now()})
	failing := w.failing
	w.holdMu.Unlock()
	if !failing {
		w.nudge()
	}
}

// nudge wakes the retrier.
func (w *auditWriter) nudge() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *auditWriter) lost(ev store.AuditEvent, why string) {
	w.log.Error("audit event lost: the store did not answer", "why", why, "id", ev.ID, "time", ev.Time,
		"action", ev.Action, "org_code", ev.OrgCode, "client_id", ev.ClientID, "decision", ev.Decision,
		"outcome", ev.Outcome, "request_id", ev.RequestID)
}

func (w *auditWriter) loop() {
	defer close(w.done)
	for first := range w.queue {
		batch := []pendingEvent{first}
		// Let the goroutines that are ready to run (the other calls of a
		// busy server) hand in their events before this batch is taken:
		// one commit writes the same pages for one event or for many,
		// and an idle server does not wait, since nothing else is ready.
		runtime.Gosched()
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
		events := make([]store.AuditEvent, len(batch))
		for i, p := range batch {
			events[i] = p.ev
		}
		err := w.write(events)
		for _, p := range batch {
			p.result <- err
		}
		if err == nil {
			// The store answers: held events may go now.
			w.holdMu.Lock()
			w.failing = false
			pending := len(w.held) > 0
			w.holdMu.Unlock()
			if pending {
				w.nudge()
			}
		}
	}
}

// write commits events in one transaction.
func (w *auditWriter) write(events []store.AuditEvent) error {
	ctx, cancel := context.WithTimeout(context.Background(), auditTimeout)
	defer cancel()
	return w.store.InTx(ctx, func(tx store.Tx) error {
		for _, ev := range events {
			if err := tx.AppendAuditEvent(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// retrier writes held events when woken, and at retries spaced out while
// the store fails, until close; then it tries once more.
func (w *auditWriter) retrier() {
	defer close(w.retrierDone)
	backoff := auditRetryMin
	timer := time.NewTimer(backoff)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-w.wake:
		case <-timer.C:
		case <-w.stopRetry:
			w.flushHeld()
			return
		}
		if w.writeHeld() == nil {
			backoff = auditRetryMin
		} else {
			backoff = min(2*backoff, auditRetryMax)
		}
		w.holdMu.Lock()
		more, failing := len(w.held) > 0, w.failing
		w.holdMu.Unlock()
		switch {
		case more && !failing:
			w.nudge() // the next batch of them, at once
		case more:
			timer.Reset(backoff)
		}
	}
}

// writeHeld writes up to maxAuditBatch held events and drops them from the
// hold; on failure it keeps them, dropping those held too long as lost.
func (w *auditWriter) writeHeld() error {
	w.holdMu.Lock()
	batch := append([]heldEvent(nil), w.held[:min(len(w.held), maxAuditBatch)]...)
	w.holdMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	events := make([]store.AuditEvent, len(batch))
	for i, h := range batch {
		events[i] = h.ev
	}
	err := w.write(events)
	if errors.Is(err, store.ErrConflict) {
		// A commit whose answer was lost: some are stored already. One by
		// one, a conflict is an event that is there.
		err = nil
		for _, ev := range events {
			if e := w.write([]store.AuditEvent{ev}); e != nil && !errors.Is(e, store.ErrConflict) {
				err = e
				break
			}
		}
	}
	w.holdMu.Lock()
	defer w.holdMu.Unlock()
	written := map[string]bool{}
	if err == nil {
		for _, ev := range events {
			written[ev.ID] = true
		}
	}
	// Events may have been detached, or pushed out, meanwhile.
	kept := w.held[:0]
	for _, h := range w.held {
		switch {
		case written[h.ev.ID]:
		case err != nil && time.Since(h.since) > auditHoldFor:
			w.lost(h.ev, "held for longer than "+auditHoldFor.String())
		default:
			kept = append(kept, h)
		}
	}
	clear(w.held[len(kept):])
	w.held = kept
	w.failing = err != nil
	if err != nil {
		w.log.Warn("audit events waiting for the store", "events", len(kept), "err", err)
	}
	return err
}

// flushHeld tries the held events once more, at close, and logs those it
// cannot write as lost.
func (w *auditWriter) flushHeld() {
	for {
		w.holdMu.Lock()
		n := len(w.held)
		w.holdMu.Unlock()
		if n == 0 {
			return
		}
		if err := w.writeHeld(); err != nil {
			w.holdMu.Lock()
			for _, h := range w.held {
				w.lost(h.ev, "the service closed")
			}
			w.held = nil
			w.holdMu.Unlock()
			return
		}
	}
}

// close lets queued events commit, tries the held ones once more, then
// stops the writer.
func (w *auditWriter) close() {
	w.once.Do(func() {
		w.mu.Lock()
		w.shut = true
		close(w.queue)
		w.mu.Unlock()
		<-w.done
		close(w.stopRetry)
		<-w.retrierDone
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
