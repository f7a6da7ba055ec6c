package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
)

// Rejections are the rejection log: totals by reason, and the newest kept
// rejections (without bodies).
type Rejections struct {
	Counts     []store.RejectionCount `json:"counts"`
	Rejections []store.Rejection      `json:"rejections"`
}

// Rejections returns the totals and up to limit kept rejections, newest
// first.
func (in *Inspector) Rejections(ctx context.Context, limit int) (Rejections, error) {
	counts, err := in.store.RejectionCounts(ctx)
	if err != nil {
		return Rejections{}, err
	}
	rs, err := in.store.ListRejections(ctx, limit)
	if err != nil {
		return Rejections{}, err
	}
	if counts == nil {
		counts = []store.RejectionCount{}
	}
	if rs == nil {
		rs = []store.Rejection{}
	}
	return Rejections{counts, rs}, nil
}

// Rejection returns one rejection with its body and diagnosis, or an
// error wrapping store.ErrNotFound.
func (in *Inspector) Rejection(ctx context.Context, id int64) (*store.Rejection, error) {
	return in.store.GetRejection(ctx, id)
}

// ErrNoRoutes is returned by Release on a store whose serve never
// recorded where it delivers: released events would go nowhere.
var ErrNoRoutes = errors.New("this store has no record of where serve delivers its events (it was last served by an older hooklatch), so released events would go nowhere: run hooklatch serve on it once, then release")

// SecretsError is returned by Release when the secrets cannot verify
// anything (none given, or one malformed).
type SecretsError struct{ Err error }

func (e *SecretsError) Error() string { return e.Err.Error() }
func (e *SecretsError) Unwrap() error { return e.Err }

// What Release did with one rejection.
const (
	Released        = "released"         // verified and stored as a new event
	ReleasedAsDup   = "duplicate"        // verified; an event with its key or body was stored already
	AlreadyReleased = "already_released" // released before
	StillFailing    = "still_failing"    // does not verify with the secrets given
	KeptInPart      = "kept_in_part"     // only a prefix of its body was kept: cannot be verified
)

// ReleaseOutcome is what Release did with one rejection.
type ReleaseOutcome struct {
	ID     int64  `json:"id"`
	Result string `json:"result"`
	// EventID names the event it became (Released, ReleasedAsDup,
	// AlreadyReleased).
	EventID string `json:"event_id,omitempty"`
	// SecretIndex (from 0) and Scheme say what verified it.
	SecretIndex int    `json:"secret_index"`
	Scheme      string `json:"scheme,omitempty"`
	// Reason and Diagnosis say why a StillFailing one fails.
	Reason    string `json:"reason,omitempty"`
	Diagnosis string `json:"diagnosis,omitempty"`
	// KeptBytes and BodyBytes are a KeptInPart one's kept and whole sizes.
	KeptBytes int64 `json:"kept_bytes,omitempty"`
	BodyBytes int64 `json:"body_bytes,omitempty"`
}

// ReleaseReport is what Release did with every rejection it was given.
type ReleaseReport struct {
	Outcomes     []ReleaseOutcome `json:"outcomes"`
	Released     int              `json:"released"`
	StillFailing int              `json:"still_failing"`
	// Unverifiable counts the rejections named that were kept in part;
	// InPart those passed over by a release of all.
	Unverifiable int `json:"unverifiable"`
	InPart       int `json:"in_part"`
}

// Release verifies the rejections ids (every unreleased one when ids is
// empty) again with secrets, judging timestamps as of when each request
// arrived, and stores those that pass as events routed to where the
// store's serve delivers, exactly as if they had been accepted then. The
// report holds what was done before any error.
func (in *Inspector) Release(ctx context.Context, secrets []signature.Secret, ids []int64) (ReleaseReport, error) {
	var rep ReleaseReport
	if len(ids) == 0 {
		rs, err := in.store.ListRejections(ctx, 1<<30)
		if err != nil {
			return rep, err
		}
		for _, r := range rs {
			switch {
			case r.Truncated:
				rep.InPart++
			case r.ReleasedAt.IsZero():
				ids = append(ids, r.ID)
			}
		}
		slices.Sort(ids) // oldest first, as they arrived
	}
	routes, known, err := in.routes(ctx)
	if err != nil {
		return rep, err
	}
	if !known {
		return rep, ErrNoRoutes
	}
	rt := dispatch.NewRouter(routes)
	for _, id := range ids {
		o, err := in.releaseOne(ctx, secrets, rt, id)
		if err != nil {
			return rep, err
		}
		switch o.Result {
		case Released, ReleasedAsDup:
			rep.Released++
		case StillFailing:
			rep.StillFailing++
		case KeptInPart:
			rep.Unverifiable++
		}
		rep.Outcomes = append(rep.Outcomes, o)
	}
	return rep, nil
}

