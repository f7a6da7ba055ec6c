package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/signature"
)

// Op is one read measured at size: a GET on serve's admin listener, or a
// hooklatch command run against the store.
type Op struct {
	Name string
	Path string   // GET this on the admin listener, or
	Args []string // run hooklatch with these (and --store)
}

// OpResult is how long an Op took over its runs.
type OpResult struct {
	Name     string
	P50, P95 time.Duration
	Runs     int
	Err      string // the first failure, if any run failed
}

// Sample is one event of the store the reads look up, found through the
// admin API.
type Sample struct {
	ID, DedupeKey, Subject string
	Seq                    int64
	RejectionID            int64
}

// SentID is the event id Sent sent for the sample.
func (s Sample) SentID() string { return strings.TrimPrefix(s.DedupeKey, "event-id:") }

// Ops are the reads measured at each size: every dashboard page (the
// bulk actions' confirmations with three filters), every
// list and lookup of the admin API, /v1/stats, and the events and
// rejections commands with each filter and each kind of id. A type
// pattern that no stored event matches (email.*) is the worst case of a
// filter the store cannot answer from an index: it reads every event.
func Ops(s Sample) []Op {
	short := s.ID[len(s.ID)-8:]
	mid := strconv.FormatInt(s.Seq+1, 10) // a page that starts at the sample
	filters := []struct{ name, query string }{
		{"", ""},
		{"type exact", "type=message.delivered"},
		{"type message.*", "type=" + url.QueryEscape("message.*")},
		{"type email.* (none stored)", "type=" + url.QueryEscape("email.*")},
		{"subject", "subject=" + url.QueryEscape(s.Subject)},
		{"source payments (none stored)", "source=payments"},
		{"delivery dead", "delivery=dead"},
		{"delivery pending", "delivery=pending"},
		{"delivery succeeded", "delivery=succeeded"},
		{"delivery discarded (none stored)", "delivery=discarded"},
		{"delivery none (none stored)", "delivery=none"},
		{"attention", "attention=only"},
		{"since 1h", "since=1h"},
		{"page mid-store", "cursor=" + mid},
	}
	var ops []Op
	ops = append(ops, Op{Name: "/ui/", Path: "/ui/"}, Op{Name: "/ui/charts", Path: "/ui/charts"})
	for _, f := range filters {
		ops = append(ops, Op{Name: strings.TrimSpace("/ui/events " + f.name), Path: "/ui/events?" + f.query})
	}
	ops = append(ops,
		Op{Name: "/ui/events/{id}", Path: "/ui/events/" + s.ID},
		Op{Name: "/ui/events/{short id}", Path: "/ui/events/" + short},
		Op{Name: "/ui/subjects/{subject}", Path: "/ui/subjects/" + url.PathEscape(s.Subject)},
		Op{Name: "/ui/dead", Path: "/ui/dead"},
		// The bulk actions' confirmations count what the filter selects.
		Op{Name: "/ui/actions/{action} replay type exact", Path: "/ui/actions/replay?type=message.delivered"},
		Op{Name: "/ui/actions/{action} retry type message.*", Path: "/ui/actions/retry?type=" + url.QueryEscape("message.*")},
		Op{Name: "/ui/actions/{action} replay since 1h", Path: "/ui/actions/replay?since=1h"},
		Op{Name: "/ui/rejections", Path: "/ui/rejections"},
		Op{Name: "/ui/rejections/{id}", Path: "/ui/rejections/" + strconv.FormatInt(s.RejectionID, 10)},
		Op{Name: "/v1/stats", Path: "/v1/stats"},
		Op{Name: "/v1/destinations", Path: "/v1/destinations"},
	)
	for _, f := range filters {
		ops = append(ops, Op{Name: strings.TrimSpace("/v1/events " + f.name), Path: "/v1/events?" + f.query})
	}
	ops = append(ops,
		Op{Name: "/v1/events/{id}", Path: "/v1/events/" + s.ID},
		Op{Name: "/v1/events/{short id}", Path: "/v1/events/" + short},
		Op{Name: "/v1/events/{Sent's id}", Path: "/v1/events/" + url.PathEscape(s.SentID())},
		Op{Name: "/v1/events/{dedupe key}", Path: "/v1/events/" + url.PathEscape(s.DedupeKey)},
		Op{Name: "/v1/subjects/{subject}", Path: "/v1/subjects/" + url.PathEscape(s.Subject)},
		Op{Name: "/v1/rejections", Path: "/v1/rejections"},
		Op{Name: "/v1/rejections/{id}", Path: "/v1/rejections/" + strconv.FormatInt(s.RejectionID, 10)},
		Op{Name: "/metrics", Path: "/metrics"},
		Op{Name: "events show id", Args: []string{"events", "show", s.ID}},
		Op{Name: "events show short id", Args: []string{"events", "show", short}},
		Op{Name: "events show Sent's id", Args: []string{"events", "show", s.SentID()}},
		Op{Name: "events show dedupe key", Args: []string{"events", "show", s.DedupeKey}},
		Op{Name: "events ls", Args: []string{"events", "ls"}},
		Op{Name: "events ls --type exact", Args: []string{"events", "ls", "--type", "message.delivered"}},
		Op{Name: "events ls --type message.*", Args: []string{"events", "ls", "--type", "message.*"}},
		Op{Name: "events ls --type email.* (none stored)", Args: []string{"events", "ls", "--type", "email.*"}},
		Op{Name: "events ls --subject", Args: []string{"events", "ls", "--subject", s.Subject}},
		Op{Name: "events ls --status dead", Args: []string{"events", "ls", "--status", "dead"}},
		Op{Name: "events ls --status pending", Args: []string{"events", "ls", "--status", "pending"}},
		Op{Name: "events ls --status discarded (none stored)", Args: []string{"events", "ls", "--status", "discarded"}},
		Op{Name: "events ls --status none (none stored)", Args: []string{"events", "ls", "--status", "none"}},
		Op{Name: "events ls --since 1h", Args: []string{"events", "ls", "--since", "1h"}},
		Op{Name: "subjects show", Args: []string{"subjects", "show", s.Subject}},
		Op{Name: "rejections ls", Args: []string{"rejections", "ls"}},
	)
	return ops
}

