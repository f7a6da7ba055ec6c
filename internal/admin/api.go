package admin

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store"
)

//go:embed openapi.json
var openAPI []byte

func (a *Admin) routes() {
	m := a.mux
	m.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	m.HandleFunc("GET /v1/events", a.apiEvents)
	m.HandleFunc("GET /v1/events/{id}", a.apiEvent)
	m.HandleFunc("POST /v1/events/{id}/{action}", a.apiEventAction)
	m.HandleFunc("POST /v1/deliveries/{id}/{action}", a.apiDeliveryAction)
	m.HandleFunc("POST /v1/actions/{action}", a.apiBulkAction)
	m.HandleFunc("POST /v1/actions/backfill", a.apiBackfill)
	m.HandleFunc("GET /v1/rejections", a.apiRejections)
	m.HandleFunc("GET /v1/rejections/{id}", a.apiRejection)
	m.HandleFunc("POST /v1/rejections/release", a.apiRelease)
	m.HandleFunc("POST /v1/rejections/{id}/release", a.apiReleaseOne)
	m.HandleFunc("GET /v1/subjects/{subject}", a.apiSubject)
	m.HandleFunc("GET /v1/destinations", a.apiDestinations)
	m.HandleFunc("POST /v1/destinations/{name}/{action}", a.apiDestinationAction)
	m.HandleFunc("GET /v1/stats", a.apiStats)
	m.HandleFunc("GET /v1/stream", a.apiStream)
	m.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path+" (GET /v1/openapi.json lists them)")
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, map[string]string{"error": code, "detail": detail})
}

// badRequest is an error in what the caller sent, answered 400.
type badRequest struct{ error }

func bad(format string, a ...any) error { return badRequest{fmt.Errorf(format, a...)} }

