package certreload_test

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/orgscope/orgscope/internal/certreload"
	"github.com/orgscope/orgscope/internal/tlstest"
)

// serve starts an HTTPS server whose certificate comes from r.
func serve(t *testing.T, r *certreload.Reloader) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
		TLSConfig: &tls.Config{GetCertificate: r.GetCertificate},
		ErrorLog:  log.New(io.Discard, "", 0), // refused handshakes are the point of some checks
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// call makes one request with a client trusting only p and reports
// whether it succeeded.
func call(p tlstest.Pair, url string) error {
	resp, err := p.Client().Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// TestReload: replaced files are served from the next handshake on; a
// pair that does not match keeps the previous certificate in service.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first, second, third := tlstest.New(t, "first"), tlstest.New(t, "second"), tlstest.New(t, "third")
	first.Write(t, certFile, keyFile)

	r, err := certreload.New(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, r)
	if err := call(first, url); err != nil {
		t.Fatalf("first certificate: %v", err)
	}

	second.Write(t, certFile, keyFile)
	if err := call(second, url); err != nil {
		t.Fatalf("after replacing the files: %v", err)
	}
	if err := call(first, url); err == nil {
		t.Error("the replaced certificate is still served")
	}

	// Half a replacement: the third certificate with the second's key.
	if err := os.WriteFile(certFile+".tmp", third.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(certFile+".tmp", certFile); err != nil {
		t.Fatal(err)
	}
	if err := call(second, url); err != nil {
		t.Fatalf("with a mismatched pair on disk, the previous certificate should be served: %v", err)
	}
	// The key arrives: the pair loads.
	third.Write(t, certFile, keyFile)
	if err := call(third, url); err != nil {
		t.Fatalf("after the key arrived: %v", err)
	}

	// Files gone: keep serving.
	os.Remove(certFile)
	if err := call(third, url); err != nil {
		t.Fatalf("with the files gone: %v", err)
	}
}

func TestNewRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if _, err := certreload.New(certFile, keyFile, nil); err == nil {
		t.Error("missing files accepted")
	}
	a, b := tlstest.New(t, "a"), tlstest.New(t, "b")
	a.Write(t, certFile, keyFile)
	os.WriteFile(keyFile, b.KeyPEM, 0o600)
	if _, err := certreload.New(certFile, keyFile, nil); err == nil {
		t.Error("a certificate with another certificate's key accepted")
	}
}
