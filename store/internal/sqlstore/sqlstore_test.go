package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

func TestNumberPlaceholders(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT 1`: `SELECT 1`,
		`a = ? AND b LIKE ? ESCAPE '\' AND c = ?`:     `a = $1 AND b LIKE $2 ESCAPE '\' AND c = $3`,
		`x = '?' AND "we?rd" = ? AND (t, i) < (?, ?)`: `x = '?' AND "we?rd" = $1 AND (t, i) < ($2, $3)`,
	} {
		if got := numberPlaceholders(in); got != want {
			t.Errorf("numberPlaceholders(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeDialect classifies one driver error; the rest of Dialect is unused.
type fakeDialect struct{ Dialect }

var errDriverConflict = errors.New("driver: duplicate key")

func (fakeDialect) Name() string { return "fake" }
func (fakeDialect) Classify(err error) error {
	if errors.Is(err, errDriverConflict) {
		return store.ErrConflict
	}
	return nil
}

func TestFail(t *testing.T) {
	sh := &shared{d: fakeDialect{}, timeout: time.Second}
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	other := errors.New("something else")
	for _, c := range []struct {
		ctx  context.Context
		err  error
		want error // nil: no store error
	}{
		{context.Background(), errDriverConflict, store.ErrConflict},
		{context.Background(), fmt.Errorf("wrapped: %w", store.ErrReplayed), store.ErrReplayed},
		{context.Background(), store.ErrLimitReached, store.ErrLimitReached},
		{expired, other, store.ErrUnavailable},          // the call ran out of time
		{expired, errDriverConflict, store.ErrConflict}, // the driver's answer wins
		{cancelled, context.Canceled, nil},              // the caller went away
		{context.Background(), other, nil},
	} {
		got := sh.fail(c.ctx, "op", c.err)
		if !errors.Is(got, c.err) {
			t.Errorf("fail(%v) = %v, which lost the cause", c.err, got)
		}
		for _, kind := range storeErrors {
			if errors.Is(got, kind) != (kind == c.want) {
				t.Errorf("fail(%v) = %v: errors.Is(%v) = %v", c.err, got, kind, !(kind == c.want))
			}
		}
	}
	if sh.fail(context.Background(), "op", nil) != nil {
		t.Error("fail(nil) is not nil")
	}
}
