package devtools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/signature"
)

// Profile is how Sent spaces, bounds and judges the attempts at one event.
type Profile struct {
	// Name is "reference" or "current".
	Name string
	// Delays are the waits after a failed attempt before the next one;
	// there are as many retries as delays.
	Delays []time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
	// RetryAnyFailure retries every non-2xx answer. Otherwise only 5xx, 408,
	// 429 and no answer at all are retried, and another answer ends the
	// event as failed at once.
	RetryAnyFailure bool
	// DisableAfter is how many failed attempts in a row disable the
	// endpoint: no more requests are sent. 0 never disables.
	DisableAfter int
}

// ReferenceProfile is the schedule in Sent's development guide: attempts at
// 0, +1, +2, +4, +8, +16, +32 and +64 s after each failure, then the event is
// marked failed. 5xx answers and timeouts are retried.
func ReferenceProfile() Profile {
	p := Profile{Name: "reference", Timeout: 5 * time.Second}
	for d := time.Second; d <= 64*time.Second; d *= 2 {
		p.Delays = append(p.Delays, d)
	}
	return p
}

// Limits of the current profile, as Sent's webhook settings allow them.
const (
	MinRetries = 1
	MaxRetries = 5
	MinTimeout = 5 * time.Second
	MaxTimeout = 120 * time.Second
)

// CurrentProfile is how Sent delivers today, as far as its documents say:
// retries (1–5, default 3) about a minute after the first failure, doubling,
// at most an hour apart; a per-webhook timeout of 5–120 s (default 30 s);
// every non-2xx answer fails the attempt; ten failed attempts in a row
// disable the endpoint.
func CurrentProfile(retries int, timeout time.Duration) (Profile, error) {
	if retries < MinRetries || retries > MaxRetries {
		return Profile{}, fmt.Errorf("retries %d: Sent allows %d to %d", retries, MinRetries, MaxRetries)
	}
	if timeout < MinTimeout || timeout > MaxTimeout {
		return Profile{}, fmt.Errorf("timeout %s: Sent allows %s to %s", timeout, MinTimeout, MaxTimeout)
	}
	p := Profile{Name: "current", Timeout: timeout, RetryAnyFailure: true, DisableAfter: 10}
	d := time.Minute
	for range retries {
		p.Delays = append(p.Delays, d)
		d = min(2*d, time.Hour)
	}
	return p, nil
}

// String describes the profile in one line.
func (p Profile) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s schedule: ", p.Name)
	if len(p.Delays) == 0 {
		b.WriteString("no retries")
	} else {
		b.WriteString("retries after")
		for _, d := range p.Delays {
			b.WriteString(" " + shortDuration(d))
		}
	}
	fmt.Fprintf(&b, ", %s timeout", shortDuration(p.Timeout))
	if p.RetryAnyFailure {
		b.WriteString(", every non-2xx retried")
	} else {
		b.WriteString(", 5xx and timeouts retried")
	}
	return b.String()
}

// retryable reports whether an attempt that got a is tried again.
func (p Profile) retryable(a Answer) bool {
	if a.Err != nil || p.RetryAnyFailure {
		return true
	}
	c := a.StatusCode
	return c >= 500 || c == http.StatusRequestTimeout || c == http.StatusTooManyRequests
}

// Kind is what a delivery tests.
type Kind string

// The kinds of delivery. Genuine events should be accepted; the others are
// requests Sent would never send, and should be rejected.
const (
	KindEvent     Kind = "event"
	KindDuplicate Kind = "duplicate" // the same event delivered again, re-signed
	KindTampered  Kind = "tampered"  // the signature altered
	KindStale     Kind = "stale"     // correctly signed, with an old timestamp
)

// attack reports whether a request of kind k should be rejected.
func (k Kind) attack() bool { return k == KindTampered || k == KindStale }

