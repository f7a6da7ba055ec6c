package cli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/admin"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/internal/retention"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/internal/tracing"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
)

// ServeOptions are the settings of `hooklatch serve`, resolved.
type ServeOptions struct {
	Server server.Config
	// GCPercent, when positive, is the garbage collector's target
	// (runtime/debug.SetGCPercent), and MemoryLimit, when positive, its
	// soft memory limit (SetMemoryLimit).
	GCPercent   int
	MemoryLimit int64
	// Getenv reads the OTEL_* variables that turn tracing on (see
	// internal/tracing). Defaults to none: tracing is off.
	Getenv func(string) string
	// Reload, when set, loads the certificate files again on each value
	// (SIGHUP).
	Reload <-chan os.Signal
}

// defaultGCPercent lets the heap grow to five times what is live between
// collections: the ack path allocates per request, and at the default of
// 100 the collector cost a tenth of serve's CPU. The soft memory limit
// (the bodies' budget plus 64 MiB) holds the heap in check when the
// bodies in flight fill their budget.
const defaultGCPercent = 400

func newServeCommand(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Receive webhooks: verify, store durably, acknowledge",
		Long: `serve listens for Sent webhooks, verifies each signature, stores the event
durably (it answers 2xx only once the event is on disk), and answers duplicates
with 2xx without storing them twice. Requests that fail verification get 401
and are kept in a bounded rejection log (see 'hooklatch rejections').

Each setting comes from its flag, else its environment variable, else the
config file (--config), else its default.`,
		Example: `  SENT_WEBHOOK_SECRET=whsec_... hooklatch serve
  hooklatch serve --addr :8080 --store /var/lib/hooklatch/events.db
  hooklatch serve --addr :443 --tls-domain hooks.example.com --store /var/lib/hooklatch/events.db
  hooklatch serve --addr :443 --tls-cert fullchain.pem --tls-key privkey.pem`,
		Args: args(cobra.NoArgs),
	}
	f := cmd.Flags()
	logger := logFlags(cmd, env, "info")
	addSecretFlags(cmd)
	f.String("addr", ":3000", "webhook listen address: every interface by default, since Sent must reach it ($HOOKLATCH_ADDR)")
	f.String("path", "/webhooks/sent", "webhook path ($HOOKLATCH_PATH)")
	f.String("tls-cert", "", "serve HTTPS with this PEM certificate (leaf first, then intermediates), reloaded when the file changes and on SIGHUP ($HOOKLATCH_TLS_CERT)")
	f.String("tls-key", "", "the PEM private key of --tls-cert ($HOOKLATCH_TLS_KEY)")
	f.StringSlice("tls-domain", nil, "serve HTTPS with certificates obtained and renewed from an ACME CA for these domains, repeatable or comma-separated; the CA must reach this listener on port 443 ($HOOKLATCH_TLS_DOMAIN)")
	f.String("acme-directory", "", "the ACME CA's directory URL (default Let's Encrypt's) ($HOOKLATCH_ACME_DIRECTORY)")
	f.String("acme-email", "", "an email address the ACME CA may send notices to (default none) ($HOOKLATCH_ACME_EMAIL)")
	f.String("acme-cache", "", "directory where certificates and the ACME account key are kept (default: acme next to a SQLite store) ($HOOKLATCH_ACME_CACHE)")
	f.String("acme-ca-root", "", "PEM file of CA certificates to trust for the ACME directory's own HTTPS besides the system's, for a private CA ($HOOKLATCH_ACME_CA_ROOT)")
	f.Bool("admin-tls", false, "serve the admin listener over HTTPS too, with the webhook listener's certificate (default plain HTTP, meant for loopback) ($HOOKLATCH_ADMIN_TLS)")
	f.String("http-redirect-addr", "", "also listen for plain HTTP here, such as :80: GET and HEAD are redirected to HTTPS, the ACME CA's HTTP-01 challenges answered (default off) ($HOOKLATCH_HTTP_REDIRECT_ADDR)")
	f.String("store", "hooklatch.db", storeHelp)
	f.String("admin-addr", "127.0.0.1:3001", `admin listener for /healthz, /readyz and /metrics, or "off" ($HOOKLATCH_ADMIN_ADDR)`)
	f.Duration("admin-session-ttl", admin.DefaultSessionTTL, "how long a dashboard session lasts after logging in with HOOKLATCH_ADMIN_TOKEN ($HOOKLATCH_ADMIN_SESSION_TTL)")
	f.String("scheme", "", "accept only this signature scheme, legacy or v1 (default both) ($HOOKLATCH_SCHEME)")
	f.Duration("tolerance", signature.DefaultTolerance, "v1 timestamp tolerance ($HOOKLATCH_TOLERANCE)")
	f.String("max-body", "1MiB", "largest body accepted; larger gets 413 ($HOOKLATCH_MAX_BODY)")
	f.String("config", "", "YAML config file: the settings below and several destinations ($HOOKLATCH_CONFIG)")
	f.StringArray("forward-to", nil, forwardToHelp())
	f.StringArray("source", nil, "receive another provider's webhooks too, at /webhooks/NAME: NAME=PROVIDER ("+strings.Join(source.Providers(), ", ")+"), then any of ,path= ,tolerance= ,public_url= (twilio) and for hmac ,header= ,algorithm= ,encoding= ,prefix= ,template= ,timestamp_header= ,id_header= ,type_header=; its secrets in $HOOKLATCH_SOURCE_<NAME>_SECRET, meta's verify token in $HOOKLATCH_SOURCE_<NAME>_VERIFY_TOKEN (never on the command line); repeat for several; replaces the config file's sources")
	f.String("forward-secret", "", "sign forwarded requests with this whsec_ secret; several, separated by spaces or commas, while the app rotates: a v1 request carries a signature for each ($HOOKLATCH_FORWARD_SECRET)")
	f.String("forward-scheme", "v1", "how --forward-secret signs: v1, legacy, or as-received (each event in the scheme it arrived with) ($HOOKLATCH_FORWARD_SCHEME)")
	f.String("forward-types", "", "forward only these event types, comma-separated patterns such as message.* (default all) ($HOOKLATCH_FORWARD_TYPES)")
	f.String("forward-filter", "", `forward only the events this expression passes, such as 'payload.channel == "whatsapp"'; see docs/filters.md (default all) ($HOOKLATCH_FORWARD_FILTER)`)
	f.Duration("forward-timeout", 30*time.Second, "how long one forwarding attempt may take ($HOOKLATCH_FORWARD_TIMEOUT)")
	f.Int("forward-breaker-failures", dispatch.DefaultBreakerFailures, "consecutive failed attempts that open the destination's circuit breaker: its deliveries then wait, spending no attempt, while one probe at a time tests it; 0 turns it off ($HOOKLATCH_FORWARD_BREAKER_FAILURES)")
	f.Int("forward-attempts", 15, "attempts before a delivery is dead; each wait is drawn from half to all of 2s, 4s, 8s … up to an hour, so 15 span 2.1 to 4.1 hours ($HOOKLATCH_FORWARD_ATTEMPTS)")
	f.Duration("retention", retention.DefaultRetention, "keep events whose deliveries are final this long, at least 24h; their dedupe keys are kept a period more ($HOOKLATCH_RETENTION)")
	f.Duration("retention-dead", 0, "also prune events with a dead delivery after this long, at least 24h (default: keep them until retried or discarded) ($HOOKLATCH_RETENTION_DEAD)")
	f.Duration("lease", 0, "how long a claimed delivery is held before another worker may take it over (default the attempt timeout + 1m) ($HOOKLATCH_LEASE)")
	f.Int("rejections-max", 1000, "rejected requests kept, split across reasons, each dropping its oldest first ($HOOKLATCH_REJECTIONS_MAX)")
	f.String("rejections-max-bytes", "64MiB", "bytes of rejected requests kept ($HOOKLATCH_REJECTIONS_MAX_BYTES)")
	f.String("wal-max", "64MiB", "the store's write-ahead log is checkpointed and started over at this size, and emptied when idle ($HOOKLATCH_WAL_MAX)")
	f.String("rejection-body-max", "64KiB", "how much of a rejected request's body is kept, with the whole body's length and SHA-256 ($HOOKLATCH_REJECTION_BODY_MAX)")
	f.String("gc-percent", "", "the garbage collector's target: the heap grows this many percent over what is live before a collection; a soft memory limit of the memory budget plus 64MiB holds it in check (default 400; GOGC and GOMEMLIMIT, when set, are left to the Go runtime) ($HOOKLATCH_GC_PERCENT)")
	f.Duration("answer-within", receiver.DefaultAnswerWithin, "answer every webhook within this long: an event the store has not confirmed by then gets 503 with Retry-After, and may still be stored (the retry is then a duplicate); keep it under Sent's 5s ($HOOKLATCH_ANSWER_WITHIN)")
	f.String("memory-budget", "", "bytes of webhook bodies held at once (in flight, or rejected and waiting to be kept); past it, 503 with Retry-After (default 64MiB, more if --max-body needs it) ($HOOKLATCH_MEMORY_BUDGET)")
	f.String("min-body-rate", "16KiB", "bytes a second a webhook body must arrive at, after a grace of 2s; a slower one gets 408 and its connection closed ($HOOKLATCH_MIN_BODY_RATE)")

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := logger()
		if err != nil {
			return err
		}
		opts, err := resolveServe(cmd, env, log)
		if err != nil {
			return err
		}
		opts.Server.Logger = log
		quietRedisClient(log)
		opts.Getenv = env.Getenv
		if opts.Server.TLS.CertFile != "" && env.Hangup != nil {
			hangups, stop := env.Hangup()
			defer stop()
			opts.Reload = hangups
		}
		return RunServe(cmd.Context(), opts)
	}
	return cmd
}

