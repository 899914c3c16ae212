package mcpserver

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/internal/request"
)

// TestLogFloodBounded: one request writes at most a few lines besides its
// access line, however many it provokes; lines of other requests and of no
// request are not held back.
func TestLogFloodBounded(t *testing.T) {
	var out strings.Builder
	logger := slog.New(LogHandler(slog.NewTextHandler(&out, nil)))
	flood := request.With(context.Background(), &request.Record{ID: "flood"})
	for range 1000 {
		logger.ErrorContext(flood, "handler failed", "err", "boom")
	}
	logger.InfoContext(context.WithValue(flood, accessLineKey{}, true), "request", "status", 400)
	logger.ErrorContext(request.With(context.Background(), &request.Record{ID: "other"}), "handler failed")
	logger.Error("no request")

	text := out.String()
	if n := strings.Count(text, "request_id=flood"); n != maxLogLinesPerRequest+2 {
		t.Errorf("the flooding request wrote %d lines, want %d (the budget, one notice, the access line):\n%s",
			n, maxLogLinesPerRequest+2, text)
	}
	if !strings.Contains(text, "further log lines of this request are suppressed") ||
		!strings.Contains(text, "msg=request") || !strings.Contains(text, "request_id=other") ||
		!strings.Contains(text, "no request") {
		t.Errorf("missing lines:\n%s", text)
	}
}