// Step is one part of a scenario: events to deliver, and the chaos to
// deliver them with. Exactly one of Events, File, Lifecycle or Pause.
type Step struct {
	// Events are catalog types; each gives Count new sample events.
	Events []string `yaml:"events"`
	// File is a body of your own.
	File string `yaml:"file"`
	// Lifecycle is one message's statuses, such as QUEUED, SENT,
	// DELIVERED, READ: one event each, with the same message id.
	Lifecycle []string `yaml:"lifecycle"`
	// Pause waits this long (on the scaled clock) before the next step.
	Pause time.Duration `yaml:"pause"`

	Count    int      `yaml:"count"`    // of each event type; default 1
	Set      []string `yaml:"set"`      // path=value overrides
	Envelope string   `yaml:"envelope"` // gen1, gen2 or gen3

	// Shuffle delivers the step's events in a random order that differs
	// from the given one (for a lifecycle: statuses arriving out of order).
	Shuffle bool `yaml:"shuffle"`
	// Duplicates delivers each event this many more times after it was
	// first delivered, with the same event id and a fresh signature.
	Duplicates int `yaml:"duplicates"`
	// Tamper first sends each event once with an altered signature.
	Tamper bool `yaml:"tamper"`
	// Stale first sends each event once signed this long ago (v1 only).
	Stale time.Duration `yaml:"stale"`
	// Slow spreads the sending of each body over this long.
	Slow time.Duration `yaml:"slow"`
}

// Scenario is a sequence of steps; `hooklatch send --scenario FILE` reads
// one from YAML, and the command line flags make a one-step scenario.
type Scenario struct {
	To        string        `yaml:"to"`
	Scheme    string        `yaml:"scheme"`     // v1 (default) or legacy
	Profile   string        `yaml:"profile"`    // reference (default) or current
	Retries   int           `yaml:"retries"`    // current profile; default 3
	Timeout   time.Duration `yaml:"timeout"`    // per attempt; default per profile
	TimeScale float64       `yaml:"time_scale"` // >1 runs the waits that many times faster
	Seed      uint64        `yaml:"seed"`       // for shuffles; default random
	Steps     []Step        `yaml:"steps"`
}

// check validates a step; the scheme matters for Stale.
func (s Step) check(scheme signature.Scheme) error {
	n := 0
	for _, set := range []bool{len(s.Events) > 0, s.File != "", len(s.Lifecycle) > 0, s.Pause > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("a step names exactly one of events, file, lifecycle or pause")
	}
	if s.Pause > 0 && (s.Count != 0 || len(s.Set) > 0 || s.Envelope != "" || s.Shuffle || s.Duplicates != 0 || s.Tamper || s.Stale != 0 || s.Slow != 0) {
		return fmt.Errorf("a pause step only waits: put count, set, envelope and the chaos options on the step that sends")
	}
	if s.Count < 0 || s.Duplicates < 0 || s.Stale < 0 || s.Slow < 0 {
		return fmt.Errorf("count, duplicates, stale and slow cannot be negative")
	}
	if s.Stale > 0 && scheme != signature.V1 {
		return fmt.Errorf("stale needs the v1 scheme: legacy signatures carry no timestamp")
	}
	if s.Stale > 0 && s.Stale < time.Minute {
		return fmt.Errorf("stale %s: an age under a minute is within any receiver's tolerance; use 6m or more", s.Stale)
	}
	return nil
}

// Attempt is one request of a delivery.
type Attempt struct {
	N      int           // from 1
	At     time.Time     // on the emulator's clock; the signature's timestamp
	Offset time.Duration // since the delivery's first attempt, on Sent's (unscaled) clock
	Header http.Header   // as sent
	Answer Answer
	Retry  time.Duration // the wait before the next attempt; 0 when none follows
}

// Delivery is one request's life: an event (or a duplicate, or an attack)
// and every attempt at it.
type Delivery struct {
	Request  *Request
	Kind     Kind
	Attempts []Attempt
	// Result is "delivered", "failed" (retries exhausted or not
	// retryable), "rejected", "accepted" (an attack got a 2xx) or
	// "not sent" (the endpoint was disabled first).
	Result string
	// OK reports the expected result: delivered for events and
	// duplicates, rejected with a 4xx for attacks.
	OK bool
	// Why says why a delivery failed: "retries exhausted", "not retried"
	// or "endpoint disabled".
	Why string
}

// Emulator delivers events to a URL the way Sent does.
type Emulator struct {
	URL     string
	Signer  Signer
	Profile Profile
	// Client sends the requests. Defaults to a client with its own
	// connection pool; each attempt is bounded by Profile.Timeout.
	Client *http.Client
	// Clock spaces the attempts and stamps the signatures. Defaults to the
	// real clock.
	Clock clock.Clock
	// TimeScale > 1 makes the waits that many times shorter; timestamps
	// and timeouts stay real.
	TimeScale float64
	// Concurrency is how many deliveries run at once. Defaults to 1, which
	// keeps the order of the first attempts.
	Concurrency int
	// Rand shuffles. Defaults to a random source.
	Rand *rand.Rand
	// Out, when set, gets each delivery's timeline as it ends.
	Out io.Writer

	mu       sync.Mutex
	failRun  int  // failed attempts in a row
	disabled bool // DisableAfter reached
}

