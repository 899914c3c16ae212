package mcpserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/orgscope/orgscope/internal/problem"
	"github.com/orgscope/orgscope/internal/request"
)

// readCalls reads the body of a POST once (at most limit bytes, 413
// beyond), strictly (see readRPC), and records its calls in the request
// record; everything after it — the scope check, the decision point, the
// log, the audit trail — reads them from there. It refuses a body whose
// Mcp-Method or Mcp-Name header disagrees with it (400, -32020), and gives
// the go-sdk ids it will echo byte for byte (see substituteIDs).
func readCalls(limit int64, maxBatch int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				problem.Error(w, http.StatusRequestEntityTooLarge, "the request body is larger than the server accepts")
				return
			}
			problem.Error(w, http.StatusBadRequest, "the request body could not be read")
			return
		}
		parsed, perr := readRPC(body, maxBatch)
		if perr != nil {
			writeJSONRPCError(w, http.StatusBadRequest, perr.id, perr.code, perr.message)
			return
		}
		if !parsed.batch {
			if msg := headerMismatch(r.Header, parsed.messages[0]); msg != "" {
				writeJSONRPCError(w, http.StatusBadRequest, parsed.messages[0].id, codeHeaderMismatch, msg)
				return
			}
			if m := parsed.messages[0]; m.method == "tools/call" && r.Header.Get("Mcp-Name") != "" && isPlainHeader(m.tool) {
				// The go-sdk compares Mcp-Name with the body without decoding
				// the =?base64?…?= form; hand it the plain name just checked.
				r.Header.Set("Mcp-Name", m.tool)
			}
		}

		rec := recordOf(r.Context())
		listen := false
		for _, m := range parsed.messages {
			rec.Calls = append(rec.Calls, request.Call{ID: idText(m.id), Method: m.method, Tool: m.tool, Arguments: m.arguments})
			if rec.TraceID == "" {
				rec.TraceID = traceIDFromMeta(m.meta)
			}
			listen = listen || m.method == "subscriptions/listen"
		}
		if listen {
			// A listen stream stays open for as long as the client wants
			// notifications; the server's write timeout is for answers.
			http.NewResponseController(w).SetWriteDeadline(time.Time{})
		}
		body, ids := substituteIDs(body, parsed.messages)
		if len(ids) > 0 {
			w = &idRestorer{ResponseWriter: w, ids: ids}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// headerMismatch compares the 2026-07-28 routing headers with the body. A
// header value outside visible ASCII, or a base64 form that does not
// decode, is refused too (SEP-2243 encodes such names as =?base64?…?=).
func headerMismatch(h http.Header, m rpcMessage) string {
	if v, ok := h["Mcp-Method"]; ok {
		method, valid := decodeHeaderValue(strings.Join(v, ","))
		switch {
		case !valid:
			return "the Mcp-Method header holds characters a header may not carry; base64-encode it as =?base64?…?="
		case method != m.method:
			return "the Mcp-Method header does not match the method in the request body"
		}
	}
	if v, ok := h["Mcp-Name"]; ok && m.method == "tools/call" {
		name, valid := decodeHeaderValue(strings.Join(v, ","))
		switch {
		case !valid:
			return "the Mcp-Name header holds characters a header may not carry; base64-encode it as =?base64?…?="
		case name != m.tool:
			return "the Mcp-Name header does not match the tool name in the request body"
		}
	}
	return ""
}

// decodeHeaderValue reads a SEP-2243 header value: visible ASCII without
// surrounding blanks, or =?base64?…?= around the base64 of any string.
func decodeHeaderValue(v string) (string, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", false
		}
	}
	if inner, ok := strings.CutPrefix(v, "=?base64?"); ok {
		if inner, ok = strings.CutSuffix(inner, "?="); ok {
			b, err := base64.StdEncoding.DecodeString(inner)
			if err != nil {
				return "", false
			}
			return string(b), true
		}
	}
	if v != strings.Trim(v, " \t") {
		return "", false
	}
	return v, true
}

// isPlainHeader reports whether s can be a header value as it is.
func isPlainHeader(s string) bool {
	v, ok := decodeHeaderValue(s)
	return ok && v == s && !strings.HasPrefix(s, "=?base64?")
}

