package certreload

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Reloader serves the certificate in CertFile and KeyFile. Use its
// GetCertificate as tls.Config.GetCertificate.
type Reloader struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu sync.Mutex
	// cert is the certificate in service; loaded says which file versions
	// it came from, tried which versions were last attempted (so a broken
	// pair is reported and retried once per change, not per handshake).
	cert          *tls.Certificate
	loaded, tried stamp
}

// stamp identifies a version of the two files.
type stamp struct {
	cert, key os.FileInfo
}

func (s stamp) same(o stamp) bool {
	return sameFile(s.cert, o.cert) && sameFile(s.key, o.key)
}

// sameFile: the same file (inode; a renamed-over file is another) with the
// same size and modification time.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// New loads the pair once; an error says which file is wrong. A nil
// logger discards the reload messages.
func New(certFile, keyFile string, logger *slog.Logger) (*Reloader, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, logger: logger}
	st, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	r.cert, r.loaded, r.tried = &cert, st, st
	return r, nil
}

func (r *Reloader) stat() (stamp, error) {
	c, err := os.Stat(r.certFile)
	if err != nil {
		return stamp{}, err
	}
	k, err := os.Stat(r.keyFile)
	if err != nil {
		return stamp{}, err
	}
	return stamp{cert: c, key: k}, nil
}

// GetCertificate returns the current certificate, reloading it first when
// the files changed since it was loaded.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	st, statErr := r.stat()
	r.mu.Lock()
	defer r.mu.Unlock()
	if statErr != nil {
		// Being replaced (or gone): keep serving what we have.
		if r.tried.cert != nil {
			r.logger.Warn("TLS certificate files unreadable; serving the previous certificate", "err", statErr)
			r.tried = stamp{}
		}
		return r.cert, nil
	}
	if st.same(r.loaded) || st.same(r.tried) {
		return r.cert, nil
	}
	r.tried = st
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.logger.Warn("TLS certificate files changed but do not load; serving the previous certificate until they do",
			"cert", r.certFile, "key", r.keyFile, "err", err)
		return r.cert, nil
	}
	r.cert, r.loaded = &cert, st
	notAfter := ""
	if cert.Leaf != nil {
		notAfter = cert.Leaf.NotAfter.UTC().Format(time.RFC3339)
	}
	r.logger.Info("TLS certificate reloaded", "cert", r.certFile, "not_after", notAfter)
	return r.cert, nil
}
