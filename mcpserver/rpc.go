package mcpserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// JSON-RPC error codes OrgScope answers with itself.
const (
	codeParseError     = -32700 // not JSON (JSON-RPC 2.0 §5.1)
	codeInvalidRequest = -32600 // JSON, but not a request we can read unambiguously
	codeHeaderMismatch = -32020 // a routing header disagrees with the body (MCP 2026-07-28, SEP-2243)
)

// rpcMessage is one JSON-RPC message of a request body, read once. What
// the scope check, the decision point, the access log and the audit trail
// see of a request comes from here, and the body is refused unless the
// go-sdk's own decoding can only find the same method, tool name and
// arguments (see readRPC).
type rpcMessage struct {
	// id is the raw id value, exactly as sent; nil for a notification.
	id []byte
	// idStart is where the id value starts in the body.
	idStart int
	method  string
	// tool is params.name of a tools/call.
	tool string
	// arguments is params.arguments, raw; meta is params._meta, raw.
	arguments []byte
	meta      []byte
}

// rpcBody is a POST body: one message, or a batch (2025-03-26 and older).
type rpcBody struct {
	batch    bool
	messages []rpcMessage
}

// rpcError is a body refused before anything reads it further.
type rpcError struct {
	code    int
	message string
	id      []byte // the id, when it could be read
}

func (e *rpcError) Error() string { return e.message }

// Names whose case-insensitive twins are refused: encoding/json matches
// object names case-insensitively and keeps the last of duplicates, the
// go-sdk matches exactly, and a body that reads differently to the two must
// not be served at all.
var (
	envelopeNames = []string{"jsonrpc", "id", "method", "params"}
	paramNames    = []string{"name", "arguments", "_meta"}
)

// readRPC reads a request body strictly: one JSON value and nothing after
// it, valid UTF-8, no duplicate object names at any depth (jsontext refuses
// them), no name that differs from a JSON-RPC or MCP name only in case, a
// string method and tool name, and at most maxBatch messages.
func readRPC(body []byte, maxBatch int) (rpcBody, *rpcError) {
	dec := jsontext.NewDecoder(bytes.NewBuffer(body))
	var out rpcBody
	switch dec.PeekKind() {
	case '{':
		m, err := readMessage(dec, body)
		if err != nil {
			return out, err
		}
		out.messages = []rpcMessage{m}
	case '[':
		out.batch = true
		if _, err := dec.ReadToken(); err != nil {
			return out, syntaxError(err)
		}
		for dec.PeekKind() != ']' {
			if dec.PeekKind() != '{' {
				if _, err := dec.ReadValue(); err != nil {
					return out, syntaxError(err)
				}
				return out, &rpcError{code: codeInvalidRequest, message: "every element of a batch must be a JSON-RPC object"}
			}
			if len(out.messages) == maxBatch {
				return out, &rpcError{code: codeInvalidRequest,
					message: fmt.Sprintf("a batch may hold at most %d messages; send the rest in further requests", maxBatch)}
			}
			m, err := readMessage(dec, body)
			if err != nil {
				return out, err
			}
			out.messages = append(out.messages, m)
		}
		if _, err := dec.ReadToken(); err != nil {
			return out, syntaxError(err)
		}
		if len(out.messages) == 0 {
			return out, &rpcError{code: codeInvalidRequest, message: "an empty batch is not a request"}
		}
	default:
		if _, err := dec.ReadValue(); err != nil {
			return out, syntaxError(err)
		}
		return out, &rpcError{code: codeInvalidRequest, message: "the body must be a JSON-RPC object (or a batch of them)"}
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return out, &rpcError{code: codeParseError, message: "the body holds data after the JSON-RPC message"}
	}
	return out, nil
}

