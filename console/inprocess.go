package console

import (
	"bytes"
	"io"
	"net/http"
)

// inProcess is an http.RoundTripper that serves requests with a handler in
// this process: the console talks to the embedded issuer's token endpoint
// without a network round trip (and without depending on the server
// reaching its own public address, which a proxy in front may not allow).
type inProcess struct {
	handler http.Handler
	// remoteAddr is the address the issuer sees, for its rate limit: the
	// browser's, whose sign-in this is.
	remoteAddr string
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.RemoteAddr, r.RequestURI, r.Host = t.remoteAddr, req.URL.RequestURI(), req.URL.Host
	if r.Body == nil {
		r.Body = http.NoBody
	}
	w := &recorder{header: http.Header{}}
	t.handler.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status: http.StatusText(w.status), StatusCode: w.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Request: req,
	}, nil
}

// recorder is the http.ResponseWriter of an in-process request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
