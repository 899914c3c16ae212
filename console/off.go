package console

import "net/http"

// Off is the console of a server whose people sign in with an external
// issuer: every page says why there is no console, and what to use
// instead.
func Off(why string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		c := &Console{}
		c.messageLink(w, http.StatusNotFound, "The console is off", why, "", "")
	})
}