func (in *Inspector) releaseOne(ctx context.Context, secrets []signature.Secret, rt *dispatch.Router, id int64) (ReleaseOutcome, error) {
	o := ReleaseOutcome{ID: id}
	r, err := in.store.GetRejection(ctx, id)
	if err != nil {
		return o, fmt.Errorf("rejection %d: %w", id, err)
	}
	if !r.ReleasedAt.IsZero() {
		o.Result, o.EventID = AlreadyReleased, r.EventID
		return o, nil
	}
	if r.Truncated {
		o.Result, o.KeptBytes, o.BodyBytes = KeptInPart, int64(len(r.Body)), r.BodyBytes
		return o, nil
	}
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	if src := in.sources[r.Source]; src != nil {
		return in.releaseFromSource(ctx, src, rt, r, h)
	}
	verifier, err := signature.NewVerifier(signature.Config{
		Secrets: secrets,
		NowFunc: func() time.Time { return r.ReceivedAt },
	})
	if err != nil {
		return o, &SecretsError{err}
	}
	res, err := verifier.Verify(h, r.Body)
	if err != nil {
		d := signature.Diagnose(h, r.Body, secrets, r.ReceivedAt, signature.DefaultTolerance)
		o.Result, o.Reason, o.Diagnosis = StillFailing, signature.ReasonCode(err), d.String()
		return o, nil
	}
	ev := receiver.NewEvent(store.NewEventIDFor(r.Body), r.Source, string(res.Scheme), h, r.Body, r.ReceivedAt)
	ev.Destinations = rt.Route(&ev.EventData).To
	ar, err := in.store.Append(ctx, ev)
	if err != nil {
		return o, fmt.Errorf("rejection %d: store: %w", id, err)
	}
	if err := in.store.MarkRejectionReleased(ctx, id, ar.EventID, in.now().UTC()); err != nil {
		return o, fmt.Errorf("rejection %d: %w", id, err)
	}
	o.Result, o.EventID, o.SecretIndex, o.Scheme = Released, ar.EventID, res.SecretIndex, string(res.Scheme)
	if ar.Duplicate {
		o.Result = ReleasedAsDup
	}
	return o, nil
}

// releaseFromSource is releaseOne for a rejection of another provider's
// source: verified by its Source as of its arrival, stored as the receiver
// would have stored it. Its URL was not kept: a Twilio source needs its
// public_url.
func (in *Inspector) releaseFromSource(ctx context.Context, src source.Source, rt *dispatch.Router, r *store.Rejection, h http.Header) (ReleaseOutcome, error) {
	o := ReleaseOutcome{ID: r.ID}
	req, err := http.NewRequest(http.MethodPost, "http://localhost/", bytes.NewReader(r.Body))
	if err != nil {
		return o, err
	}
	req.Header = h
	v, err := src.VerifyAt(req, r.Body, r.ReceivedAt)
	if err != nil {
		d := src.Diagnose(h, "", r.Body, r.ReceivedAt)
		o.Result, o.Reason, o.Diagnosis = StillFailing, signature.ReasonCode(err), d.String()
		return o, nil
	}
	ev := receiver.SourceEvent(store.NewEventIDFor(r.Body), r.Source, src.Provider(), h, r.Body, v, r.ReceivedAt)
	ev.Destinations = rt.Route(&ev.EventData).To
	ar, err := in.store.Append(ctx, ev)
	if err != nil {
		return o, fmt.Errorf("rejection %d: store: %w", r.ID, err)
	}
	if err := in.store.MarkRejectionReleased(ctx, r.ID, ar.EventID, in.now().UTC()); err != nil {
		return o, fmt.Errorf("rejection %d: %w", r.ID, err)
	}
	o.Result, o.EventID, o.SecretIndex, o.Scheme = Released, ar.EventID, v.SecretIndex, src.Provider()
	if ar.Duplicate {
		o.Result = ReleasedAsDup
	}
	return o, nil
}
