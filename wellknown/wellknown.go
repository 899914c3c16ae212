package wellknown

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"
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
// and the AS metadata at both RFC 8414 and OIDC discovery paths.
func Mount(mux *http.ServeMux, docs Documents) error {
	if docs.Resource == nil || docs.Resource.Resource == "" {
		return fmt.Errorf("wellknown: Resource metadata with a resource URI is required")
	}
	u, err := url.Parse(docs.Resource.Resource)
	if err != nil {
		return fmt.Errorf("wellknown: %w", err)
	}
	prm := cacheable(mcpauth.ProtectedResourceMetadataHandler(docs.Resource))
	mux.Handle(ProtectedResourcePath+strings.TrimSuffix(u.EscapedPath(), "/"), prm)
	if u.EscapedPath() != "" && u.EscapedPath() != "/" {
		mux.Handle(ProtectedResourcePath, prm)
	}
	if docs.AuthServer != nil {
		as, err := AuthServerHandler(docs.AuthServer)
		if err != nil {
			return err
		}
		mux.Handle(AuthServerPath, as)
		mux.Handle(OpenIDPath, as)
	}
	return nil
}

// AuthServerHandler serves RFC 8414 metadata (the go-sdk has the type but no
// handler). The document is encoded once.
func AuthServerHandler(meta *oauthex.AuthServerMeta) (http.Handler, error) {
	body, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("wellknown: encode metadata: %w", err)
	}
	body = append(body, '\n')
	return cacheable(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		switch r.Method {
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
		case http.MethodGet, http.MethodHead:
			h.Set("Content-Type", "application/json")
			w.Write(body)
		default:
			h.Set("Allow", "GET, OPTIONS")
			http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		}
	})), nil
}

// cacheable lets clients and proxies keep the documents for an hour.
func cacheable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}
