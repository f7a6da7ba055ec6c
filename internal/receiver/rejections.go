package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
)

// logEvery is how often at most the recorder logs a line per reason.
const logEvery = 10 * time.Second

// rejected is a request that failed verification, waiting to be diagnosed
// and kept: its headers and what is kept of its body.
type rejected struct {
	at        time.Time
	remote    string
	header    http.Header
	body      []byte // at most Config.RejectionBodyMaxBytes
	bodyBytes int64  // the whole body's length
	sha256    [sha256.Size]byte
	err       error
	reason    string
	key       string    // the reason, for Sent; the source and reason for another
	ep        *Endpoint // nil for Sent
	url       string    // the request's URL as it arrived
}

// waiting is what the recorder has yet to do: every rejection counted
// since its last round, and for each reason the few kept as samples. A
// reason whose samples are all waiting has the next ones counted only, so
// a flood of one reason costs a count each and cannot crowd out another.
type waiting struct {
	mu        sync.Mutex
	closed    bool
	perReason int
	tallies   map[string]*store.RejectionCount // by reason, since the last round
	samples   map[string][]*rejected           // by reason, oldest first
	slots     map[string]int                   // by reason: samples waiting or being made
	wake      chan struct{}
}

func newWaiting(perReason int) *waiting {
	return &waiting{
		perReason: perReason,
		tallies:   map[string]*store.RejectionCount{},
		samples:   map[string][]*rejected{},
		slots:     map[string]int{},
		wake:      make(chan struct{}, 1),
	}
}

// note counts a rejection of reason and says whether a sample of it may be
// made; if so, put or cancel must follow.
func (w *waiting) note(source, reason string, at time.Time) (sample bool) {
	return w.noteAs(source, reason, reason, at)
}

// noteAs is note with the key the rejection is counted and sampled under:
// the reason for Sent's endpoint, the source and the reason for another.
func (w *waiting) noteAs(source, reason, key string, at time.Time) (sample bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tallies[key]
	if t == nil {
		t = &store.RejectionCount{Source: source, Reason: reason, FirstAt: at}
		w.tallies[key] = t
	}
	t.Count++
	t.LastAt = at
	if w.closed || w.slots[key] >= w.perReason {
		w.nudge()
		return false
	}
	w.slots[key]++
	return true
}

// put hands a sample to the recorder.
func (w *waiting) put(j *rejected) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples[j.key] = append(w.samples[j.key], j)
	w.nudge()
}

// cancel gives back the slot of a sample not made.
func (w *waiting) cancel(reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.slots[reason]--
}

func (w *waiting) nudge() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take returns everything waiting and frees the slots of the samples taken.
func (w *waiting) take() (map[string][]*rejected, map[string]*store.RejectionCount) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Empty maps stay behind and nil goes out: the caller reads what it
	// takes without the lock, while note and put write what stays.
	var samples map[string][]*rejected
	var tallies map[string]*store.RejectionCount
	if len(w.samples) > 0 {
		samples, w.samples = w.samples, map[string][]*rejected{}
	}
	if len(w.tallies) > 0 {
		tallies, w.tallies = w.tallies, map[string]*store.RejectionCount{}
	}
	for reason, js := range samples {
		w.slots[reason] -= len(js)
	}
	return samples, tallies
}

// restore puts back counts the store could not take, to be flushed with
// the next round's.
func (w *waiting) restore(counts map[string]*store.RejectionCount) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for reason, c := range counts {
		t := w.tallies[reason]
		if t == nil {
			w.tallies[reason] = c
			continue
		}
		t.Count += c.Count
		t.FirstAt = c.FirstAt // restored counts are older than any noted since
	}
}

// close stops new samples; counting goes on until the recorder's last round.
func (w *waiting) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