func resolveServe(cmd *cobra.Command, env Env, log *slog.Logger) (ServeOptions, error) {
	f := cmd.Flags()
	var file *ConfigFile
	if path := setting(f, "config", env.Getenv, "HOOKLATCH_CONFIG"); path != "" {
		var err error
		if file, err = loadConfig(path); err != nil {
			return ServeOptions{}, err
		}
	} else {
		file = &ConfigFile{}
	}
	values := file.values()
	get := func(name string, envs ...string) string { return settingFrom(f, name, values, env.Getenv, envs...) }

	if err := sourceFlags(cmd, file); err != nil {
		return ServeOptions{}, err
	}
	endpoints, sent, err := file.fileSources(env.Getenv)
	if err != nil {
		return ServeOptions{}, err
	}
	secrets, err := serveSecrets(f, values, env.Getenv, sent, len(endpoints) > 0)
	if err != nil {
		return ServeOptions{}, err
	}
	cfg := server.Config{
		Sources:    endpoints,
		Addr:       get("addr", "HOOKLATCH_ADDR"),
		Path:       get("path", "HOOKLATCH_PATH"),
		Store:      get("store", storeEnv...),
		AdminAddr:  get("admin-addr", "HOOKLATCH_ADMIN_ADDR"),
		AdminToken: env.Getenv("HOOKLATCH_ADMIN_TOKEN"),
		Secrets:    secrets,
		TLS: server.TLSConfig{
			CertFile: get("tls-cert", "HOOKLATCH_TLS_CERT"), KeyFile: get("tls-key", "HOOKLATCH_TLS_KEY"),
			Domains:       tlsDomains(cmd, env, file),
			ACMEDirectory: get("acme-directory", "HOOKLATCH_ACME_DIRECTORY"), ACMEEmail: get("acme-email", "HOOKLATCH_ACME_EMAIL"),
			ACMECache: get("acme-cache", "HOOKLATCH_ACME_CACHE"), ACMECARoot: get("acme-ca-root", "HOOKLATCH_ACME_CA_ROOT"),
			RedirectAddr: get("http-redirect-addr", "HOOKLATCH_HTTP_REDIRECT_ADDR"),
		},
	}
	if sent != nil {
		cfg.SentSource = sent.Name
		if !f.Changed("path") && env.Getenv("HOOKLATCH_PATH") == "" { // a flag beats the file
			cfg.Path = sent.Path
		}
	}
	if cfg.TLS.Admin, err = strconv.ParseBool(get("admin-tls", "HOOKLATCH_ADMIN_TLS")); err != nil {
		return ServeOptions{}, usageError("--admin-tls: want true or false")
	}
	if s := get("scheme", "HOOKLATCH_SCHEME"); s != "" {
		scheme, err := parseScheme(s)
		if err != nil {
			return ServeOptions{}, usageError("--scheme: %v", err)
		}
		cfg.Schemes = []signature.Scheme{scheme}
	}
	if cfg.Tolerance, err = time.ParseDuration(get("tolerance", "HOOKLATCH_TOLERANCE")); err != nil {
		return ServeOptions{}, usageError("--tolerance: %v", err)
	}
	if cfg.MaxBodyBytes, err = parseBytes("max-body", get("max-body", "HOOKLATCH_MAX_BODY")); err != nil {
		return ServeOptions{}, err
	}
	if cfg.RejectionLimits.MaxCount, err = strconv.Atoi(get("rejections-max", "HOOKLATCH_REJECTIONS_MAX")); err != nil || cfg.RejectionLimits.MaxCount <= 0 {
		return ServeOptions{}, usageError("--rejections-max: want a positive whole number")
	}
	if cfg.RejectionLimits.MaxBytes, err = parseBytes("rejections-max-bytes", get("rejections-max-bytes", "HOOKLATCH_REJECTIONS_MAX_BYTES")); err != nil {
		return ServeOptions{}, err
	}
	if cfg.StoreOptions.MaxWALBytes, err = parseBytes("wal-max", get("wal-max", "HOOKLATCH_WAL_MAX")); err != nil {
		return ServeOptions{}, err
	}
	if cfg.StoreOptions.MaxWALBytes < 1<<20 {
		return ServeOptions{}, usageError("--wal-max: want 1MiB or more")
	}
	if cfg.RejectionBodyMaxBytes, err = parseBytes("rejection-body-max", get("rejection-body-max", "HOOKLATCH_REJECTION_BODY_MAX")); err != nil {
		return ServeOptions{}, err
	}
	if v := get("memory-budget", "HOOKLATCH_MEMORY_BUDGET"); v != "" {
		if cfg.MemoryBudgetBytes, err = parseBytes("memory-budget", v); err != nil {
			return ServeOptions{}, err
		}
	}
	if cfg.MinBodyRate, err = parseBytes("min-body-rate", strings.TrimSuffix(get("min-body-rate", "HOOKLATCH_MIN_BODY_RATE"), "/s")); err != nil {
		return ServeOptions{}, err
	}
	if cfg.MinBodyRate < 1<<10 {
		return ServeOptions{}, usageError("--min-body-rate: want 1KiB or more")
	}
	if cfg.AnswerWithin, err = time.ParseDuration(get("answer-within", "HOOKLATCH_ANSWER_WITHIN")); err != nil || cfg.AnswerWithin <= 0 {
		return ServeOptions{}, usageError("--answer-within: want a positive duration such as 4s")
	}
	opts := ServeOptions{}
	switch v := get("gc-percent", "HOOKLATCH_GC_PERCENT"); {
	case v != "":
		if opts.GCPercent, err = strconv.Atoi(v); err != nil || opts.GCPercent < 25 || opts.GCPercent > 10000 {
			return ServeOptions{}, usageError("--gc-percent %q: want a whole number from 25 to 10000", v)
		}
	case env.Getenv("GOGC") == "":
		opts.GCPercent = defaultGCPercent
	}
	if opts.GCPercent > 0 && env.Getenv("GOMEMLIMIT") == "" {
		opts.MemoryLimit = max(cfg.MemoryBudgetBytes, receiver.DefaultMemoryBudgetBytes) + 64<<20
	}
	if cfg.Routes, err = file.routes(log); err != nil {
		return ServeOptions{}, err
	}
	if err := checkRouteSources(cfg.Routes, cfg.SentSource, len(secrets) > 0, endpoints); err != nil {
		return ServeOptions{}, err
	}
	// --forward-to, like every flag, beats the file: it replaces the file's destinations.
	if targets := forwardTargets(cmd, env); len(targets) > 0 {
		timeout, err := time.ParseDuration(get("forward-timeout", "HOOKLATCH_FORWARD_TIMEOUT"))
		if err != nil || timeout <= 0 {
			return ServeOptions{}, usageError("--forward-timeout: want a positive duration such as 10s")
		}
		filter, err := compileFilter("--forward-filter", get("forward-filter", "HOOKLATCH_FORWARD_FILTER"))
		if err != nil {
			return ServeOptions{}, err
		}
		cfg.Routes = nil
		for i, url := range targets {
			route, err := forwardRoute(url, get("forward-secret", "HOOKLATCH_FORWARD_SECRET"), get("forward-scheme", "HOOKLATCH_FORWARD_SCHEME"),
				get("forward-types", "HOOKLATCH_FORWARD_TYPES"), timeout)
			if err != nil {
				return ServeOptions{}, err
			}
			route.Filter = filter
			if route.Policy.MaxAttempts, err = strconv.Atoi(get("forward-attempts", "HOOKLATCH_FORWARD_ATTEMPTS")); err != nil || route.Policy.MaxAttempts <= 0 {
				return ServeOptions{}, usageError("--forward-attempts: want a positive whole number")
			}
			n, err := strconv.Atoi(get("forward-breaker-failures", "HOOKLATCH_FORWARD_BREAKER_FAILURES"))
			if err == nil {
				route.Policy.BreakerFailures, err = breakerFailures(n)
			}
			if err != nil {
				return ServeOptions{}, usageError("--forward-breaker-failures: want a whole number, 0 for no breaker")
			}
			if i > 0 {
				route.Name = "forward-" + strconv.Itoa(i+1) // the store knows each by its place
			}
			cfg.Routes = append(cfg.Routes, route)
		}
	}
	if cfg.Retention, cfg.RetentionDead, err = retentionSettings(get); err != nil {
		return ServeOptions{}, err
	}
	if cfg.Lease, err = time.ParseDuration(get("lease", "HOOKLATCH_LEASE")); err != nil || cfg.Lease < 0 {
		return ServeOptions{}, usageError("--lease: want a duration such as 2m")
	}
	if cfg.AdminSessionTTL, err = time.ParseDuration(get("admin-session-ttl", "HOOKLATCH_ADMIN_SESSION_TTL")); err != nil || cfg.AdminSessionTTL < time.Minute {
		return ServeOptions{}, usageError("--admin-session-ttl: want a duration of a minute or more, such as 12h")
	}
	opts.Server = cfg
	return opts, nil
}

