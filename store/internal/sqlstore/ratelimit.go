package sqlstore

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/orgscope/orgscope/store"
)

// A bucket is kept as GCRA keeps it (the generic cell rate algorithm, the
// token bucket written as one number): its theoretical arrival time, tat.
// Each token moves tat one period (1/rate) later; the bucket is full when
// tat is not after now, and holds (now + tolerance - max(tat, now)) /
// period tokens, tolerance being burst periods. Taking tokens is then one
// upsert that reads and moves tat under the row's lock, on both databases,
// with integer arithmetic (microseconds) that truncates alike in both.

// takeTokens is the upsert, written with named values that takeQuery
// expands: :base is max(tat, now), :avail the whole tokens there are,
// :granted what this call takes. A bucket never seen is inserted with the
// values Go computed for a full one.
const takeTokens = `INSERT INTO rate_buckets (bucket_key, tat_us, granted) VALUES (:key, :fresh_tat, :fresh_granted)
ON CONFLICT (bucket_key) DO UPDATE SET
    tat_us = :base + :granted * :period,
    granted = :granted
RETURNING tat_us, granted`

var takeMacros = []struct{ name, expansion string }{
	{":granted", `(CASE WHEN :avail < :need THEN 0 WHEN :avail > :want THEN :want ELSE :avail END)`},
	{":avail", `((:now + :tolerance - :base) / :period)`},
	{":base", `(CASE WHEN rate_buckets.tat_us > :now THEN rate_buckets.tat_us ELSE :now END)`},
}

// takeQuery is takeTokens with its macros expanded and every named value
// replaced by a ? placeholder; takeArgs names them in order.
var takeQuery, takeArgs = expandTakeTokens()

func expandTakeTokens() (string, []string) {
	q := takeTokens
	for _, m := range takeMacros {
		q = strings.ReplaceAll(q, m.name, m.expansion)
	}
	var b strings.Builder
	var names []string
	for {
		i := strings.IndexByte(q, ':')
		if i < 0 {
			b.WriteString(q)
			break
		}
		j := i + 1
		for j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z') {
			j++
		}
		name := q[i+1 : j]
		b.WriteString(q[:i])
		if name == "key" {
			b.WriteString("?")
		} else {
			// Typed, so that PostgreSQL knows the arithmetic is on bigint.
			b.WriteString("CAST(? AS BIGINT)")
		}
		names = append(names, name)
		q = q[j:]
	}
	return b.String(), names
}

// TakeTokens implements store.RateStore with one statement.
func (s *Store) TakeTokens(ctx context.Context, key string, limit store.RateLimit, need, want int) (store.RateTake, error) {
	if limit.PerSecond <= 0 || math.IsNaN(limit.PerSecond) || math.IsInf(limit.PerSecond, 0) || limit.Burst < 1 ||
		need < 1 || want < need {
		return store.RateTake{}, fmt.Errorf("%s: take tokens: invalid bucket %+v, need %d, want %d", s.d.Name(), limit, need, want)
	}
	period := max(1, int64(math.Round(1e6/limit.PerSecond)))
	tolerance := int64(limit.Burst) * period
	now := s.clock().UnixMicro()
	var fresh int64
	if need <= limit.Burst {
		fresh = int64(min(want, limit.Burst))
	}
	values := map[string]int64{
		"now": now, "period": period, "tolerance": tolerance, "need": int64(need), "want": int64(want),
		"fresh_tat": now + fresh*period, "fresh_granted": fresh,
	}
	args := make([]any, len(takeArgs))
	for i, name := range takeArgs {
		if name == "key" {
			args[i] = key
			continue
		}
		v, ok := values[name]
		if !ok {
			panic("sqlstore: take tokens: no value for :" + name)
		}
		args[i] = v
	}
	return call(&s.Queries, ctx, "take tokens", func(ctx context.Context) (store.RateTake, error) {
		var tat, granted int64
		if err := s.queryRow(ctx, s.write, takeQuery, args...).Scan(&tat, &granted); err != nil {
			return store.RateTake{}, err
		}
		debt := max(0, tat-now)
		take := store.RateTake{
			Taken:     int(granted),
			Remaining: int(max(0, min(int64(limit.Burst), (tolerance-debt)/period))),
			Full:      time.Duration(debt) * time.Microsecond,
		}
		if granted == 0 {
			take.Wait = time.Duration(max(0, debt+int64(need)*period-tolerance)) * time.Microsecond
		}
		return take, nil
	})
}
