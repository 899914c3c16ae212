package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

// TestKeySchedule walks one rotation and one emergency through time.
func TestKeySchedule(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	first := store.SigningKey{ID: "k1", CreatedAt: t0}                                               // at first start: signs at once
	second := store.SigningKey{ID: "k2", CreatedAt: at(time.Hour), ActivateAt: at(70 * time.Minute), // rotated: 10 min overlap
		RetirePreviousAt: at(131 * time.Minute)} // + a token lifetime of 1 h and a minute's margin
	third := store.SigningKey{ID: "k3", CreatedAt: at(3 * time.Hour)} // no schedule: signs at once, k2 retires at once

	render := func(keys []store.SigningKey, now time.Time) string {
		var parts []string
		for _, s := range store.KeySchedule(keys, now) {
			p := s.Key.ID + ":" + string(s.State)
			if !s.RetireAfter.IsZero() {
				p += fmt.Sprintf("@%s", s.RetireAfter.Sub(t0))
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		keys []store.SigningKey
		now  time.Duration
		want string
	}{
		{[]store.SigningKey{first}, 0, "k1:active"},
		{[]store.SigningKey{first, second}, time.Hour, "k2:next k1:active@2h11m0s"},
		{[]store.SigningKey{second, first}, 69 * time.Minute, "k2:next k1:active@2h11m0s"},
		{[]store.SigningKey{first, second}, 70 * time.Minute, "k2:active k1:retiring@2h11m0s"},
		{[]store.SigningKey{first, second}, 131 * time.Minute, "k2:active k1:retired@2h11m0s"},
		{[]store.SigningKey{first, second, third}, 3 * time.Hour, "k3:active k2:retired@3h0m0s k1:retired@2h11m0s"},
		// Two keys made in the same instant: the id decides, on every replica alike.
		{[]store.SigningKey{{ID: "b", CreatedAt: t0}, {ID: "a", CreatedAt: t0}}, 0, "b:active a:retired@0s"},
	} {
		if got := render(tc.keys, at(tc.now)); got != tc.want {
			t.Errorf("at +%s: %s; want %s", tc.now, got, tc.want)
		}
	}
}