// retentionSettings resolves --retention and --retention-dead; a
// retention left at its default is zero (the server's default).
func retentionSettings(get func(string, ...string) string) (keep, dead time.Duration, err error) {
	if keep, err = time.ParseDuration(get("retention", "HOOKLATCH_RETENTION")); err != nil {
		return 0, 0, usageError("--retention: want a duration such as 720h (30 days)")
	}
	if dead, err = time.ParseDuration(get("retention-dead", "HOOKLATCH_RETENTION_DEAD")); err != nil {
		return 0, 0, usageError("--retention-dead: want a duration such as 2160h (90 days)")
	}
	if err := retention.Check(keep, dead); err != nil {
		return 0, 0, usageError("%v", err)
	}
	if keep == retention.DefaultRetention {
		keep = 0
	}
	return keep, dead, nil
}

// tlsDomains are the domains of --tls-domain, else those of
// $HOOKLATCH_TLS_DOMAIN, else the config file's tls_domain; each a comma
// list.
func tlsDomains(cmd *cobra.Command, env Env, file *ConfigFile) []string {
	raw := []string(file.TLSDomain)
	if v := env.Getenv("HOOKLATCH_TLS_DOMAIN"); v != "" {
		raw = []string{v}
	}
	if f := cmd.Flags().Lookup("tls-domain"); f.Changed {
		raw, _ = cmd.Flags().GetStringSlice("tls-domain")
	}
	var domains []string
	for _, r := range raw {
		for d := range strings.SplitSeq(r, ",") {
			if d = strings.TrimSpace(d); d != "" {
				domains = append(domains, d)
			}
		}
	}
	return domains
}