// reject counts a failed request for the rejection log and, when its
// reason has room, keeps a sample of it for the recorder: its headers, the
// first Config.RejectionBodyMaxBytes of its body (held against the memory
// budget), and the whole body's length and hash. It never waits.
func (r *Receiver) reject(req *http.Request, ep *Endpoint, body []byte, err error, reason string) {
	at := r.cfg.NowFunc().UTC()
	name, key := r.cfg.Source, reason
	if ep != nil {
		name, key = ep.Name, ep.Name+": "+reason
	}
	r.cfg.Metrics.Rejections.WithLabelValues(name, reason).Inc()
	if !r.waiting.noteAs(name, reason, key, at) {
		r.cfg.Metrics.RejectionsNotKept.Inc()
		return
	}
	kept := min(int64(len(body)), r.cfg.RejectionBodyMaxBytes)
	// The few samples that wait are bounded by their slots: a small one may
	// use the room kept for small bodies, so that a flood of large bodies
	// in flight does not stop another reason's samples.
	if !r.budget.reserve(kept, sizeClass(kept)) {
		r.waiting.cancel(key)
		r.cfg.Metrics.RejectionsNotKept.Inc()
		return
	}
	r.waiting.put(&rejected{
		at:        at,
		remote:    req.RemoteAddr,
		header:    req.Header.Clone(),
		body:      append([]byte(nil), body[:kept]...),
		bodyBytes: int64(len(body)),
		sha256:    sha256.Sum256(body),
		err:       err,
		reason:    reason,
		key:       key,
		ep:        ep,
		url:       source.RequestURL(req),
	})
}

// recordRejections is the recorder: it wakes when there is something to
// keep or count, and once a second for the log lines due.
func (r *Receiver) recordRejections() {
	defer close(r.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.waiting.wake:
		case <-tick.C:
		case <-r.stop:
			r.recordRound(true)
			return
		}
		r.recordRound(false)
	}
}

