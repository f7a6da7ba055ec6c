package admin

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
)

// Config configures the admin API and dashboard.
type Config struct {
	// Store is read and acted on. Required.
	Store store.Store
	// Secrets verify rejections again on release. Required for release.
	Secrets []signature.Secret
	// Token, when set, is the admin token: Guard wants it on every
	// request, and the dashboard asks for it once and keeps a session in
	// a cookie (see CookieName). Defaults to none.
	Token string
	// SessionTTL is how long a dashboard session lasts. Defaults to
	// DefaultSessionTTL (12h).
	SessionTTL time.Duration
	// Receiver and Dispatch are the counters the per-minute stats are
	// sampled from. Defaults to none (the stats stay empty).
	Receiver *receiver.Metrics
	Dispatch *dispatch.Metrics
	// Ready probes whether the store takes writes, for the outage gauge
	// while no webhook arrives. Defaults to none.
	Ready func(context.Context) error
	// FilteredOut names the destinations whose filter keeps an event out,
	// for the event's page and API. Defaults to none.
	FilteredOut func(*store.Event) []string
	// Notify wakes the dispatcher after an action made deliveries due.
	// Defaults to none: the dispatcher polls.
	Notify func()
	// Registry receives the admin's collectors. Defaults to none.
	Registry prometheus.Registerer
	// StoreFiles names the store's files for hooklatch_store_file_bytes,
	// by label ("db", "wal"). Defaults to none.
	StoreFiles map[string]string
	// Sources are other providers' sources by name: a release verifies
	// their rejections with them. Defaults to none.
	Sources map[string]source.Source
	// OpenBreakers reports the destinations whose circuit breaker is open
	// in this process, and since when. Defaults to none.
	OpenBreakers func() map[string]time.Time
	// NowFunc defaults to time.Now.
	NowFunc func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Admin is the admin API, stream and dashboard.
type Admin struct {
	cfg     Config
	in      *inspect.Inspector
	tail    *tail
	stats   *stats
	metrics metrics
	now     func() time.Time
	mux     *http.ServeMux
	ui      *ui
	// limit counts failed attempts at the token, and sessions are the
	// dashboard's (nil without a token).
	limit    *failureLimit
	sessions *sessions
}

// New builds the admin handlers; Run samples and follows the store.
func New(cfg Config) (*Admin, error) {
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	a := &Admin{
		cfg:   cfg,
		in:    inspect.New(cfg.Store, cfg.NowFunc).WithSources(cfg.Sources).WithBreakers(cfg.OpenBreakers),
		tail:  newTail(cfg.Store, cfg.Logger),
		stats: newStats(cfg.Receiver, cfg.Dispatch, cfg.Store, cfg.Ready),
		now:   cfg.NowFunc,
		mux:   http.NewServeMux(),
		limit: newFailureLimit(cfg.NowFunc, cfg.Logger),
	}
	if cfg.Token != "" {
		a.sessions = newSessions(cfg.Token, cfg.SessionTTL, cfg.NowFunc)
	}
	a.registerMetrics(cfg.Registry, cfg.StoreFiles)
	a.routes()
	ui, err := newUI(a)
	if err != nil {
		return nil, err
	}
	a.ui = ui
	return a, nil
}

// Run samples the counters every second and the queue every ten (every
// two while someone watches the live stream, which is then sent the
// overview's numbers), writes the per-minute history to the store once a
// minute, and feeds the live stream, until ctx is done. It then writes
// the minute under way, so that a restart loses none of it.
func (a *Admin) Run(ctx context.Context) {
	tailDone := make(chan struct{})
	go func() { a.tail.run(ctx); close(tailDone) }()
	defer func() { <-tailDone }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var flushed time.Time // the minute of the last flush
	for i := 0; ; i++ {
		now := a.now()
		a.stats.sample(ctx, now)
		if minute := now.Truncate(time.Minute); !minute.Equal(flushed) {
			flushed = minute // tried again next minute when it fails
			if err := a.stats.flush(ctx, now, false); err != nil && ctx.Err() == nil {
				a.cfg.Logger.Warn("admin: the per-minute history is not in the store; trying again in a minute", "err", err)
			}
		}
		watched := a.tail.hub.active()
		if i%10 == 0 || watched && i%2 == 0 {
			q, totals, err := readQueue(ctx, a.cfg.Store, now)
			switch {
			case err == nil:
				a.stats.setQueue(q)
				if watched {
					a.tail.hub.publish("stats", a.statsNote(q, totals, now))
				}
			case ctx.Err() == nil:
				a.cfg.Logger.Warn("admin: could not read the queue's state", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			a.finalFlush(ctx)
			return
		case <-tick.C:
		}
	}
}

// statsNote is the overview's numbers now, for the live stream.
func (a *Admin) statsNote(q Queue, totals store.Stats, now time.Time) StatsNote {
	n := StatsNote{Queue: q, Totals: totals, ReceiverUnavailableSecs: a.stats.unavailable(now).Seconds()}
	if ms := a.stats.report(now); len(ms) > 0 {
		n.Minute = &ms[len(ms)-1]
	}
	return n
}

// finalFlush counts what happened since the last sample and writes the
// minute under way to the store, on a context of its own: ctx is done.
func (a *Admin) finalFlush(ctx context.Context) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := a.now()
	a.stats.sample(fctx, now)
	if err := a.stats.flush(fctx, now, true); err != nil {
		a.cfg.Logger.Warn("admin: the last minutes' counts could not be written to the store, and are lost", "err", err)
	}
}

// OnAccept is the receiver's hook: a new event was stored. It never
// blocks.
func (a *Admin) OnAccept(store.AppendResult) { a.tail.notify() }

// OnAttempt is the dispatcher's hook. It never blocks.
func (a *Admin) OnAttempt(at dispatch.Attempted) {
	a.observeAttempt(at)
	a.tail.onAttempt(at)
}

// ServeHTTP serves /v1/ and /ui/, behind Guard (which the listener's whole
// handler must be wrapped in). State-changing requests must pass the CSRF
// check (sameOrigin).
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross_origin",
			"a state-changing request must come from the dashboard's own origin (Origin and Sec-Fetch-Site say it did not)")
		return
	}
	a.mux.ServeHTTP(w, r)
}

// sameOrigin is the CSRF check: a browser says where a request comes from
// (Sec-Fetch-Site, Origin), and a state-changing one must come from the
// admin listener itself. Requests without either header do not come from
// a browser (curl, scripts) and pass.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && origin != "null" && strings.EqualFold(u.Host, r.Host)
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CookieName is the dashboard's session cookie, set by the login page
// when the admin listener has a token.
const CookieName = "hooklatch_admin"

// LoginPath is the dashboard's login page.
const LoginPath = "/ui/login"

// OpenPath reports whether path is served without the admin token: the
// login page and its style sheet.
func OpenPath(path string) bool {
	return path == LoginPath || path == stylePath
}

// WantsLogin reports whether r, refused for want of the token, should be
// sent to the login page instead: a browser asking for a dashboard page.
func WantsLogin(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/ui/")
}
