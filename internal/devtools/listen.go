package devtools

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
)

// ForwardRoute names the destination of a Listener's forwarded events in
// the store, as `hooklatch serve --forward-to` names its own.
const ForwardRoute = "forward"

// Defaults of a Listener.
const (
	DefaultListenStore     = "hooklatch-listen.db"
	DefaultListenAddr      = "127.0.0.1:3000" // a laptop's own: nothing else on the network reaches it
	DefaultForwardTimeout  = 10 * time.Second
	DefaultForwardAttempts = 5
	defaultListenQueue     = 1024
)

// ErrListenConfig marks a mistake in a ListenConfig: forwarding options
// without a URL, a replay of an event the store does not hold.
var ErrListenConfig = errors.New("listen")

// ListenConfig configures a Listener.
type ListenConfig struct {
	// Server is the receiving side: Addr, Path, Store, Secrets, Schemes,
	// Tolerance, Logger. Its Addr defaults to DefaultListenAddr, its Store
	// to DefaultListenStore and its AdminAddr to "off"; its Routes, StoreOnly, Observe and OnStart are
	// the Listener's own and must be left zero.
	Server server.Config

	// ForwardTo is the URL of the app under development: every event is
	// delivered there, with retries, and its answers are printed. Empty
	// means events are stored and printed only. Defaults to empty.
	ForwardTo string
	// ForwardSecret signs forwarded events (in v1 with a fresh
	// X-Webhook-Timestamp on every attempt), so an app that verifies
	// Sent's signature accepts them. The zero Secret sends them unsigned.
	// Defaults to unsigned.
	ForwardSecret signature.Secret
	// ForwardScheme is how ForwardSecret signs: signature.V1,
	// signature.Legacy, or httpdest.SchemeAsReceived (each event in the
	// scheme it arrived with, so an app written for either of Sent's
	// schemes verifies it). Defaults to httpdest.SchemeAsReceived.
	ForwardScheme signature.Scheme
	// ForwardSigner, when set, signs forwarded events as another provider
	// does (a source.Signer), in place of ForwardSecret and ForwardScheme:
	// see httpdest.Config.Signer. Defaults to none.
	ForwardSigner httpdest.Signer
	// ForwardTimeout bounds one forwarding attempt. Defaults to
	// DefaultForwardTimeout.
	ForwardTimeout time.Duration
	// ForwardAttempts bounds the attempts at one event; then its delivery
	// is dead until it is replayed. Defaults to DefaultForwardAttempts.
	ForwardAttempts int
	// ForwardRetry spaces the attempts. Defaults to a backoff from one
	// second, doubling up to a minute.
	ForwardRetry dispatch.RetryPolicy

	// Replay names stored events to deliver to ForwardTo again once the
	// Listener starts: full event ids, the short ids it prints (the last
	// eight characters), or Sent's event ids (see store.FindEvent).
	// Requires ForwardTo.
	Replay []string
	// ReplayFailed delivers every dead forwarded delivery again once the
	// Listener starts. Requires ForwardTo.
	ReplayFailed bool

	// Out receives one line per request and per forwarding attempt.
	// Required.
	Out io.Writer
	// JSON writes those lines as JSON objects, one per line, for jq and
	// scripts. Defaults to false: lines for people.
	JSON bool
	// Status receives the banner and the closing summary. Defaults to Out;
	// with JSON, set it elsewhere (standard error) to keep Out pure JSON.
	Status io.Writer
	// Color paints the output with ANSI colours. Defaults to false.
	Color bool
	// Location is the time zone of the printed times. Defaults to
	// time.Local.
	Location *time.Location
	// Queue bounds the lines waiting to be printed. When it is full a line
	// is dropped and counted, never waited for: requests are answered and
	// stored as usual. Defaults to 1024.
	Queue int
}

// Listener is `hooklatch listen`: a hooklatch server for a laptop that
// prints every request it answers, one line each, and optionally forwards
// each event to the app under development, printing the app's answers.
//
// Printing never holds up a request: the receiver hands each observation
// to a bounded queue without waiting, and one goroutine prints the queue.
type Listener struct {
	cfg    ListenConfig
	srv    *server.Server
	policy dispatch.Policy
	since  time.Time // events received since are this run's

	// Decided before the printer starts, read-only afterwards.
	replayed    map[string]bool // event ids replayed, to mark their lines
	replayNotes []string        // said under the banner

	items       chan listenItem
	dropped     atomic.Int64
	counts      listenCounts
	started     chan struct{}
	stop        chan struct{}
	printerDone chan struct{}
	url         string
}