// forwardTargets are the destinations of --forward-to, one a flag, else
// those of $HOOKLATCH_FORWARD_TO, separated by spaces.
func forwardTargets(cmd *cobra.Command, env Env) []string {
	if f := cmd.Flags().Lookup("forward-to"); f.Changed {
		targets, _ := cmd.Flags().GetStringArray("forward-to")
		return targets
	}
	return strings.Fields(env.Getenv("HOOKLATCH_FORWARD_TO"))
}

// forwardRoute is a destination of --forward-to, of the kind its URL's
// scheme names; timeout bounds each attempt, in the policy and in the
// destination alike.
func forwardRoute(to, secret, scheme, types string, timeout time.Duration) (dispatch.Route, error) {
	to, params := cutParams(to)
	kind, ok := kinds.ForURL(to)
	if !ok {
		return dispatch.Route{}, usageError("--forward-to %q: want a URL of one of %s", to, kindNames())
	}
	settings := destination.Settings{Timeout: timeout, Scheme: signature.Scheme(scheme)}
	if secret != "" {
		if !kind.Signs {
			return dispatch.Route{}, usageError("--forward-secret signs HTTP requests: %s is a %s URL, whose messages are not signed", to, kind.Name)
		}
		s, err := signature.ParseSecretList(secret)
		if err != nil {
			return dispatch.Route{}, secretError("--forward-secret", err)
		}
		settings.Secrets = s
	}
	dest, err := kind.FromURL(to, settings)
	if err != nil {
		return dispatch.Route{}, settingError("", err, func(field string) string { return flagName(kind, field) })
	}
	route := dispatch.Route{Name: "forward", Destination: dest, Policy: dispatch.Policy{Timeout: timeout}}
	if err := routeLimits(&route.Policy, "", 0, params); err != nil {
		return dispatch.Route{}, usageError("--forward-to %q: %v", to, err)
	}
	if params.ordered {
		route.Order = store.OrderSubject
	}
	return typedRoute(route, types)
}

