package cli

import (
	"bytes"
	"context"
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
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
)

// remoteBackend is a running serve's admin API (internal/admin), reached
// over HTTP with the admin token: the commands of a laptop operate a
// serve on another host or in a container.
type remoteBackend struct {
	base   string // the admin listener's URL, without a trailing slash
	token  string
	client *http.Client
}

var _ backend = (*remoteBackend)(nil)

// remoteTimeout bounds one call to the admin API. Each call the commands
// make reads or acts on a bounded batch, but a release of every kept
// rejection verifies them all in one call.
const remoteTimeout = 5 * time.Minute

// apiPageMax is the largest page GET /v1/events answers.
const apiPageMax = 1000

func newRemoteBackend(raw, token string) (*remoteBackend, error) {
	withScheme := raw
	if !strings.Contains(raw, "://") {
		withScheme = "http://" + raw
	}
	u, err := url.Parse(withScheme)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, usageError("--admin-url %q: want the URL of serve's admin listener, such as http://127.0.0.1:3001", raw)
	}
	return &remoteBackend{base: strings.TrimSuffix(u.String(), "/"), token: token, client: &http.Client{Timeout: remoteTimeout}}, nil
}

// apiError is an error answer of the admin API: its status, and the
// error code and detail of its JSON body.
type apiError struct {
	status       int
	code, detail string
}

func (e *apiError) Error() string { return e.detail }

// Is makes a 404 for a name that names nothing store.ErrNotFound, as the
// store says it.
func (e *apiError) Is(target error) bool {
	return target == store.ErrNotFound && e.status == http.StatusNotFound && e.code == "not_found" &&
		!strings.HasPrefix(e.detail, "no such endpoint")
}

// call sends a request to the admin API, with body as JSON unless it is
// nil, and decodes its answer into out. An error is an *ExitError whose
// code says whose mistake it was: the caller's (a wrong token, a bad
// argument), a name that names nothing, or the network's or the serve's.
func (b *remoteBackend) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	target := b.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return &ExitError{Code: ExitRuntime, Err: fmt.Errorf("cannot reach the admin API at %s: %v (is serve running there, its admin listener on that address? serve's --admin-addr sets it)", b.base, err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return &ExitError{Code: ExitRuntime, Err: fmt.Errorf("reading the answer of the admin API at %s: %w", b.base, err)}
	}
	if resp.StatusCode != http.StatusOK {
		return b.answerError(method, path, resp, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &ExitError{Code: ExitRuntime, Err: fmt.Errorf("the admin API at %s answered %s %s with what is not its JSON (%v): is that URL serve's admin listener?", b.base, method, path, err)}
	}
	return nil
}

// answerError is the error for an answer other than 200.
func (b *remoteBackend) answerError(method, path string, resp *http.Response, raw []byte) error {
	var body struct{ Error, Detail string }
	if json.Unmarshal(raw, &body) != nil || body.Error == "" {
		return &ExitError{Code: ExitRuntime, Err: fmt.Errorf("the admin API at %s answered %s %s with %s and no error of its own: is that URL serve's admin listener?", b.base, method, path, resp.Status)}
	}
	e := &apiError{status: resp.StatusCode, code: body.Error, detail: body.Detail}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		how := "set $" + adminTokenEnv + " (or --admin-token-file) to the token serve runs with"
		if b.token != "" {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("the admin API at %s refused the admin token: it is not the one serve runs with (%s)", b.base, how)}
		}
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("the admin API at %s wants the admin token: %s", b.base, how)}
	case http.StatusTooManyRequests:
		return &ExitError{Code: ExitRuntime, Err: fmt.Errorf("the admin API at %s: %s", b.base, body.Detail)}
	case http.StatusMisdirectedRequest, http.StatusForbidden:
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("the admin API at %s: %s", b.base, body.Detail)}
	case http.StatusBadRequest:
		return &ExitError{Code: ExitUsage, Err: e}
	case http.StatusNotFound:
		if strings.HasPrefix(body.Detail, "no such endpoint") {
			return &ExitError{Code: ExitRuntime, Err: fmt.Errorf("the serve at %s has no %s %s: it runs an older hooklatch", b.base, method, path)}
		}
		return &ExitError{Code: ExitFailed, Err: e}
	case http.StatusConflict:
		return &ExitError{Code: ExitFailed, Err: e}
	}
	return &ExitError{Code: ExitRuntime, Err: fmt.Errorf("the admin API at %s answered %s: %s", b.base, resp.Status, body.Detail)}
}

