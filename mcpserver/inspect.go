package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/orgscope/orgscope/internal/problem"
	"github.com/orgscope/orgscope/tools"
)

// operation is what a POST to /mcp asks for, read before authentication so
// that a missing scope is refused with 403 before anything is dispatched.
type operation struct {
	// tools are the known tools the request calls (one per tools/call).
	tools []tools.Spec
}

type operationKey struct{}

// scopesOf returns every scope the request's tool calls need.
func scopesOf(r *http.Request) []string {
	op, _ := r.Context().Value(operationKey{}).(*operation)
	if op == nil {
		return nil
	}
	var scopes []string
	for _, t := range op.tools {
		for _, s := range t.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	return scopes
}

// jsonrpcCall is the part of a JSON-RPC message the inspection reads.
type jsonrpcCall struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Name string `json:"name"`
	} `json:"params"`
}

// JSON-RPC error code for a header that disagrees with the body (MCP
// 2026-07-28, SEP-2243).
const codeHeaderMismatch = -32020

// inspect reads the body of a POST (at most limit bytes, 413 beyond),
// records which tools it calls, and refuses a request whose Mcp-Method or
// Mcp-Name header disagrees with its body. The tool name is taken from the
// body, which is what the go-sdk dispatches on; the headers (sent by
// 2026-07-28 clients) must then agree with it. A body that is not JSON-RPC
// is passed on for the go-sdk to answer.
func inspect(limit int64, next http.Handler) http.Handler {
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
		r.Body = io.NopCloser(bytes.NewReader(body))

		calls := decodeCalls(body)
		op := &operation{}
		for _, c := range calls {
			if c.Method != "tools/call" {
				continue
			}
			if spec, ok := tools.Lookup(c.Params.Name); ok {
				op.tools = append(op.tools, spec)
			}
		}
		if len(calls) == 1 {
			if msg := headerMismatch(r.Header, calls[0]); msg != "" {
				writeJSONRPCError(w, http.StatusBadRequest, calls[0].ID, codeHeaderMismatch, msg)
				return
			}
			if info, ok := r.Context().Value(requestLogKey{}).(*requestLog); ok && len(op.tools) == 1 {
				info.tool = op.tools[0].Name
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), operationKey{}, op)))
	})
}

// decodeCalls decodes one JSON-RPC message or a batch; nil if neither.
func decodeCalls(body []byte) []jsonrpcCall {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] == '[' {
		var batch []jsonrpcCall
		if json.Unmarshal(body, &batch) != nil {
			return nil
		}
		return batch
	}
	var one jsonrpcCall
	if json.Unmarshal(body, &one) != nil {
		return nil
	}
	return []jsonrpcCall{one}
}

// headerMismatch compares the 2026-07-28 routing headers with the body.
func headerMismatch(h http.Header, c jsonrpcCall) string {
	if m := h.Get("Mcp-Method"); m != "" && m != c.Method {
		return "the Mcp-Method header does not match the method in the request body"
	}
	if n := h.Get("Mcp-Name"); n != "" && c.Method == "tools/call" && n != c.Params.Name {
		return "the Mcp-Name header does not match the tool name in the request body"
	}
	return ""
}

func writeJSONRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, message string) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0",
		"id":      id,
		"error":   map[string]any{"code": code, "message": message},
	})
}
