package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// authorized checks the bearer token, answering 401 when it is wrong.
func (g *Gateway) authorized(w http.ResponseWriter, r *http.Request) bool {
	if g.cfg.token == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		// Hashing first makes the comparison constant-time in the
		// token's length too.
		got := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
		if subtle.ConstantTimeCompare(got[:], g.tokenHash[:]) == 1 {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="countlab", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid bearer token")
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="countlab"`)
	writeError(w, http.StatusUnauthorized, "missing bearer token (send Authorization: Bearer TOKEN)")
	return false
}
