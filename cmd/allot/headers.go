package main

import "net/http"

// withSecurityHeaders sets the headers every response of allot carries,
// whichever handler writes it (API, gateway errors, dashboard, OTLP,
// metrics): X-Content-Type-Options: nosniff, so no browser takes a JSON
// or CSV answer holding a caller's text for HTML or script.
func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}
