package engine

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooklatch/hooklatch/internal/admin"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
)

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