// readMessage reads one JSON-RPC object.
func readMessage(dec *jsontext.Decoder, body []byte) (rpcMessage, *rpcError) {
	var m rpcMessage
	if _, err := dec.ReadToken(); err != nil { // {
		return m, syntaxError(err)
	}
	for dec.PeekKind() != '}' {
		name, err := readName(dec, envelopeNames)
		if err != nil {
			return m, withID(err, m.id)
		}
		switch name {
		case "id":
			v, err := dec.ReadValue()
			if err != nil {
				return m, syntaxError(err)
			}
			m.id = v
			m.idStart = int(dec.InputOffset()) - len(v)
			if k := v.Kind(); k != '"' && k != '0' && k != 'n' {
				return m, &rpcError{code: codeInvalidRequest, message: "id must be a string, a number or null"}
			}
		case "method":
			v, err := dec.ReadValue()
			if err != nil {
				return m, syntaxError(err)
			}
			if v.Kind() != '"' {
				return m, &rpcError{code: codeInvalidRequest, message: "method must be a string", id: m.id}
			}
			m.method = unquote(v)
		case "params":
			if dec.PeekKind() != '{' {
				if _, err := dec.ReadValue(); err != nil {
					return m, syntaxError(err)
				}
				continue // not an object: the go-sdk answers that
			}
			if err := readParams(dec, &m); err != nil {
				return m, withID(err, m.id)
			}
		default:
			if _, err := dec.ReadValue(); err != nil {
				return m, syntaxError(err)
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil { // }
		return m, syntaxError(err)
	}
	if m.method != "tools/call" {
		m.tool = ""
	}
	return m, nil
}

func readParams(dec *jsontext.Decoder, m *rpcMessage) *rpcError {
	if _, err := dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	for dec.PeekKind() != '}' {
		name, rerr := readName(dec, paramNames)
		if rerr != nil {
			return rerr
		}
		v, err := dec.ReadValue()
		if err != nil {
			return syntaxError(err)
		}
		switch name {
		case "name":
			if v.Kind() != '"' {
				return &rpcError{code: codeInvalidRequest, message: "params.name must be a string"}
			}
			m.tool = unquote(v)
		case "arguments":
			m.arguments = v
		case "_meta":
			m.meta = v
		}
	}
	_, err := dec.ReadToken()
	return syntaxError(err)
}

// readName reads an object member name and refuses a case-insensitive twin
// of one of known.
func readName(dec *jsontext.Decoder, known []string) (string, *rpcError) {
	tok, err := dec.ReadToken()
	if err != nil {
		return "", syntaxError(err)
	}
	name := tok.String()
	for _, k := range known {
		if name != k && strings.EqualFold(name, k) {
			return "", &rpcError{code: codeInvalidRequest,
				message: fmt.Sprintf("member %q differs from %q only in case; names are case-sensitive", name, k)}
		}
	}
	return name, nil
}

// syntaxError maps a jsontext error: duplicate names make an invalid
// request, anything else is not JSON.
func syntaxError(err error) *rpcError {
	if err == nil {
		return nil
	}
	if errors.Is(err, jsontext.ErrDuplicateName) {
		return &rpcError{code: codeInvalidRequest, message: "an object has the same member name twice"}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &rpcError{code: codeParseError, message: "the body ends before the JSON value does"}
	}
	return &rpcError{code: codeParseError, message: "the body is not valid JSON (or not valid UTF-8)"}
}

func withID(err *rpcError, id []byte) *rpcError {
	if err != nil && err.id == nil {
		err.id = id
	}
	return err
}

// unquote decodes a JSON string value known to be valid.
func unquote(v jsontext.Value) string {
	tok, err := jsontext.NewDecoder(bytes.NewReader(v)).ReadToken()
	if err != nil {
		return ""
	}
	return tok.String()
}

// plainID matches the ids the go-sdk echoes byte for byte: it reads every
// number as a float64 (so integers beyond 2^53, fractions and exponents come
// back changed) and re-encodes strings (so escapes come back changed).
var plainID = regexp.MustCompile(`^(?:0|-?[1-9][0-9]{0,14}|"[A-Za-z0-9._:~-]{0,200}"|null)$`)
