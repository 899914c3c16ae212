package doctor

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearer adds the token to every request and remembers the last refusal,
// so that a failed call can be explained by its status and challenge.
type bearer struct {
	token string
	next  http.RoundTripper

	mu      sync.Mutex
	refusal string
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := b.next.RoundTrip(r)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil && resp.StatusCode >= 400 {
		b.refusal = fmt.Sprintf("HTTP %d", resp.StatusCode)
		if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
			b.refusal += ", WWW-Authenticate: " + ch
		}
	}
	return resp, err
}

// checkToolsList lists the tools with the token, as a 2025-11-25 client
// (initialize first) and as a 2026-07-28 one (server/discover, falling
// back to initialize when the server does not speak it).
func (d *doctor) checkToolsList() {
	base := d.client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		name := "tools/list " + version
		b := &bearer{token: d.opts.Token, next: base}
		httpClient := &http.Client{Transport: b, Timeout: d.client.Timeout}
		ctx, cancel := context.WithCancel(d.ctx)
		client := mcp.NewClient(&mcp.Implementation{Name: "orgscope-doctor", Version: "1"}, nil)
		session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: d.endpoint.String(), HTTPClient: httpClient, MaxRetries: -1},
			&mcp.ClientSessionOptions{ProtocolVersion: version})
		if err != nil {
			cancel()
			d.add(name, Fail, "connecting with the token: "+explain(err, b), tokenFix(b))
			continue
		}
		negotiated := session.InitializeResult().ProtocolVersion
		tools, err := session.ListTools(ctx, nil)
		session.Close()
		cancel()
		if err != nil {
			d.add(name, Fail, fmt.Sprintf("tools/list (protocol %s): %s", negotiated, explain(err, b)), tokenFix(b))
			continue
		}
		var names []string
		for _, t := range tools.Tools {
			names = append(names, t.Name)
		}
		detail := fmt.Sprintf("protocol %s, %d tool(s): %s", negotiated, len(names), strings.Join(names, " "))
		if negotiated != version {
			detail = fmt.Sprintf("the server answered %s to a %s client, which fell back as it should; ", negotiated, version) + detail
		}
		d.add(name, OK, detail, "")
	}
}

func explain(err error, b *bearer) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refusal != "" {
		return b.refusal + " (" + err.Error() + ")"
	}
	return err.Error()
}

func tokenFix(b *bearer) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case strings.HasPrefix(b.refusal, "HTTP 401"):
		return "the server refused the token: check its audience (the resource URL), issuer and expiry; the challenge's error_description says which"
	case strings.HasPrefix(b.refusal, "HTTP 403"):
		return "the token lacks a scope the call needs: the challenge's scope names it"
	}
	return ""
}