// traceIDFromMeta reads the trace id of a W3C traceparent in params._meta
// (the MCP convention for propagating traces), or "".
// idText is a raw JSON-RPC id as text: a string unquoted, a number as sent.
func idText(raw []byte) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func traceIDFromMeta(meta []byte) string {
	if len(meta) == 0 {
		return ""
	}
	var m struct {
		TraceParent string `json:"traceparent"`
	}
	if json.Unmarshal(meta, &m) != nil {
		return ""
	}
	return traceIDFromParent(m.TraceParent)
}

// traceIDFromParent returns the trace id of a W3C traceparent (Trace
// Context §3.2), or "" when it is not a valid one. The TraceContext
// propagator that continues traces when tracing is on judges it, so that
// without tracing the log and the audit trail name exactly the traces a
// tracer would have continued — not one of a traceparent with a zero or
// non-hex parent id, bad flags or a fifth field on version 00.
func traceIDFromParent(tp string) string {
	if tp == "" {
		return ""
	}
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), traceparentCarrier(tp)))
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// traceparentCarrier carries one traceparent and nothing else.
type traceparentCarrier string

func (c traceparentCarrier) Get(key string) string {
	if key == "traceparent" {
		return string(c)
	}
	return ""
}

func (traceparentCarrier) Set(string, string) {}

func (traceparentCarrier) Keys() []string { return []string{"traceparent"} }

// substituteIDs replaces every id the go-sdk would not echo byte for byte
// (it reads numbers as float64 and re-encodes strings, so 2^64 or "\u0041"
// come back changed) with a random placeholder string, and returns the new
// body and what each placeholder stands for. Ids that survive the round
// trip — small integers and plain strings, what clients send — are left
// alone, and cost nothing.
func substituteIDs(body []byte, msgs []rpcMessage) ([]byte, map[string][]byte) {
	var ids map[string][]byte
	var out []byte
	last := 0
	for _, m := range msgs {
		if m.id == nil || plainID.Match(m.id) {
			continue
		}
		if ids == nil {
			ids = map[string][]byte{}
			out = make([]byte, 0, len(body)+32*len(msgs))
		}
		placeholder := newPlaceholder()
		ids[placeholder] = bytes.Clone(m.id)
		out = append(out, body[last:m.idStart]...)
		out = append(out, placeholder...)
		last = m.idStart + len(m.id)
	}
	if ids == nil {
		return body, nil
	}
	return append(out, body[last:]...), ids
}

// newPlaceholder is a JSON string no client could have chosen.
func newPlaceholder() string {
	b := make([]byte, 12)
	rand.Read(b)
	return `"orgscope-id-` + hex.EncodeToString(b) + `"`
}

// idRestorer puts the client's ids back into the answer. The go-sdk writes
// each JSON-RPC message (or SSE event) with one Write, so a placeholder is
// never split between two.
type idRestorer struct {
	http.ResponseWriter
	ids map[string][]byte
}

func (w *idRestorer) WriteHeader(code int) {
	w.Header().Del("Content-Length") // the ids may change the length
	w.ResponseWriter.WriteHeader(code)
}

func (w *idRestorer) Write(p []byte) (int, error) {
	out := p
	for placeholder, id := range w.ids {
		if bytes.Contains(out, []byte(placeholder)) {
			out = bytes.ReplaceAll(out, []byte(placeholder), id)
		}
	}
	if _, err := w.ResponseWriter.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *idRestorer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *idRestorer) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// writeJSONRPCError answers a request the go-sdk never sees.
func writeJSONRPCError(w http.ResponseWriter, status int, id []byte, code int, message string) {
	if len(id) == 0 {
		id = []byte("null")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0",
		"id":      json.RawMessage(id),
		"error":   map[string]any{"code": code, "message": message},
	})
}

// recordOf returns the request's record; readCalls and everything behind
// it run inside observe, which makes it.
func recordOf(ctx context.Context) *request.Record {
	if rec := request.From(ctx); rec != nil {
		return rec
	}
	return &request.Record{}
}