// filterParams is q's filter as the admin API takes it: times absolute,
// so that a range means the same on both sides of the call.
func filterParams(q inspect.Query) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	f := q.Filter
	set("type", f.Type)
	set("subject", f.Subject)
	set("source", f.Source)
	set("delivery", string(f.Delivery))
	set("attention", q.Attention)
	if !f.Since.IsZero() {
		v.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		v.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	return v
}

// filterBody is filterParams as the JSON of a request body.
func filterBody(q inspect.Query) map[string]string {
	out := map[string]string{}
	for k, vs := range filterParams(q) {
		out[k] = vs[0]
	}
	return out
}

func (b *remoteBackend) List(ctx context.Context, q inspect.Query) (inspect.Page, error) {
	v := filterParams(q)
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Filter.Limit > 0 {
		v.Set("limit", strconv.Itoa(min(q.Filter.Limit, apiPageMax)))
	}
	var p inspect.Page
	err := b.call(ctx, http.MethodGet, "/v1/events", v, nil, &p)
	return p, err
}

// remoteDetail is the answer of GET /v1/events/{id}.
type remoteDetail struct {
	store.Event
	Delivery      store.DeliveryStatus `json:"delivery"`
	BodyBase64    []byte               `json:"body_base64"`
	Envelope      *inspect.Envelope    `json:"envelope"`
	EnvelopeError string               `json:"envelope_error"`
	Deliveries    []inspect.Timeline   `json:"deliveries"`
	FilteredOut   []string             `json:"filtered_out"`
}

func (b *remoteBackend) Detail(ctx context.Context, ref string) (*inspect.Detail, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, fmt.Errorf("%w: empty event id", store.ErrNotFound)
	}
	var d remoteDetail
	if err := b.call(ctx, http.MethodGet, "/v1/events/"+url.PathEscape(ref), nil, nil, &d); err != nil {
		return nil, err
	}
	d.Event.Body = d.BodyBase64
	for i := range d.Deliveries {
		d.Deliveries[i].Delivery.Attempts = d.Deliveries[i].Counted
	}
	return &inspect.Detail{Event: &d.Event, Envelope: d.Envelope, EnvelopeError: d.EnvelopeError, State: d.Delivery, Deliveries: d.Deliveries,
		FilteredOut: d.FilteredOut}, nil
}

