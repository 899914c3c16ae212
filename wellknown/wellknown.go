package wellknown

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// Well-known paths (RFC 8615).
const (
	ProtectedResourcePath = "/.well-known/oauth-protected-resource"
	AuthServerPath        = "/.well-known/oauth-authorization-server"
	OpenIDPath            = "/.well-known/openid-configuration"
)

// Documents are the discovery documents to serve.
type Documents struct {
	// Resource is the Protected Resource Metadata of the MCP endpoint. Its
	// Resource field is the canonical resource URI. Required.
	Resource *oauthex.ProtectedResourceMetadata
	// AuthServer is this server's own Authorization Server Metadata; nil in
	// external-issuer mode, where clients go to the issuer's own documents
	// (2026-07-28 clients refuse metadata whose issuer differs from where
	// it was fetched, so mirroring an external issuer's would break them).
	AuthServer *oauthex.AuthServerMeta
}

// ResourceMetadataURL returns where the PRM of resource is served: the
// well-known prefix inserted before the resource's path (RFC 9728 §3.1), e.g.
// https://h/mcp → https://h/.well-known/oauth-protected-resource/mcp.
func ResourceMetadataURL(resource string) (string, error) {
	u, err := url.Parse(resource)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("wellknown: resource %q is not an absolute URL", resource)
	}
	return u.Scheme + "://" + u.Host + ProtectedResourcePath + strings.TrimSuffix(u.EscapedPath(), "/"), nil
}

// Mount registers the documents on mux: the PRM at its path-inserted URL and
// at the root variant (clients that probe the root find the same document),
// and the AS metadata at the RFC 8414 path and, as an OpenID Connect
// Discovery document, at the OIDC path.
func Mount(mux *http.ServeMux, docs Documents) error {
	if docs.Resource == nil || docs.Resource.Resource == "" {
		return fmt.Errorf("wellknown: Resource metadata with a resource URI is required")
	}
	u, err := url.Parse(docs.Resource.Resource)
	if err != nil {
		return fmt.Errorf("wellknown: %w", err)
	}
	prm, err := documentHandler(docs.Resource)
	if err != nil {
		return err
	}
	mux.Handle(ProtectedResourcePath+strings.TrimSuffix(u.EscapedPath(), "/"), prm)
	if u.EscapedPath() != "" && u.EscapedPath() != "/" {
		mux.Handle(ProtectedResourcePath, prm)
	}
	if docs.AuthServer != nil {
		as, err := AuthServerHandler(docs.AuthServer)
		if err != nil {
			return err
		}
		oidc, err := OpenIDHandler(docs.AuthServer)
		if err != nil {
			return err
		}
		mux.Handle(AuthServerPath, as)
		mux.Handle(OpenIDPath, oidc)
	}
	return nil
}

// AuthServerHandler serves RFC 8414 metadata (the go-sdk has the type but no
// handler).
func AuthServerHandler(meta *oauthex.AuthServerMeta) (http.Handler, error) {
	return documentHandler(meta)
}

// OpenIDHandler serves meta as an OpenID Connect Discovery 1.0 document:
// the RFC 8414 members plus the two that OpenID Discovery requires and RFC
// 8414 does not. OrgScope issues no ID tokens, and the document says so
// the way OpenID Discovery allows: "openid" is not among scopes_supported,
// no response type yields an id_token, and there is no userinfo_endpoint.
// The two required members carry the values that would hold if it did:
// subjects are the same for every client ("public"), and RS256 — which
// the specification requires every OpenID Provider to list — is the
// algorithm OrgScope signs with.
func OpenIDHandler(meta *oauthex.AuthServerMeta) (http.Handler, error) {
	raw, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("wellknown: encode metadata: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("wellknown: encode metadata: %w", err)
	}
	doc["subject_types_supported"] = []string{"public"}
	doc["id_token_signing_alg_values_supported"] = []string{"RS256"}
	return documentHandler(doc)
}

// Headers of the documents' CORS answers: any origin may read them (they
// are public), with the headers MCP clients send — the TypeScript SDK adds
// MCP-Protocol-Version to its discovery requests.
const (
	documentMethods      = "GET, HEAD, OPTIONS"
	documentAllowHeaders = "Content-Type, MCP-Protocol-Version"
)

// documentHandler serves v, encoded once, to GET and HEAD, answers CORS
// preflights, and refuses other methods with 405 and Allow.
func documentHandler(v any) (http.Handler, error) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("wellknown: encode metadata: %w", err)
	}
	body = append(body, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", documentMethods)
		h.Set("Access-Control-Allow-Headers", documentAllowHeaders)
		h.Set("Access-Control-Max-Age", "7200")
		switch r.Method {
		case http.MethodOptions:
			h.Set("Allow", documentMethods)
			w.WriteHeader(http.StatusNoContent)
		case http.MethodGet, http.MethodHead:
			// Clients and proxies may keep the documents for an hour.
			h.Set("Cache-Control", "public, max-age=3600")
			h.Set("Content-Type", "application/json")
			w.Write(body)
		default:
			h.Set("Allow", documentMethods)
			http.Error(w, "Method not allowed: use GET", http.StatusMethodNotAllowed)
		}
	}), nil
}
