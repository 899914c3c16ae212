package authserver

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestWriterKeepsRFC6749Characters: whatever a refusal's text holds, the
// one writer of OAuth errors sends only what RFC 6749 §5.2 allows.
func TestWriterKeepsRFC6749Characters(t *testing.T) {
	rec := httptest.NewRecorder()
	writeOAuthError(rec, &oauthError{status: 400, code: `bad"code`, description: "say \"hi\" \\ café\n\x7f<ok>"})
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body["error"] != "bad'code" || body["error_description"] != "say 'hi' / caf???<ok>" {
		t.Errorf("%q", body)
	}
}

// TestBucketsForgetRefilled: a bucket that has refilled is dropped, so
// the limiter holds only addresses that spent something recently.
func TestBucketsForgetRefilled(t *testing.T) {
	b := newBuckets(RateLimit{PerSecond: 1, Burst: 5})
	now := time.Now()
	for i := range 1000 {
		b.take("192.0.2."+strconv.Itoa(i), now)
	}
	if n := b.size(); n != 1000 {
		t.Fatalf("%d buckets", n)
	}
	now = now.Add(2 * time.Minute)
	b.take("198.51.100.1", now)
	if n := b.size(); n != 1 {
		t.Errorf("%d buckets after every other one refilled, want 1", n)
	}
}

// TestSlots: a key holds at most max live slots; a slot frees when
// released or expired, and a key with none left is forgotten.
func TestSlots(t *testing.T) {
	s := newSlots(2, time.Minute)
	now := time.Now()
	for _, id := range []string{"a", "b"} {
		if ok, _ := s.take("k", id, now); !ok {
			t.Fatalf("slot %s refused", id)
		}
	}
	if ok, wait := s.take("k", "c", now.Add(10*time.Second)); ok || wait != 50*time.Second {
		t.Errorf("third slot: %v, wait %v", ok, wait)
	}
	s.release("a")
	if ok, _ := s.take("k", "c", now); !ok {
		t.Error("a released slot was not freed")
	}
	if ok, _ := s.take("k", "d", now.Add(time.Minute)); !ok {
		t.Error("expired slots were not freed")
	}
	s.release("d")
	s.take("other", "e", now.Add(3*time.Minute))
	if len(s.byKey) != 1 || len(s.keyOf) != 1 {
		t.Errorf("expired keys kept: %v %v", s.byKey, s.keyOf)
	}
	if newSlots(-1, time.Minute) != nil {
		t.Error("a negative max should mean no limit")
	}
}
