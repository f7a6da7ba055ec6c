package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooklatch/hooklatch/internal/admin"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
)

// requireToken guards every admin endpoint but /healthz with
// "Authorization: Bearer <token>". It wraps the admin listener's whole
// handler, so a route added there later is guarded without asking. The
// comparison takes the same time whatever the guess: both sides are hashed
// first, so neither the token's length nor a matching prefix shows.
//
// The dashboard's browser shows the token once, on the login page (which,
// with its style sheet, is the only other path let through), and then
// sends the session cookie that page set instead.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte("Bearer " + token))
	wantSession := sha256.Sum256([]byte(admin.SessionValue(token)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Liveness says only that the process answers: orchestrators
		// probe it without credentials. The exact path, so that no
		// spelling of another route passes for it.
		if r.URL.Path == "/healthz" || admin.OpenPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		session := [sha256.Size]byte{}
		if c, err := r.Cookie(admin.CookieName); err == nil {
			session = sha256.Sum256([]byte(c.Value))
		}
		if subtle.ConstantTimeCompare(got[:], want[:])|subtle.ConstantTimeCompare(session[:], wantSession[:]) != 1 {
			if admin.WantsLogin(r) {
				http.Redirect(w, r, admin.LoginPath, http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="hooklatch admin"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"unauthorized","detail":"send Authorization: Bearer <HOOKLATCH_ADMIN_TOKEN>"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readiness answers "can the store take a write?" with at most one real
// write per interval, whoever asks and however often: /readyz is on the
// public listener, where anyone may call it, and each probe is a write
// through the one writer that every acknowledgement waits on. Callers that
// arrive while a probe runs wait for its answer instead of starting their
// own.
type readiness struct {
	probe    func(context.Context) error
	now      func() time.Time
	interval time.Duration
	timeout  time.Duration
	probes   prometheus.Counter
	logger   *slog.Logger

	mu  sync.Mutex
	at  time.Time // when the last probe finished; zero before the first
	err error     // its answer
}

func (r *readiness) check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.at.IsZero() && r.now().Sub(r.at) < r.interval {
		return r.err
	}
	// Not the caller's context: a caller that hangs up must not make the
	// answer every other caller shares a failure.
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	r.probes.Inc()
	r.err = r.probe(ctx)
	r.at = r.now()
	if r.err != nil {
		r.logger.Warn("readyz: the store cannot take writes", "err", r.err)
	}
	return r.err
}

// mountAdmin puts the API and the dashboard on the admin listener's mux;
// "/" leads to the dashboard.
func mountAdmin(mux *http.ServeMux, adm *admin.Admin) {
	mux.Handle("/v1/", adm)
	mux.Handle("/ui/", adm)
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusSeeOther))
}

// bothAttempt calls a then b (either may be nil).
func bothAttempt(a, b func(dispatch.Attempted)) func(dispatch.Attempted) {
	if a == nil {
		return b
	}
	return func(at dispatch.Attempted) { a(at); b(at) }
}

// bothAccept calls a then b (either may be nil).
func bothAccept(a, b func(store.AppendResult)) func(store.AppendResult) {
	if b == nil {
		return a
	}
	return func(r store.AppendResult) { a(r); b(r) }
}