func (b *remoteBackend) Subject(ctx context.Context, source, subject string) (*inspect.SubjectDetail, error) {
	if strings.TrimSpace(subject) == "" {
		return nil, fmt.Errorf("%w: empty subject id", store.ErrNotFound)
	}
	var q url.Values
	if source != "" {
		q = url.Values{"source": {source}}
	}
	var d inspect.SubjectDetail
	if err := b.call(ctx, http.MethodGet, "/v1/subjects/"+url.PathEscape(subject), q, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (b *remoteBackend) Find(ctx context.Context, refs []string) ([]*store.Event, error) {
	evs := make([]*store.Event, 0, len(refs))
	for _, ref := range refs {
		d, err := b.Detail(ctx, ref)
		if err != nil {
			return nil, err
		}
		evs = append(evs, d.Event)
	}
	return evs, nil
}

// actionResult is the answer of every action.
type actionResult struct {
	Touched int `json:"touched"`
}

// Count asks the serve for the bulk action's dry run on q's filter,
// which counts up to the serve's own limit (1,000): limit is ignored.
func (b *remoteBackend) Count(ctx context.Context, action string, q inspect.Query, _ int) (inspect.Count, error) {
	var res struct {
		Events  int  `json:"events"`
		More    bool `json:"more"`
		Partial bool `json:"partial"`
	}
	body := map[string]any{"filter": filterBody(q), "dry_run": true}
	err := b.call(ctx, http.MethodPost, "/v1/actions/"+url.PathEscape(action), nil, body, &res)
	return inspect.Count{N: res.Events, More: res.More, Partial: res.Partial}, err
}

func (b *remoteBackend) Act(ctx context.Context, action string, t inspect.Target) (int, error) {
	body := map[string]any{}
	if len(t.EventIDs) > 0 {
		body["event_ids"] = t.EventIDs
	}
	if len(t.DeliveryIDs) > 0 {
		body["delivery_ids"] = t.DeliveryIDs
	}
	if t.Filter != nil {
		body["filter"] = filterBody(*t.Filter)
	}
	if t.Dead {
		body["dead"] = true
	}
	if t.Destination != "" {
		body["destination"] = t.Destination
	}
	var res actionResult
	err := b.call(ctx, http.MethodPost, "/v1/actions/"+url.PathEscape(action), nil, body, &res)
	return res.Touched, err
}

func (b *remoteBackend) Backfill(ctx context.Context, destination string, q inspect.Query) (int, error) {
	body := map[string]any{"destination": destination}
	if f := filterBody(q); len(f) > 0 {
		body["filter"] = f
	} else {
		body["all"] = true
	}
	var res actionResult
	err := b.call(ctx, http.MethodPost, "/v1/actions/backfill", nil, body, &res)
	// A destination the serve does not have fails the command, as on the
	// store itself, rather than reading as a misused flag.
	if ee, ok := errors.AsType[*ExitError](err); ok && ee.Code == ExitUsage && errors.As(err, new(*apiError)) {
		ee.Code = ExitFailed
	}
	return res.Touched, err
}

func (b *remoteBackend) Destinations(ctx context.Context) ([]inspect.Destination, error) {
	var res struct {
		Destinations []inspect.Destination `json:"destinations"`
	}
	err := b.call(ctx, http.MethodGet, "/v1/destinations", nil, nil, &res)
	return res.Destinations, err
}

func (b *remoteBackend) Pause(ctx context.Context, destination string, paused bool) (inspect.Destination, error) {
	action := "resume"
	if paused {
		action = "pause"
	}
	var d inspect.Destination
	err := b.call(ctx, http.MethodPost, "/v1/destinations/"+url.PathEscape(destination)+"/"+action, nil, nil, &d)
	// A destination the serve does not have fails the command, as on the
	// store itself.
	if ee, ok := errors.AsType[*ExitError](err); ok && ee.Code == ExitUsage && errors.As(err, new(*apiError)) {
		ee.Code = ExitFailed
	}
	return d, err
}

func (b *remoteBackend) Rejections(ctx context.Context, limit int) (inspect.Rejections, error) {
	var rs inspect.Rejections
	err := b.call(ctx, http.MethodGet, "/v1/rejections", url.Values{"limit": {strconv.Itoa(limit)}}, nil, &rs)
	return rs, err
}

func (b *remoteBackend) Rejection(ctx context.Context, id int64) (*store.Rejection, error) {
	var r struct {
		store.Rejection
		BodyBase64 []byte `json:"body_base64"`
	}
	if err := b.call(ctx, http.MethodGet, "/v1/rejections/"+strconv.FormatInt(id, 10), nil, nil, &r); err != nil {
		return nil, err
	}
	r.Rejection.Body = r.BodyBase64
	return &r.Rejection, nil
}

// Release releases with the serve's own secrets: secrets is not sent.
func (b *remoteBackend) Release(ctx context.Context, _ []signature.Secret, ids []int64) (inspect.ReleaseReport, error) {
	body := map[string]any{"all": true}
	if len(ids) > 0 {
		body = map[string]any{"ids": ids}
	}
	var rep inspect.ReleaseReport
	err := b.call(ctx, http.MethodPost, "/v1/rejections/release", nil, body, &rep)
	return rep, err
}

func (b *remoteBackend) Remote() bool { return true }
func (b *remoteBackend) Close() error { b.client.CloseIdleConnections(); return nil }