// listenCounts are the totals printed when the Listener stops.
type listenCounts struct {
	new, duplicate, attention, rejected, other atomic.Int64
	delivered, failed, dead                    atomic.Int64
}

// listenItem is one thing to print: a request the receiver answered, or
// one attempt at forwarding an event.
type listenItem struct {
	forward bool

	at    time.Time
	event *store.Event // without body and headers

	// A request.
	outcome string
	status  int
	result  store.AppendResult
	reason  string
	err     error // the verification error; for an attempt, the destination's
	method  string
	header  map[string][]string // a rejection's, when small enough to diagnose
	body    []byte

	// A forwarding attempt: what the dispatcher recorded and decided.
	done  store.Completion
	spent int // attempts of the current budget, this one included
}

// maxDiagnoseBody is the largest rejected body the printer diagnoses:
// Sent's events are a few hundred bytes, and a bigger one would slow the
// printer and hold memory while it waits in the queue.
const maxDiagnoseBody = 64 << 10

// NewListener opens the store, prepares the replays cfg asks for and
// returns a Listener; Run starts it. Its errors wrap ErrListenConfig or
// server.ErrConfig when cfg is wrong.
func NewListener(ctx context.Context, cfg ListenConfig) (*Listener, error) {
	if cfg.Out == nil {
		return nil, fmt.Errorf("%w: ListenConfig.Out is required", ErrListenConfig)
	}
	if cfg.Status == nil {
		cfg.Status = cfg.Out
	}
	if cfg.Server.StoreOnly || len(cfg.Server.Routes) > 0 || cfg.Server.Observe != nil || cfg.Server.OnStart != nil {
		return nil, fmt.Errorf("%w: the server's Routes, StoreOnly, Observe and OnStart are the Listener's own", ErrListenConfig)
	}
	if cfg.ForwardTo == "" && (len(cfg.Replay) > 0 || cfg.ReplayFailed) {
		return nil, fmt.Errorf("%w: a replay delivers events to your app: pass --forward-to URL with --replay or --replay-failed", ErrListenConfig)
	}
	if cfg.Server.Addr == "" {
		cfg.Server.Addr = DefaultListenAddr
	}
	if cfg.Server.Store == "" {
		cfg.Server.Store = DefaultListenStore
	}
	if cfg.Server.AdminAddr == "" {
		cfg.Server.AdminAddr = "off"
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = DefaultForwardTimeout
	}
	if cfg.ForwardAttempts <= 0 {
		cfg.ForwardAttempts = DefaultForwardAttempts
	}
	if cfg.ForwardRetry == nil {
		cfg.ForwardRetry = dispatch.Backoff{Initial: time.Second, Max: time.Minute}
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Queue <= 0 {
		cfg.Queue = defaultListenQueue
	}

	l := &Listener{
		cfg:         cfg,
		since:       time.Now(),
		replayed:    map[string]bool{},
		items:       make(chan listenItem, cfg.Queue),
		started:     make(chan struct{}),
		stop:        make(chan struct{}),
		printerDone: make(chan struct{}),
	}
	scfg := cfg.Server
	scfg.Observe, scfg.OnStart = l.observe, l.onStart
	if cfg.ForwardTo == "" {
		scfg.StoreOnly = true
	} else {
		app, err := httpdest.New(httpdest.Config{URL: cfg.ForwardTo, Secret: cfg.ForwardSecret,
			Scheme: cmp.Or(cfg.ForwardScheme, httpdest.SchemeAsReceived), Timeout: cfg.ForwardTimeout, Signer: cfg.ForwardSigner})
		if err != nil {
			return nil, fmt.Errorf("%w: --forward-to: %w", ErrListenConfig, err)
		}
		l.policy = dispatch.Policy{MaxAttempts: cfg.ForwardAttempts, Retry: cfg.ForwardRetry, Timeout: cfg.ForwardTimeout}
		scfg.Routes = []dispatch.Route{{Name: ForwardRoute, Destination: app, Policy: l.policy}}
		scfg.OnAttempt = l.onAttempt
	}
	srv, err := server.New(ctx, scfg)
	if err != nil {
		return nil, err
	}
	l.srv = srv
	if err := l.prepareReplays(ctx); err != nil {
		return nil, errors.Join(err, srv.Shutdown())
	}
	return l, nil
}

// Store returns the Listener's store.
func (l *Listener) Store() store.Store { return l.srv.Store() }

// Started is closed once the Listener receives webhooks and has printed
// its banner.
func (l *Listener) Started() <-chan struct{} { return l.started }

// URL is where the Listener receives webhooks, once Started is closed.
func (l *Listener) URL() string { return l.url }

// Run receives, prints and forwards until ctx is done, then shuts down
// gracefully: requests in flight are answered, forwarding attempts in
// flight finish and are recorded, the lines queued are printed, and a
// summary ends the output.
func (l *Listener) Run(ctx context.Context) error {
	err := l.srv.Run(ctx)
	select {
	case <-l.started:
	default:
		return err // never started: nothing was printed
	}
	close(l.stop)
	<-l.printerDone
	fmt.Fprintf(l.cfg.Status, "\n%s\n", l.summary())
	return err
}

// onStart prints the banner and starts the printer and the replays that
// have no delivery. The server calls it once it is serving.
func (l *Listener) onStart(s *server.Server) {
	l.url = s.URL()
	l.writeBanner(l.cfg.Status)
	for _, n := range l.replayNotes {
		fmt.Fprintln(l.cfg.Status, n)
	}
	fmt.Fprintln(l.cfg.Status)
	go l.print()
	close(l.started)
}

func (l *Listener) writeBanner(w io.Writer) {
	st := listenStyle{l.cfg.Color}
	schemes := "v1 and legacy"
	if len(l.cfg.Server.Schemes) > 0 {
		var names []string
		for _, s := range l.cfg.Server.Schemes {
			names = append(names, string(s))
		}
		schemes = strings.Join(names, " and ") + " only"
	}
	n := len(l.cfg.Server.Secrets)
	if src := l.source(); src != nil {
		fmt.Fprintf(w, "%s receiving %s webhooks\n", st.bold("hooklatch listen"), src.Provider())
		fmt.Fprintf(w, "  listening   %s  (signatures: %s's)\n", l.url, src.Provider())
	} else {
		fmt.Fprintf(w, "%s receiving Sent webhooks\n", st.bold("hooklatch listen"))
		fmt.Fprintf(w, "  listening   %s  (signatures: %s, %d %s)\n", l.url, schemes, n, Plural(n, "secret", "secrets"))
	}
	fmt.Fprintf(w, "  store       %s  (every event is kept, so nothing is lost while your app is down)\n", l.cfg.Server.Store)
	if l.cfg.ForwardTo != "" {
		signed := "unsigned"
		if fp := l.cfg.ForwardSecret.Fingerprint(); fp != "" {
			how := string(cmp.Or(l.cfg.ForwardScheme, httpdest.SchemeAsReceived))
			if how == string(httpdest.SchemeAsReceived) {
				how = "as received (v1 or legacy)"
			}
			signed = "signed " + how + " with secret fp " + fp
		}
		if src := l.source(); src != nil && l.cfg.ForwardSigner != nil {
			signed = "signed as " + src.Provider() + " signs, afresh on every attempt"
		}
		fmt.Fprintf(w, "  forwarding  %s  (%s; %d %s, %s timeout each)\n", redactURL(l.cfg.ForwardTo), signed,
			l.cfg.ForwardAttempts, Plural(l.cfg.ForwardAttempts, "attempt", "attempts"), shortDuration(l.cfg.ForwardTimeout))
	} else {
		fmt.Fprintf(w, "  forwarding  none: events are stored and printed (add --forward-to URL to send them to your app)\n")
	}
	if src := l.source(); src != nil {
		if types := ProviderSampleTypes(src.Provider()); len(types) > 0 {
			fmt.Fprintf(w, "  try         hooklatch trigger --provider %s %s --to %s\n", src.Provider(), types[0], l.url)
		}
		return
	}
	fmt.Fprintf(w, "  try         hooklatch trigger message.delivered --to %s\n", l.url)
}

// source is the provider a Listener receives instead of Sent: its one
// source, when it has no Sent secret; nil for Sent.
func (l *Listener) source() source.Source {
	if len(l.cfg.Server.Secrets) == 0 && len(l.cfg.Server.Sources) == 1 {
		return l.cfg.Server.Sources[0].Source
	}
	return nil
}

// diagnose explains a rejected request by the rules it was refused by.
func (l *Listener) diagnose(it listenItem) signature.Diagnosis {
	if src := l.source(); src != nil {
		return src.Diagnose(http.Header(it.header), "", it.body, it.at)
	}
	return signature.Diagnose(it.header, it.body, l.cfg.Server.Secrets, it.at, l.cfg.Server.Tolerance)
}

// redactURL hides a password in a URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// observe is the receiver's Observe hook: it runs on the request path, so
// it copies what the printer needs and queues it without waiting.
func (l *Listener) observe(o receiver.Observation) {
	switch o.Outcome {
	case "accepted":
		l.counts.new.Add(1)
	case "attention":
		l.counts.new.Add(1)
		l.counts.attention.Add(1)
	case "duplicate":
		l.counts.duplicate.Add(1)
	case "rejected":
		l.counts.rejected.Add(1)
	default:
		l.counts.other.Add(1)
	}
	it := listenItem{at: o.At, outcome: o.Outcome, status: o.StatusCode, result: o.Result,
		reason: o.Reason, err: o.Err, method: o.Method}
	if o.Event != nil {
		it.event = bareEvent(&store.Event{EventData: o.Event.EventData})
	}
	if o.Outcome == "rejected" && len(o.Body) <= maxDiagnoseBody {
		it.header, it.body = o.Header, o.Body
	}
	l.enqueue(it)
}

// bare copies ev without its body and headers, so that a queued line does
// not hold them.
func bareEvent(ev *store.Event) *store.Event {
	e := *ev
	e.Body, e.Headers = nil, nil
	return &e
}

// enqueue hands it to the printer, or counts it as dropped.
func (l *Listener) enqueue(it listenItem) {
	select {
	case l.items <- it:
	default:
		l.dropped.Add(1)
	}
}

// onAttempt is the dispatcher's report of one forwarding attempt, once
// recorded: it counts it and hands it to the printer.
func (l *Listener) onAttempt(a dispatch.Attempted) {
	switch a.Completion.Status {
	case store.DeliverySucceeded:
		l.counts.delivered.Add(1)
	case store.DeliveryDead:
		l.counts.dead.Add(1)
	default:
		l.counts.failed.Add(1)
	}
	l.enqueue(listenItem{forward: true, at: a.Completion.Attempt.StartedAt, event: bareEvent(a.Event), done: a.Completion, spent: a.Spent, err: a.Err})
}

// prepareReplays requeues what cfg.Replay and cfg.ReplayFailed name,
// before the dispatcher starts, and notes what it did for the banner.
func (l *Listener) prepareReplays(ctx context.Context) error {
	if len(l.cfg.Replay) == 0 && !l.cfg.ReplayFailed {
		return nil
	}
	st := l.srv.Store()
	now := time.Now()
	if l.cfg.Server.Clock != nil {
		now = l.cfg.Server.Clock.Now()
	}
	var requeued []string
	for _, ref := range l.cfg.Replay {
		ev, err := findEvent(ctx, st, ref, l.cfg.Server.Store)
		if err != nil {
			return err
		}
		if l.replayed[ev.ID] {
			continue
		}
		l.replayed[ev.ID] = true
		dls, err := st.ListDeliveries(ctx, store.DeliveryFilter{EventID: ev.ID, Destination: ForwardRoute})
		if err != nil {
			return fmt.Errorf("replay %s: %w", ref, err)
		}
		if len(dls) == 0 {
			// Stored while nothing was forwarded: it gets its delivery now,
			// retried like any other.
			if _, err := st.AddDeliveries(ctx, []string{ev.ID}, ForwardRoute, now); err != nil {
				return fmt.Errorf("replay %s: %w", ref, err)
			}
			requeued = append(requeued, shortEventID(ev.ID))
			continue
		}
		n, err := st.Requeue(ctx, store.DeliverySelector{EventIDs: []string{ev.ID}, Destination: ForwardRoute}, now)
		if err != nil {
			return fmt.Errorf("replay %s: %w", ref, err)
		}
		if n == 0 {
			l.replayNotes = append(l.replayNotes, fmt.Sprintf(
				"  replay      %s is already being delivered by a listener that stopped without finishing: it is tried again once that attempt's lease runs out",
				shortEventID(ev.ID)))
			continue
		}
		requeued = append(requeued, shortEventID(ev.ID))
	}
	if len(requeued) > 0 {
		l.replayNotes = append(l.replayNotes, fmt.Sprintf("  replay      %d %s queued for %s: %s",
			len(requeued), Plural(len(requeued), "event", "events"), redactURL(l.cfg.ForwardTo), strings.Join(requeued, " ")))
	}
	if l.cfg.ReplayFailed {
		n, err := l.requeueDead(ctx, st, now)
		if err != nil {
			return fmt.Errorf("replay failed deliveries: %w", err)
		}
		if n == 0 {
			l.replayNotes = append(l.replayNotes, "  replay      no dead deliveries to replay: every forwarded event was delivered or is still being retried")
		} else {
			l.replayNotes = append(l.replayNotes, fmt.Sprintf("  replay      %d dead %s queued for %s",
				n, Plural(n, "delivery", "deliveries"), redactURL(l.cfg.ForwardTo)))
		}
	}
	return nil
}

// requeueDead requeues every dead forwarded delivery and marks their
// events as replayed.
func (l *Listener) requeueDead(ctx context.Context, st store.Store, now time.Time) (int, error) {
	var ids []int64
	for after := int64(0); ; {
		page, err := st.ListDeliveries(ctx, store.DeliveryFilter{Status: store.DeliveryDead, Destination: ForwardRoute, AfterID: after, Limit: 1000})
		if err != nil {
			return 0, err
		}
		for _, d := range page {
			ids = append(ids, d.ID)
			l.replayed[d.EventID] = true
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	total := 0
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		n, err := st.Requeue(ctx, store.DeliverySelector{IDs: chunk}, now)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// findEvent finds the event ref names (store.FindEvent): its id, the end
// of its id (the short id listen prints), or Sent's event id.
func findEvent(ctx context.Context, st store.Store, ref, storePath string) (*store.Event, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("%w: --replay: empty event id", ErrListenConfig)
	}
	ev, err := store.FindEvent(ctx, st, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: --replay %s: no such event in %s (give an id that listen printed, or one from 'hooklatch events ls --store %s')",
			ErrListenConfig, ref, storePath, storePath)
	}
	if amb, ok := errors.AsType[*store.AmbiguousError](err); ok {
		return nil, fmt.Errorf("%w: --replay %w", ErrListenConfig, amb)
	}
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", ref, err)
	}
	return ev, nil
}

// summary is the last line: what the Listener saw.
func (l *Listener) summary() string {
	c := &l.counts
	newN, dup, rej := c.new.Load(), c.duplicate.Load(), c.rejected.Load()
	total := newN + dup + rej + c.other.Load()
	s := fmt.Sprintf("stopped after %d %s: %d new, %d %s, %d rejected",
		total, Plural(int(total), "request", "requests"), newN, dup, Plural(int(dup), "duplicate", "duplicates"), rej)
	if o := c.other.Load(); o > 0 {
		s += fmt.Sprintf(", %d refused", o)
	}
	if a := c.attention.Load(); a > 0 {
		s += fmt.Sprintf("; %d %s attention", a, Plural(int(a), "needs", "need"))
	}
	if l.cfg.ForwardTo != "" {
		s += fmt.Sprintf("; forwarding: %d delivered, %d failed %s, %d dead",
			c.delivered.Load(), c.failed.Load(), Plural(int(c.failed.Load()), "attempt", "attempts"), c.dead.Load())
	}
	if d := l.dropped.Load(); d > 0 {
		s += fmt.Sprintf("; %d %s not printed", d, Plural(int(d), "line", "lines"))
	}
	return s
}

// shortEventID is the part of an event id listen prints: its last eight
// characters, which are random in the UUIDv7 ids hooklatch makes (their
// first ones are the time, shared by events close together).
// store.FindEvent, behind every command that takes an event id, takes it
// back.
func shortEventID(id string) string {
	if len(id) <= 8 {
		return id
	}
	return id[len(id)-8:]
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