// fail answers err: 400 for the caller's mistakes, 404 for a name that
// names nothing, 409 for one that names several, 500 otherwise.
func (a *Admin) fail(w http.ResponseWriter, r *http.Request, err error) {
	var amb *store.AmbiguousError
	switch {
	case errors.As(err, &amb):
		writeError(w, http.StatusConflict, "ambiguous", amb.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", strings.TrimPrefix(err.Error(), store.ErrNotFound.Error()+": "))
	case isBadRequest(err):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
	default:
		a.cfg.Logger.Error("admin API", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the store could not answer; the log says why")
	}
}

// parseTime is inspect.ParseTime, its error the caller's mistake.
func parseTime(name, v string, now time.Time) (time.Time, error) {
	t, err := inspect.ParseTime(name, v, now)
	if err != nil {
		return t, badRequest{err}
	}
	return t, nil
}

// FilterParams are the event filters, as query parameters or JSON.
type FilterParams struct {
	Type      string `json:"type,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Source    string `json:"source,omitempty"`
	Delivery  string `json:"delivery,omitempty"`
	Attention string `json:"attention,omitempty"`
	Since     string `json:"since,omitempty"`
	Until     string `json:"until,omitempty"`
}

func (p FilterParams) empty() bool { return p == FilterParams{} }

func filterFromQuery(v url.Values) FilterParams {
	return FilterParams{Type: v.Get("type"), Subject: v.Get("subject"), Source: v.Get("source"), Delivery: v.Get("delivery"),
		Attention: v.Get("attention"), Since: v.Get("since"), Until: v.Get("until")}
}

func (p FilterParams) query(now time.Time) (inspect.Query, error) {
	q := inspect.Query{Filter: store.EventFilter{Type: p.Type, Subject: p.Subject, Source: p.Source, Delivery: store.DeliveryStatus(p.Delivery)}, Attention: p.Attention}
	var err error
	if q.Filter.Since, err = parseTime("since", p.Since, now); err != nil {
		return q, err
	}
	if q.Filter.Until, err = parseTime("until", p.Until, now); err != nil {
		return q, err
	}
	if err := q.Validate(); err != nil {
		return q, badRequest{err}
	}
	return q, nil
}

// listedEvent is an event in a list, with its delivery state: the word
// that sums it up, and the text that counts its deliveries in each state
// ("1 of 3 deliveries dead, 2 succeeded").
type listedEvent struct {
	store.Event
	Delivery     store.DeliveryStatus `json:"delivery"`
	DeliveryText string               `json:"delivery_text"`
}

type eventPage struct {
	Events []listedEvent `json:"events"`
	Next   string        `json:"next,omitempty"`
}

func (a *Admin) listEvents(r *http.Request) (eventPage, inspect.Query, error) {
	v := r.URL.Query()
	q, err := filterFromQuery(v).query(a.now())
	if err != nil {
		return eventPage{}, q, err
	}
	q.Cursor = v.Get("cursor")
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return eventPage{}, q, bad("limit %q: want a number from 1 to 1000", s)
		}
		q.Filter.Limit = n
	}
	if err := q.Validate(); err != nil {
		return eventPage{}, q, badRequest{err}
	}
	p, err := a.in.List(r.Context(), q)
	if err != nil {
		return eventPage{}, q, err
	}
	out := eventPage{Events: make([]listedEvent, len(p.Events)), Next: p.Next}
	for i, ev := range p.Events {
		out.Events[i] = listedEvent{ev, ev.DeliveryState(), ev.DeliveryText()}
	}
	return out, q, nil
}

func (a *Admin) apiEvents(w http.ResponseWriter, r *http.Request) {
	p, _, err := a.listEvents(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// eventDetail is GET /v1/events/{id}.
type eventDetail struct {
	*store.Event
	Delivery     store.DeliveryStatus `json:"delivery"`
	DeliveryText string               `json:"delivery_text"`
	// Body is the raw body when it is JSON; BodyText is it as text
	// whatever it is, and BodyBase64 byte for byte.
	Body          json.RawMessage    `json:"body,omitempty"`
	BodyText      string             `json:"body_text"`
	BodyBase64    []byte             `json:"body_base64"`
	Envelope      *inspect.Envelope  `json:"envelope,omitempty"`
	EnvelopeError string             `json:"envelope_error,omitempty"`
	Deliveries    []inspect.Timeline `json:"deliveries"`
	FilteredOut   []string           `json:"filtered_out,omitempty"`
}

func newEventDetail(d *inspect.Detail) eventDetail {
	out := eventDetail{Event: d.Event, Delivery: d.State, DeliveryText: d.Event.DeliveryText(), BodyText: string(d.Event.Body), BodyBase64: d.Event.Body,
		Envelope: d.Envelope, EnvelopeError: d.EnvelopeError, Deliveries: d.Deliveries, FilteredOut: d.FilteredOut}
	if json.Valid(d.Event.Body) {
		out.Body = d.Event.Body
	}
	return out
}

// event is the detail of the event ref names, with the destinations its
// content is filtered out of.
func (a *Admin) event(ctx context.Context, ref string) (*inspect.Detail, error) {
	d, err := a.in.Event(ctx, ref)
	if err == nil && a.cfg.FilteredOut != nil {
		d.FilteredOut = a.cfg.FilteredOut(d.Event)
	}
	return d, err
}

func (a *Admin) apiEvent(w http.ResponseWriter, r *http.Request) {
	d, err := a.event(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newEventDetail(d))
}

// apiSubject answers a subject's latest state and its events, newest
// first; ?source= names the source (Sent's by default).
func (a *Admin) apiSubject(w http.ResponseWriter, r *http.Request) {
	d, err := a.in.Subject(r.Context(), r.URL.Query().Get("source"), r.PathValue("subject"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// actionResult answers every action.
type actionResult struct {
	Action  string `json:"action"`
	Touched int    `json:"touched"`
}

func (a *Admin) run(w http.ResponseWriter, r *http.Request, action string, t inspect.Target) {
	var do func(*http.Request, inspect.Target) (int, error)
	switch action {
	case "retry":
		do = func(r *http.Request, t inspect.Target) (int, error) { return a.in.Retry(r.Context(), t) }
	case "replay":
		do = func(r *http.Request, t inspect.Target) (int, error) { return a.in.Replay(r.Context(), t) }
	case "discard":
		do = func(r *http.Request, t inspect.Target) (int, error) { return a.in.Discard(r.Context(), t) }
	default:
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no action %q: retry, replay or discard", action))
		return
	}
	n, err := do(r, t)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if n > 0 && action != "discard" {
		a.cfg.Notify()
	}
	writeJSON(w, http.StatusOK, actionResult{action, n})
}

func (a *Admin) apiEventAction(w http.ResponseWriter, r *http.Request) {
	evs, err := a.in.Find(r.Context(), []string{r.PathValue("id")})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.run(w, r, r.PathValue("action"), inspect.Target{EventIDs: []string{evs[0].ID}, Destination: r.URL.Query().Get("destination")})
}

func (a *Admin) apiDeliveryAction(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.fail(w, r, bad("delivery id %q: want a number", r.PathValue("id")))
		return
	}
	a.run(w, r, r.PathValue("action"), inspect.Target{DeliveryIDs: []int64{id}})
}

// BulkAction is the body of POST /v1/actions/{retry,replay,discard}.
type BulkAction struct {
	EventIDs    []string      `json:"event_ids,omitempty"`
	DeliveryIDs []int64       `json:"delivery_ids,omitempty"`
	Filter      *FilterParams `json:"filter,omitempty"`
	// Dead alone: every dead delivery.
	Dead        bool   `json:"dead,omitempty"`
	Destination string `json:"destination,omitempty"`
	// DryRun, with a filter, does nothing but count the events the
	// action would touch (up to bulkCountCap: dryRunResult).
	DryRun bool `json:"dry_run,omitempty"`
}

// dryRunResult is the answer of a bulk action with dry_run: how many
// events its filter selects. More: more than Events, the count stopped
// there; Partial: at least Events, counted among the newest only.
type dryRunResult struct {
	Action  string `json:"action"`
	DryRun  bool   `json:"dry_run"`
	Events  int    `json:"events"`
	More    bool   `json:"more,omitempty"`
	Partial bool   `json:"partial,omitempty"`
}

// decode reads a small JSON body into v, refusing unknown fields.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return bad("request body: %v", err)
	}
	return nil
}

func (a *Admin) apiBulkAction(w http.ResponseWriter, r *http.Request) {
	var b BulkAction
	if err := decode(r, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.bulkTarget(r.Context(), b)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if b.DryRun {
		a.dryRun(w, r, r.PathValue("action"), t)
		return
	}
	a.run(w, r, r.PathValue("action"), t)
}

// dryRun counts the events of t's filter that action would touch: for
// retry, those with a dead delivery (what Retry narrows the filter to).
func (a *Admin) dryRun(w http.ResponseWriter, r *http.Request, action string, t inspect.Target) {
	switch {
	case action != "retry" && action != "replay" && action != "discard":
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no action %q: retry, replay or discard", action))
		return
	case t.Filter == nil || len(t.EventIDs) > 0 || len(t.DeliveryIDs) > 0 || t.Dead:
		a.fail(w, r, bad("dry_run counts the events of a filter: give a filter alone"))
		return
	}
	q := *t.Filter
	if action == "retry" && q.Filter.Delivery == "" {
		q.Filter.Delivery = store.DeliveryDead
	}
	c, err := a.in.Count(r.Context(), q, bulkCountCap)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dryRunResult{Action: action, DryRun: true, Events: c.N, More: c.More, Partial: c.Partial})
}

// bulkTarget is what a bulk action acts on: the API's, and the
// dashboard's on a filtered list of events.
func (a *Admin) bulkTarget(ctx context.Context, b BulkAction) (inspect.Target, error) {
	t := inspect.Target{DeliveryIDs: b.DeliveryIDs, Dead: b.Dead, Destination: b.Destination}
	if len(b.EventIDs) > 0 {
		evs, err := a.in.Find(ctx, b.EventIDs)
		if err != nil {
			return t, err
		}
		for _, ev := range evs {
			t.EventIDs = append(t.EventIDs, ev.ID)
		}
	}
	if b.Filter != nil {
		// A filter that matches everything would touch every delivery ever
		// made: it must say something.
		if b.Filter.empty() {
			return t, bad("an empty filter would select every event: give type, subject, delivery, attention, since or until")
		}
		q, err := b.Filter.query(a.now())
		if err != nil {
			return t, err
		}
		t.Filter = &q
	}
	return t, nil
}

// BackfillRequest is the body of POST /v1/actions/backfill.
type BackfillRequest struct {
	// Destination is a destination of the serve, by name. Required.
	Destination string `json:"destination"`
	// Filter selects the events; All, instead, every stored event.
	Filter *FilterParams `json:"filter,omitempty"`
	All    bool          `json:"all,omitempty"`
}

// apiBackfill gives the events a filter selects a delivery to a
// destination that has none of them yet (inspect.Backfill).
func (a *Admin) apiBackfill(w http.ResponseWriter, r *http.Request) {
	var b BackfillRequest
	if err := decode(r, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	if b.Destination == "" {
		a.fail(w, r, bad(`name the destination to backfill ("destination": "forward")`))
		return
	}
	empty := b.Filter == nil || b.Filter.empty()
	if empty == !b.All {
		a.fail(w, r, bad(`give a filter that says which events ("filter": {"since": "24h"}), or "all": true, not both`))
		return
	}
	var q inspect.Query
	if !empty {
		var err error
		if q, err = b.Filter.query(a.now()); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	n, err := a.in.Backfill(r.Context(), b.Destination, q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if n > 0 {
		a.cfg.Notify()
	}
	writeJSON(w, http.StatusOK, actionResult{"backfill", n})
}

func (a *Admin) apiRejections(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			a.fail(w, r, bad("limit %q: want a number from 1 to 10000", s))
			return
		}
		limit = n
	}
	rs, err := a.in.Rejections(r.Context(), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rs)
}

// rejectionDetail is GET /v1/rejections/{id}: with the body as kept.
type rejectionDetail struct {
	*store.Rejection
	BodyText   string `json:"body_text"`
	BodyBase64 []byte `json:"body_base64"`
}

func (a *Admin) rejectionID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, bad("rejection id %q: want a number", r.PathValue("id"))
	}
	return id, nil
}

func (a *Admin) apiRejection(w http.ResponseWriter, r *http.Request) {
	id, err := a.rejectionID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rj, err := a.in.Rejection(r.Context(), id)
	if err != nil {
		a.fail(w, r, fmt.Errorf("%w: no rejection %d (it may have been dropped to stay within the log's caps)", err, id))
		return
	}
	writeJSON(w, http.StatusOK, rejectionDetail{rj, string(rj.Body), rj.Body})
}

// ReleaseRequest is the body of POST /v1/rejections/release.
type ReleaseRequest struct {
	IDs []int64 `json:"ids,omitempty"`
	All bool    `json:"all,omitempty"`
}

func (a *Admin) apiRelease(w http.ResponseWriter, r *http.Request) {
	var b ReleaseRequest
	if err := decode(r, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	if b.All == (len(b.IDs) > 0) {
		a.fail(w, r, bad(`name rejection ids ("ids": [1, 2]) or pass "all": true`))
		return
	}
	a.release(w, r, b.IDs)
}

func (a *Admin) apiReleaseOne(w http.ResponseWriter, r *http.Request) {
	id, err := a.rejectionID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.release(w, r, []int64{id})
}

func (a *Admin) release(w http.ResponseWriter, r *http.Request, ids []int64) {
	rep, err := a.in.Release(r.Context(), a.cfg.Secrets, ids)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if rep.Outcomes == nil {
		rep.Outcomes = []inspect.ReleaseOutcome{}
	}
	if rep.Released > 0 {
		a.cfg.Notify()
	}
	writeJSON(w, http.StatusOK, rep)
}

// statsReport is GET /v1/stats.
type statsReport struct {
	Minutes                   []Minute    `json:"minutes"`
	Queue                     Queue       `json:"queue"`
	Totals                    store.Stats `json:"totals"`
	ReceiverUnavailableSecs   float64     `json:"receiver_unavailable_seconds"`
	SenderRetryHorizonSeconds float64     `json:"sender_retry_horizon_seconds"`
}

func (a *Admin) statsReport(r *http.Request) (statsReport, error) {
	now := a.now()
	q, totals, err := readQueue(r.Context(), a.cfg.Store, now)
	if err != nil {
		return statsReport{}, err
	}
	a.stats.setQueue(q) // the gauges may as well be as fresh
	return statsReport{Minutes: a.stats.report(now), Queue: q, Totals: totals,
		ReceiverUnavailableSecs: a.stats.unavailable(now).Seconds(), SenderRetryHorizonSeconds: SenderRetryHorizon.Seconds()}, nil
}

func (a *Admin) apiStats(w http.ResponseWriter, r *http.Request) {
	rep, err := a.statsReport(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (a *Admin) apiDestinations(w http.ResponseWriter, r *http.Request) {
	ds, err := a.in.Destinations(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"destinations": ds})
}

// apiDestinationAction pauses or resumes a destination: POST
// /v1/destinations/{name}/pause or /resume. A resume wakes the dispatcher.
func (a *Admin) apiDestinationAction(w http.ResponseWriter, r *http.Request) {
	var paused bool
	switch r.PathValue("action") {
	case "pause":
		paused = true
	case "resume":
	default:
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no action %q: pause or resume", r.PathValue("action")))
		return
	}
	d, err := a.in.Pause(r.Context(), r.PathValue("name"), paused)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.cfg.Notify()
	writeJSON(w, http.StatusOK, d)
}
