package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Guard wraps the admin listener's whole handler, so that a route added
// there later is guarded without asking. /healthz is always open: it says
// only that the process answers, and orchestrators probe it without
// credentials (the exact path, so that no spelling of another route
// passes for it).
//
// Without a token, the listener is on loopback and anything that can reach
// it may use it; a page elsewhere must not, through a name that resolves to
// 127.0.0.1 (DNS rebinding): the Host must be a loopback name (421
// otherwise).
//
// With a token, every other path wants "Authorization: Bearer <token>" or
// the dashboard's session cookie, on loopback too, but the login page and
// its style sheet. The comparison takes the same time whatever the guess:
// both sides are hashed first, so neither the token's length nor a
// matching prefix shows. Failed attempts are limited per client address
// (see failureLimit); a request without credentials is not an attempt.
func (a *Admin) Guard(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte("Bearer " + a.cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		if a.cfg.Token == "" {
			if !loopbackHost(r.Host) {
				writeError(w, http.StatusMisdirectedRequest, "host_not_loopback",
					"without HOOKLATCH_ADMIN_TOKEN the admin listener answers only requests addressed to localhost or a loopback address")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if OpenPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		authorization := r.Header.Get("Authorization")
		cookie, _ := r.Cookie(CookieName)
		if authorization == "" && cookie == nil {
			unauthorized(w, r)
			return
		}
		client := clientKey(r)
		if a.refused(w, r, client) {
			return
		}
		got := sha256.Sum256([]byte(authorization))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 || (cookie != nil && a.sessions.valid(cookie.Value)) {
			next.ServeHTTP(w, r)
			return
		}
		a.failed(client)
		if cookie != nil { // an ended session: the browser forgets it
			http.SetCookie(w, a.sessionCookie(r, "", -1))
		}
		unauthorized(w, r)
	})
}

func unauthorized(w http.ResponseWriter, r *http.Request) {
	if WantsLogin(r) {
		http.Redirect(w, r, LoginPath, http.StatusSeeOther)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="hooklatch admin"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <HOOKLATCH_ADMIN_TOKEN>")
}

// refused answers 429 with Retry-After, and reports true, while client
// has failed too often to be heard.
func (a *Admin) refused(w http.ResponseWriter, r *http.Request, client string) bool {
	wait := a.limit.wait(client)
	if wait == 0 {
		return false
	}
	a.metrics.authRefused.Inc()
	secs := strconv.Itoa(int((wait + time.Second - 1) / time.Second))
	w.Header().Set("Retry-After", secs)
	if strings.HasPrefix(r.URL.Path, "/ui/") {
		a.ui.render(w, r, http.StatusTooManyRequests, "login", page{Title: "Log in", Error: "Too many wrong tokens from your address: try again in " + secs + " seconds."})
		return true
	}
	writeError(w, http.StatusTooManyRequests, "too_many_attempts", "too many wrong admin tokens from this address: try again in "+secs+"s")
	return true
}

// failed counts a wrong token or an ended session from client.
func (a *Admin) failed(client string) {
	a.metrics.authFailures.Inc()
	a.limit.fail(client)
}

// sessionCookie is the session cookie holding value for maxAge seconds
// (-1: delete it): HttpOnly, so scripts cannot read it, and
// SameSite=Strict, so no other site's request carries it.
func (a *Admin) sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}