// Reader runs Ops against one serve and its store.
type Reader struct {
	Exe   string // hooklatch, for the commands
	Store string // their --store
	Admin string // serve's admin base URL
	// Runs is how many times each op runs, unless Budget is spent first
	// (after at least MinRuns).
	Runs, MinRuns int
	Budget        time.Duration
	client        http.Client
}

// Run measures op.
func (r *Reader) Run(ctx context.Context, op Op) OpResult {
	res := OpResult{Name: op.Name}
	var lat []time.Duration
	start := time.Now()
	for len(lat) < r.Runs && (len(lat) < r.MinRuns || time.Since(start) < r.Budget) && ctx.Err() == nil {
		t0 := time.Now()
		err := r.once(ctx, op)
		lat = append(lat, time.Since(t0))
		if err != nil && res.Err == "" {
			res.Err = err.Error()
		}
	}
	slices.Sort(lat)
	res.Runs, res.P50, res.P95 = len(lat), percentile(lat, 0.50), percentile(lat, 0.95)
	return res
}

func (r *Reader) once(ctx context.Context, op Op) error {
	if op.Path == "" {
		cmd := exec.CommandContext(ctx, r.Exe, append(op.Args, "--store", r.Store)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %.200s", strings.Join(op.Args, " "), err, out)
		}
		return nil
	}
	body, err := r.get(ctx, op.Path)
	if err == nil {
		_, err = io.Copy(io.Discard, body)
		body.Close()
	}
	return err
}

// get answers GET path on serve's admin listener with the body of a 200.
func (r *Reader) get(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Admin+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, msg)
	}
	return resp.Body, nil
}

// getJSON decodes the answer to GET path.
func (r *Reader) getJSON(ctx context.Context, path string, v any) error {
	body, err := r.get(ctx, path)
	if err != nil {
		return err
	}
	defer body.Close()
	return json.NewDecoder(body).Decode(v)
}

// Events is how many events the store holds, by /v1/stats.
func (r *Reader) Events(ctx context.Context) (int64, error) {
	var stats struct {
		Totals struct {
			Events int64 `json:"events"`
		} `json:"totals"`
	}
	err := r.getJSON(ctx, "/v1/stats", &stats)
	return stats.Totals.Events, err
}

// FindSample picks an event in the middle of the store (by sequence) that
// Sent sent with an event id and that has a subject, and a kept rejection.
func (r *Reader) FindSample(ctx context.Context) (Sample, error) {
	type page struct {
		Events []struct {
			ID        string `json:"id"`
			Seq       int64  `json:"seq"`
			DedupeKey string `json:"dedupe_key"`
			Subject   string `json:"subject"`
		} `json:"events"`
	}
	var newest page
	if err := r.getJSON(ctx, "/v1/events?limit=1", &newest); err != nil {
		return Sample{}, err
	}
	if len(newest.Events) == 0 {
		return Sample{}, errors.New("the store holds no event to look up")
	}
	var mid page
	if err := r.getJSON(ctx, fmt.Sprintf("/v1/events?limit=100&cursor=%d", max(newest.Events[0].Seq/2, 2)), &mid); err != nil {
		return Sample{}, err
	}
	var s Sample
	for _, e := range append(mid.Events, newest.Events...) {
		if e.Subject != "" && strings.HasPrefix(e.DedupeKey, "event-id:") {
			s = Sample{ID: e.ID, DedupeKey: e.DedupeKey, Subject: e.Subject, Seq: e.Seq}
			break
		}
	}
	if s.ID == "" {
		return Sample{}, errors.New("no event near the middle of the store has a subject and Sent's event id")
	}
	var rej struct {
		Rejections []struct {
			ID int64 `json:"id"`
		} `json:"rejections"`
	}
	if err := r.getJSON(ctx, "/v1/rejections?limit=1", &rej); err != nil {
		return Sample{}, err
	}
	if len(rej.Rejections) > 0 {
		s.RejectionID = rej.Rejections[0].ID
	}
	return s, nil
}

// IngestLoad is the load `bench growth` sends to measure ingest: new
// message.delivered events from 32 connections.
func IngestLoad(url string, secret signature.Secret, d time.Duration, name string) (Load, error) {
	body, err := event.Sample("message.delivered", event.SampleOptions{})
	if err != nil {
		return Load{}, err
	}
	env, err := event.Parse(body)
	if err != nil {
		return Load{}, err
	}
	return Load{URL: url, Body: body, Vary: env.Subject().ID, Scheme: signature.V1, Secret: secret,
		Connections: 32, Duration: d, Name: name}, nil
}