// typedRoute gives route the event types of --forward-types.
func typedRoute(route dispatch.Route, types string) (dispatch.Route, error) {
	for _, t := range strings.Split(types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			route.Types = append(route.Types, t)
		}
	}
	return route, checkTypes("--forward-types", route.Types)
}

func parseBytes(flag, v string) (int64, error) {
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 || n > 1<<40 {
		return 0, usageError("--%s %q: want a size such as 1MiB or 65536", flag, v)
	}
	return int64(n), nil
}

// RunServe runs the server until ctx is cancelled.
func RunServe(ctx context.Context, opts ServeOptions) error {
	if opts.GCPercent > 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(opts.GCPercent))
	}
	if opts.MemoryLimit > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(opts.MemoryLimit))
	}
	if opts.Getenv != nil {
		tp, err := startTracing(ctx, opts.Getenv, opts.Server.Logger)
		if err != nil {
			return err
		}
		if tp != nil {
			defer stopTracing(tp, opts.Server.Logger)
			opts.Server.TracerProvider = tp.TracerProvider()
		}
	}
	srv, err := server.New(ctx, opts.Server)
	if errors.Is(err, server.ErrConfig) {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	if err != nil {
		return err
	}
	if opts.Reload != nil {
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-opts.Reload:
					srv.ReloadCertificate() // a failure is logged, and the old certificate kept
				}
			}
		}()
	}
	return srv.Run(ctx)
}

// startTracing builds the tracer provider the OTEL_* variables ask for, or
// returns nil when they leave tracing off. Variables hooklatch cannot honour
// are a usage error.
func startTracing(ctx context.Context, getenv func(string) string, log *slog.Logger) (*tracing.Provider, error) {
	tp, err := tracing.FromEnv(ctx, getenv, Version)
	if err != nil {
		return nil, &ExitError{Code: ExitUsage, Err: err}
	}
	if tp != nil && log != nil {
		log.Info("tracing is on: spans are exported over OTLP", "because", tp.Why)
	}
	return tp, nil
}

// stopTracing exports the spans still buffered, for at most 5s.
func stopTracing(tp *tracing.Provider, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil && log != nil {
		log.Warn("tracing: the last spans could not be exported", "err", err)
	}
}