// recordRound keeps the samples waiting, flushes the counts, and logs the
// lines due; the last round logs every line still owed.
func (r *Receiver) recordRound(last bool) {
	samples, tallies := r.waiting.take()
	for _, js := range samples {
		for _, j := range js {
			r.keep(j)
			r.budget.release(int64(len(j.body)))
		}
	}
	if len(tallies) > 0 {
		counts := make([]store.RejectionCount, 0, len(tallies))
		for reason, t := range tallies {
			counts = append(counts, *t)
			r.logs.counted(reason, t.Count, t.FirstAt)
			if reason != t.Reason { // another provider's source: its key names it too
				r.logs.get(reason).source, r.logs.get(reason).reason = t.Source, t.Reason
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := r.cfg.Store.CountRejections(ctx, counts)
		cancel()
		if err != nil {
			r.countErr(err, tallies, last)
		}
	}
	r.logs.flush(r.cfg.Logger, r.cfg.NowFunc(), last)
}

// countErr deals with counts the store did not take: they wait for the
// next round, or are reported lost after the last.
func (r *Receiver) countErr(err error, tallies map[string]*store.RejectionCount, last bool) {
	if last {
		var n int64
		for _, t := range tallies {
			n += t.Count
		}
		r.cfg.Logger.Error("receiver: could not count rejections in the store before closing", "rejections", n, "err", err)
		return
	}
	r.waiting.restore(tallies)
	if now := r.cfg.NowFunc(); now.Sub(r.countErrAt) >= logEvery {
		r.countErrAt = now
		r.cfg.Logger.Warn("receiver: could not count rejections in the store; will try again", "err", err)
	}
}

// keep diagnoses one sample and stores it.
func (r *Receiver) keep(j *rejected) {
	truncated := int64(len(j.body)) < j.bodyBytes
	var d signature.Diagnosis
	name := r.cfg.Source
	switch {
	case j.ep != nil:
		name = j.ep.Name
		d = j.ep.Source.Diagnose(j.header, j.url, j.body, j.at)
		if truncated {
			d = signature.Diagnosis{Scheme: d.Scheme, Findings: []signature.Finding{keptInPart(j)}}
		}
	case truncated:
		d = diagnoseHeaders(j, r.cfg.Secrets, r.cfg.Tolerance)
	default:
		d = signature.Diagnose(j.header, j.body, r.cfg.Secrets, j.at, r.cfg.Tolerance)
	}
	rej := &store.Rejection{
		Source:     name,
		ReceivedAt: j.at,
		RemoteAddr: j.remote,
		Reason:     j.reason,
		Detail:     j.err.Error(),
		Diagnosis:  d.String(),
		Headers:    rejectionHeaders(j.header),
		Body:       j.body,
		BodyBytes:  j.bodyBytes,
		BodySHA256: hex.EncodeToString(j.sha256[:]),
		Truncated:  truncated,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	dropped, err := r.cfg.Store.AddRejection(ctx, rej, r.cfg.RejectionLimits)
	cancel()
	r.cfg.Metrics.RejectionsDropped.Add(float64(dropped))
	if err != nil {
		r.cfg.Metrics.RejectionsNotKept.Inc()
	}
	r.logs.kept(j.key, rej, err)
}

// headerCauses are Diagnose's findings that hold whatever the body.
var headerCauses = map[string]bool{
	signature.CauseMissingSignature:   true,
	signature.CauseHeaderCase:         true,
	signature.CauseUnknownScheme:      true,
	signature.CauseMalformedSignature: true,
	signature.CauseMissingID:          true,
	signature.CauseMissingTimestamp:   true,
	signature.CauseMalformedTimestamp: true,
	signature.CauseTimestampMillis:    true,
	signature.CauseStaleTimestamp:     true,
	signature.CauseFutureTimestamp:    true,
	signature.CauseNoSecrets:          true,
}

// diagnoseHeaders diagnoses a request whose body was kept only in part:
// the signature cannot be checked against a part, so only the headers and
// the clock are.
func diagnoseHeaders(j *rejected, secrets []signature.Secret, tolerance time.Duration) signature.Diagnosis {
	full := signature.Diagnose(j.header, nil, secrets, j.at, tolerance)
	d := signature.Diagnosis{Scheme: full.Scheme, Findings: []signature.Finding{keptInPart(j)}}
	for _, f := range full.Findings {
		if headerCauses[f.Cause] {
			d.Findings = append(d.Findings, f)
		}
	}
	return d
}

// keptInPart is the finding of a rejection whose body was kept in part.
func keptInPart(j *rejected) signature.Finding {
	return signature.Finding{
		Cause: "body_kept_in_part",
		Message: fmt.Sprintf("only the first %s of the %s body were kept: the signature cannot be checked against "+
			"them, so only the headers and the clock were", humanize.IBytes(uint64(len(j.body))), humanize.IBytes(uint64(j.bodyBytes))),
	}
}

// rejectionLogs rate-limits the recorder's log lines: at most one per
// reason every logEvery, saying how many requests were rejected since the
// last one and how many of them were kept. Used by the recorder only.
type rejectionLogs struct {
	by map[string]*reasonLog
}

type reasonLog struct {
	source, reason         string // another provider's source and its reason; "" for Sent's
	rejected, kept, failed int64
	since                  time.Time // the first rejection not yet logged
	logged                 time.Time // the last line
	last                   *store.Rejection
	err                    error
}

func (l *rejectionLogs) get(reason string) *reasonLog {
	if l.by == nil {
		l.by = map[string]*reasonLog{}
	}
	rl := l.by[reason]
	if rl == nil {
		rl = &reasonLog{}
		l.by[reason] = rl
	}
	return rl
}

func (l *rejectionLogs) counted(reason string, n int64, first time.Time) {
	rl := l.get(reason)
	if rl.rejected == 0 {
		rl.since = first
	}
	rl.rejected += n
}

func (l *rejectionLogs) kept(key string, rej *store.Rejection, err error) {
	rl := l.get(key)
	if err != nil {
		rl.failed++
		rl.err = err
		return
	}
	rl.kept++
	rl.last = rej
}

// flush logs the lines due at now, or all that are owed when all is set.
func (l *rejectionLogs) flush(log *slog.Logger, now time.Time, all bool) {
	for reason, rl := range l.by {
		if rl.rejected == 0 || !all && !rl.logged.IsZero() && now.Sub(rl.logged) < logEvery {
			continue
		}
		window := now.Sub(rl.since).Round(time.Second)
		msg := fmt.Sprintf("receiver: rejected %d %s (%s)", rl.rejected, plural(rl.rejected, "request", "requests"), reason)
		if window >= time.Second {
			msg += " in the last " + window.String()
		}
		msg += fmt.Sprintf("; kept %d %s", rl.kept, plural(rl.kept, "sample", "samples"))
		attrs := []any{"reason", reason, "rejected", rl.rejected, "kept", rl.kept}
		if rl.source != "" {
			attrs = append(attrs[:0], "source", rl.source, "reason", rl.reason, "rejected", rl.rejected, "kept", rl.kept)
		}
		if rl.last != nil {
			attrs = append(attrs, "last_rejection_id", rl.last.ID, "detail", rl.last.Detail, "remote_addr", rl.last.RemoteAddr)
		}
		if rl.failed > 0 {
			msg += fmt.Sprintf(", could not keep %d", rl.failed)
			attrs = append(attrs, "not_kept", rl.failed, "err", rl.err)
		}
		log.Warn(msg, attrs...)
		*rl = reasonLog{source: rl.source, reason: rl.reason, logged: now}
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