// Plan is a scenario checked and built: every request made, ready to run.
type Plan struct {
	steps []plannedStep
}

// plannedStep is a pause, or a step's jobs.
type plannedStep struct {
	pause time.Duration
	jobs  []*job
}

// defaults fills in what the Emulator's zero value leaves out.
func (e *Emulator) defaults() {
	if e.Client == nil {
		e.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if e.Clock == nil {
		e.Clock = clock.Real{}
	}
	if e.TimeScale <= 0 {
		e.TimeScale = 1
	}
	if e.Rand == nil {
		e.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
}

// Plan checks every step of sc and builds its requests, so that nothing
// is sent when any of it is wrong (an unknown type, a file that cannot be
// read, a bad override).
func (e *Emulator) Plan(sc Scenario) (*Plan, error) {
	e.defaults()
	if len(sc.Steps) == 0 {
		return nil, errors.New("nothing to send: the scenario has no steps")
	}
	p := &Plan{}
	for i, st := range sc.Steps {
		if err := st.check(e.Signer.Scheme); err != nil {
			return nil, stepError(sc, i, err)
		}
		if st.Pause > 0 {
			p.steps = append(p.steps, plannedStep{pause: st.Pause})
			continue
		}
		jobs, err := e.plan(st)
		if err != nil {
			return nil, stepError(sc, i, err)
		}
		p.steps = append(p.steps, plannedStep{jobs: jobs})
	}
	return p, nil
}

// Run plans sc and runs the plan.
func (e *Emulator) Run(ctx context.Context, sc Scenario) ([]*Delivery, error) {
	p, err := e.Plan(sc)
	if err != nil {
		return nil, err
	}
	return e.RunPlan(ctx, p)
}

// RunPlan delivers every step in order; within a step up to Concurrency
// deliveries run at once. When ctx ends it stops sending: the deliveries
// cut short are marked interrupted, and those not begun are left out.
func (e *Emulator) RunPlan(ctx context.Context, p *Plan) ([]*Delivery, error) {
	e.defaults()
	var all []*Delivery
	for _, st := range p.steps {
		if st.pause > 0 {
			if err := e.sleep(ctx, st.pause); err != nil {
				return all, err
			}
			continue
		}
		all = append(all, e.runJobs(ctx, st.jobs)...)
		if ctx.Err() != nil {
			return all, ctx.Err()
		}
	}
	return all, nil
}

// stepError names the step that failed when there are several.
func stepError(sc Scenario, i int, err error) error {
	if len(sc.Steps) == 1 {
		return err
	}
	return fmt.Errorf("step %d: %w", i+1, err)
}

// job is one event with its chaos: attacks first, then the event, then its
// duplicates, in order.
type job struct {
	req        *Request
	step       Step
	deliveries []*Delivery
}

// plan builds a step's requests.
func (e *Emulator) plan(st Step) ([]*job, error) {
	samples := Samples{Types: st.Events, File: st.File, Sets: st.Set, Envelope: st.Envelope,
		Legacy: e.Signer.Scheme == signature.Legacy, Count: st.Count, NowFunc: e.Clock.Now}
	var reqs []*Request
	var err error
	if len(st.Lifecycle) > 0 {
		reqs, err = Lifecycle(st.Lifecycle, samples)
	} else {
		reqs, err = samples.Build()
	}
	if err != nil {
		return nil, err
	}
	if st.Shuffle {
		shuffle(e.Rand, reqs)
	}
	jobs := make([]*job, len(reqs))
	for i, r := range reqs {
		jobs[i] = &job{req: r, step: st}
	}
	return jobs, nil
}

// shuffle reorders reqs, into an order other than the given one when there
// is one.
func shuffle(r *rand.Rand, reqs []*Request) {
	if len(reqs) < 2 {
		return
	}
	orig := append([]*Request(nil), reqs...)
	for {
		r.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
		for i := range reqs {
			if reqs[i] != orig[i] {
				return
			}
		}
	}
}

func (e *Emulator) runJobs(ctx context.Context, jobs []*job) []*Delivery {
	n := max(e.Concurrency, 1)
	next := make(chan *job)
	var wg sync.WaitGroup
	for range min(n, len(jobs)) {
		wg.Go(func() {
			for j := range next {
				e.runJob(ctx, j)
			}
		})
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	var out []*Delivery
	for _, j := range jobs {
		out = append(out, j.deliveries...)
	}
	return out
}

func (e *Emulator) runJob(ctx context.Context, j *job) {
	kinds := []Kind{}
	if j.step.Tamper {
		kinds = append(kinds, KindTampered)
	}
	if j.step.Stale > 0 {
		kinds = append(kinds, KindStale)
	}
	kinds = append(kinds, KindEvent)
	for range j.step.Duplicates {
		kinds = append(kinds, KindDuplicate)
	}
	for _, k := range kinds {
		if ctx.Err() != nil {
			break
		}
		j.deliveries = append(j.deliveries, e.deliver(ctx, j.req, k, j.step))
	}
	if e.Out != nil {
		e.mu.Lock()
		for _, d := range j.deliveries {
			writeTimeline(e.Out, d)
		}
		e.mu.Unlock()
	}
}

// deliver runs one delivery: for events and duplicates the attempts of the
// profile, each re-signed at its own time; for an attack one attempt.
func (e *Emulator) deliver(ctx context.Context, r *Request, kind Kind, st Step) *Delivery {
	d := &Delivery{Request: r, Kind: kind}
	var offset time.Duration // on Sent's clock: real attempt times, nominal waits
	for n := 1; ; n++ {
		if ctx.Err() != nil {
			d.Result, d.Why = "interrupted", "stopped before this attempt"
			return d
		}
		if e.Disabled() {
			if n == 1 {
				d.Result = "not sent"
			}
			if d.Result == "" {
				d.Result, d.Why = "failed", "endpoint disabled"
			}
			return d
		}
		now := e.Clock.Now()
		h := e.header(r, kind, st, now)
		a := e.attempt(ctx, h, r.Body, st.Slow)
		at := Attempt{N: n, At: now, Offset: offset, Header: h, Answer: a}
		if a.Err != nil && ctx.Err() != nil {
			// Cut short by the stop, not by the handler: not its failure.
			d.Attempts = append(d.Attempts, at)
			d.Result, d.Why = "interrupted", "stopped during this attempt"
			return d
		}
		if !kind.attack() {
			e.count(a.OK())
		}
		offset += e.Clock.Now().Sub(now)

		switch {
		case kind.attack():
			d.Attempts = append(d.Attempts, at)
			switch {
			case a.OK():
				d.Result = "accepted"
			case a.Err != nil:
				d.Result = "no answer"
			default:
				d.Result = "rejected"
			}
			d.OK = a.Err == nil && a.StatusCode/100 == 4
			return d
		case a.OK():
			d.Attempts = append(d.Attempts, at)
			d.Result, d.OK = "delivered", true
			return d
		case n > len(e.Profile.Delays):
			d.Attempts = append(d.Attempts, at)
			d.Result, d.Why = "failed", "retries exhausted"
			return d
		case !e.Profile.retryable(a):
			d.Attempts = append(d.Attempts, at)
			d.Result, d.Why = "failed", "not retried: Sent retries only 5xx answers and timeouts"
			return d
		}
		at.Retry = e.Profile.Delays[n-1]
		d.Attempts = append(d.Attempts, at)
		offset += at.Retry
		if err := e.sleep(ctx, at.Retry); err != nil {
			d.Result, d.Why = "interrupted", "stopped while waiting to retry"
			return d
		}
	}
}

// header signs one attempt; the chaos kinds spoil it as they say.
func (e *Emulator) header(r *Request, kind Kind, st Step, now time.Time) http.Header {
	switch kind {
	case KindStale:
		return e.Signer.Header(r, now.Add(-st.Stale))
	case KindTampered:
		h := e.Signer.Header(r, now)
		h.Set(signature.HeaderSignature, tamper(h.Get(signature.HeaderSignature)))
		return h
	}
	return e.Signer.Header(r, now)
}

// tamper changes one character of a signature's value, keeping its form:
// the scheme prefix stays, the digest no longer matches.
func tamper(sig string) string {
	b := []byte(sig)
	for i := len(b) - 3; i >= 0; i-- { // skip base64 padding at the end
		c := b[i]
		switch {
		case c >= 'a' && c < 'f', c >= 'A' && c < 'Z', c >= '0' && c < '9':
			b[i] = c + 1
			return string(b)
		case c == 'f' || c == 'Z' || c == '9':
			b[i] = c - 1
			return string(b)
		}
	}
	return sig + "0"
}

func (e *Emulator) attempt(ctx context.Context, h http.Header, body []byte, slow time.Duration) Answer {
	ctx, cancel := context.WithTimeout(ctx, e.Profile.Timeout)
	defer cancel()
	var rd io.Reader = bytes.NewReader(body)
	if slow > 0 {
		rd = &trickle{body: body, pieces: 16, pause: slow / 16}
	}
	return Post(ctx, e.Client, e.URL, h, rd)
}

// trickle hands out body in pieces with a real pause before each.
type trickle struct {
	body   []byte
	pieces int
	pause  time.Duration
	off    int
}

// Len is what is left to read, so that the request has a Content-Length.
func (t *trickle) Len() int { return len(t.body) - t.off }

func (t *trickle) Read(p []byte) (int, error) {
	if t.off >= len(t.body) {
		return 0, io.EOF
	}
	time.Sleep(t.pause)
	size := max(len(t.body)/t.pieces, 1)
	n := copy(p, t.body[t.off:min(t.off+size, len(t.body))])
	t.off += n
	return n, nil
}

func (e *Emulator) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-e.Clock.After(time.Duration(float64(d) / e.TimeScale)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// count tracks failed attempts in a row, for DisableAfter.
func (e *Emulator) count(ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ok {
		e.failRun = 0
		return
	}
	e.failRun++
	if e.Profile.DisableAfter > 0 && e.failRun >= e.Profile.DisableAfter {
		e.disabled = true
	}
}

// Disabled reports whether the endpoint was disabled for failing
// Profile.DisableAfter attempts in a row.
func (e *Emulator) Disabled() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.disabled
}

// writeTimeline prints one delivery and its attempts.
func writeTimeline(w io.Writer, d *Delivery) {
	label := ""
	switch d.Kind {
	case KindDuplicate:
		label = "  (duplicate, same event id)"
	case KindTampered:
		label = "  (tampered signature)"
	case KindStale:
		label = "  (stale timestamp)"
	}
	fmt.Fprintf(w, "%s %s%s\n", d.Request.Name, d.Request.EventID, label)
	for _, a := range d.Attempts {
		what := ""
		switch {
		case a.Retry > 0:
			what = "retry in " + shortDuration(a.Retry)
		case d.Kind.attack() && d.OK:
			what = "rejected, as it should be"
		case d.Kind.attack():
			what = "should have been rejected with a 4xx"
		case d.Why != "":
			what = d.Result + ": " + d.Why
		default:
			what = d.Result
		}
		fmt.Fprintf(w, "  #%-2d %-8s %-28s %8s  %s\n", a.N, "+"+shortDuration(a.Offset), clipString(a.Answer.String(), 28), latency(a.Answer.Took), what)
		if body := strings.TrimSpace(string(a.Answer.Body)); body != "" && !a.Answer.OK() {
			fmt.Fprintf(w, "       answered: %s\n", clipString(body, 100))
		}
	}
	if d.Result == "not sent" {
		fmt.Fprintln(w, "  not sent: the endpoint is disabled")
	}
}

// Summary counts the results in one line, e.g. "6 deliveries: 5
// delivered, 1 failed; 1 tampered request rejected".
func Summary(ds []*Delivery) string {
	counts := map[string]int{}
	attacks, rejected := 0, 0
	for _, d := range ds {
		if d.Kind.attack() && d.Result != "interrupted" {
			attacks++
			if d.OK {
				rejected++
			}
			continue
		}
		counts[d.Result]++
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	parts := []string{fmt.Sprintf("%d delivered", counts["delivered"])}
	for _, r := range []string{"failed", "not sent", "interrupted"} {
		if counts[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[r], r))
		}
	}
	s := fmt.Sprintf("%d %s: %s", n, Plural(n, "delivery", "deliveries"), strings.Join(parts, ", "))
	if attacks > 0 {
		s += fmt.Sprintf("; %d of %d forged %s rejected with a 4xx", rejected, attacks, Plural(attacks, "request", "requests"))
	}
	return s
}
