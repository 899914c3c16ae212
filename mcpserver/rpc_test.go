package mcpserver

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// dispatcher is a go-sdk server, configured like OrgScope's, whose tools
// record the name the go-sdk dispatched.
type dispatcher struct {
	handler http.Handler
	mu      sync.Mutex
	called  []string
}

func newDispatcher() *dispatcher {
	d := &dispatcher{}
	s := mcp.NewServer(&mcp.Implementation{Name: "fuzz"}, nil)
	for _, name := range []string{"whoami", "delete_user", "Delete_User", "list_users"} {
		s.AddTool(&mcp.Tool{Name: name, InputSchema: map[string]any{"type": "object"}},
			func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				d.mu.Lock()
				d.called = append(d.called, req.Params.Name)
				d.mu.Unlock()
				return &mcp.CallToolResult{}, nil
			})
	}
	d.handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, DisableLocalhostProtection: true})
	return d
}

// dispatch posts body to the go-sdk and returns the tools it ran.
func (d *dispatcher) dispatch(body []byte) []string {
	d.mu.Lock()
	d.called = nil
	d.mu.Unlock()
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/mcp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-03-26")
	d.handler.ServeHTTP(httptest.NewRecorder(), req)
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.called...)
}

// FuzzToolNameAgreement: whenever OrgScope's reading of a body accepts it,
// every tool the go-sdk dispatches for that body is one OrgScope read —
// the tool that was checked, logged and audited is the tool that ran.
func FuzzToolNameAgreement(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","Name":"delete_user"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"delete_user","name":"whoami"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"delete_user"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"},"PARAMS":{"name":"delete_user"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call","params":{"name":"delete_user"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_user"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_users"}}]`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_\u0075ser"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"Delete_User"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami\u0000"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_user"},"params":{"name":"whoami"}}`,
	} {
		f.Add([]byte(seed))
	}
	d := newDispatcher()
	f.Fuzz(func(t *testing.T, body []byte) {
		parsed, err := readRPC(body, DefaultMaxBatch)
		if err != nil {
			return // refused: the go-sdk never sees it
		}
		read := map[string]bool{}
		for _, m := range parsed.messages {
			if m.method == "tools/call" {
				read[m.tool] = true
			}
		}
		for _, ran := range d.dispatch(body) {
			if !read[ran] {
				t.Fatalf("the go-sdk ran %q, which OrgScope did not read in %q (read: %v)", ran, body, read)
			}
		}
	})
}
