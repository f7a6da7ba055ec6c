package devtools

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
)

// Listen output, one line per request and one per forwarding attempt:
//
//	09:29:10  ✓ v1      message.delivered        msg 2bc08494  DELIVERED  63a35363  new
//	09:29:10  ✓ v1      message.delivered        msg 2bc08494  DELIVERED  63a35363  duplicate
//	          → 500 Internal Server Error 1ms, will retry in 800ms (attempt 1 of 3): {"error":"database is locked"}
//	          → 200 OK 1ms
//	09:29:11  ✗ no_match  401  1 v1 signature checked against 1 secret
//	          ↳ no configured secret matched — is the secret from another environment (test/live)? …
//
// Column widths; longer values push the rest of the line right.
const (
	widthVerified = 9
	widthType     = 24
	widthSubject  = 13
	widthStatus   = 10
	listenIndent  = "          " // under the verification column
	printedMemory = 4096         // event ids remembered as printed
)

// listenPrinter prints queued items. Only the print goroutine uses it.
type listenPrinter struct {
	l     *Listener
	w     io.Writer
	style listenStyle

	printed map[string]bool // events whose line was printed
	ring    []string        // the same ids, oldest first, to forget them
	last    string          // the event of the last event line
	drops   int64           // drops already reported
	// hintedLegacy is set once the hint to --forward-scheme legacy is
	// printed: once a run.
	hintedLegacy bool
}

// print prints the queue until stop, then what is left in it.
func (l *Listener) print() {
	defer close(l.printerDone)
	p := &listenPrinter{l: l, w: l.cfg.Out, style: listenStyle{l.cfg.Color}, printed: map[string]bool{}}
	for {
		select {
		case it := <-l.items:
			p.item(it)
		case <-l.stop:
			for {
				select {
				case it := <-l.items:
					p.item(it)
				default:
					p.reportDrops()
					return
				}
			}
		}
	}
}

func (p *listenPrinter) item(it listenItem) {
	p.reportDrops()
	if p.l.cfg.JSON {
		p.record(it)
		return
	}
	if it.forward {
		p.forward(it)
		return
	}
	p.request(it)
}

// reportDrops says how many lines were dropped since it last said so.
func (p *listenPrinter) reportDrops() {
	n := p.l.dropped.Load()
	if n == p.drops {
		return
	}
	if p.l.cfg.JSON {
		line, _ := json.Marshal(listenRecord{Time: time.Now(), Kind: "dropped", Dropped: n - p.drops})
		_, _ = p.w.Write(append(line, '\n'))
		p.drops = n
		return
	}
	fmt.Fprintln(p.w, p.style.yellow(fmt.Sprintf("%s… %d %s not printed: the output fell behind (those requests were answered and stored as usual)",
		listenIndent, n-p.drops, Plural(int(n-p.drops), "line", "lines"))))
	p.drops = n
	p.last = ""
}

// request prints one answered request.
func (p *listenPrinter) request(it listenItem) {
	switch it.outcome {
	case "accepted", "attention":
		if p.printed[it.event.ID] {
			return // its forwarding was reported first, under its own line
		}
		p.eventLine(it.at, it.event, it.event.ID, "new")
	case "duplicate":
		p.eventLine(it.at, it.event, it.result.EventID, "duplicate")
	case "rejected":
		p.rejection(it)
	default:
		p.refusal(it)
	}
}

// eventLine prints an event: time, verification, type, subject, status,
// short id and what it is (new, duplicate, replay, pending).
func (p *listenPrinter) eventLine(at time.Time, ev *store.Event, id, what string) {
	s := p.style
	var b strings.Builder
	b.WriteString(s.dim(at.In(p.l.cfg.Location).Format("15:04:05")))
	b.WriteString("  ")
	b.WriteString(s.green(listenPad("✓ "+ev.Scheme, widthVerified)))
	b.WriteString(" ")
	b.WriteString(s.bold(listenPad(dashIfEmpty(ev.Type), widthType)))
	b.WriteString(" ")
	b.WriteString(listenPad(subjectText(ev), widthSubject))
	b.WriteString(" ")
	b.WriteString(listenPad(dashIfEmpty(ev.Status), widthStatus))
	b.WriteString(" ")
	b.WriteString(s.dim(shortEventID(id)))
	b.WriteString("  ")
	switch what {
	case "duplicate":
		b.WriteString(s.yellow(what))
	case "new":
		b.WriteString(what)
	default:
		b.WriteString(s.cyan(what))
	}
	if ev.Attention != "" {
		b.WriteString("  ")
		b.WriteString(s.yellow("⚠ " + clipString(ev.Attention, 80)))
	}
	fmt.Fprintln(p.w, b.String())
	p.last = id
	if what != "duplicate" {
		p.remember(id)
	}
}

// remember notes that id's line was printed, forgetting the oldest.
func (p *listenPrinter) remember(id string) {
	if p.printed[id] {
		return
	}
	p.printed[id] = true
	p.ring = append(p.ring, id)
	if len(p.ring) > printedMemory {
		delete(p.printed, p.ring[0])
		p.ring = p.ring[1:]
	}
}

// subject is e.g. "msg 4c6e4a2a", or "-" when the event has none.
func subjectText(ev *store.Event) string {
	if ev.SubjectKind == "" {
		return "-"
	}
	kind := strings.TrimSuffix(ev.SubjectKind, "_id")
	id := ev.Subject
	switch ev.SubjectKind {
	case event.SubjectMessage:
		kind = "msg"
	case event.SubjectTemplate:
		kind = "tpl"
	case event.SubjectPhoneNumber:
		kind = "from"
	}
	if ev.SubjectKind != event.SubjectPhoneNumber && len(id) > 8 {
		id = id[:8]
	}
	return kind + " " + id
}

// rejection prints a request that failed verification, and the likeliest
// cause when the body is small enough to diagnose.
func (p *listenPrinter) rejection(it listenItem) {
	s := p.style
	detail := ""
	if ve, ok := errors.AsType[*signature.VerifyError](it.err); ok {
		detail = ve.Detail
	} else if it.err != nil {
		detail = it.err.Error()
	}
	fmt.Fprintf(p.w, "%s  %s  %d  %s\n", s.dim(it.at.In(p.l.cfg.Location).Format("15:04:05")),
		s.red("✗ "+it.reason), it.status, detail)
	p.last = ""
	if it.header == nil {
		return
	}
	d := p.l.diagnose(it)
	if len(d.Findings) > 0 {
		fmt.Fprintln(p.w, s.dim(listenIndent+"↳ "+clipString(d.Findings[0].Message, 400)))
	}
}

// refusal prints a request answered with an error before verification or
// after it (the store could not take the event).
func (p *listenPrinter) refusal(it listenItem) {
	var why string
	switch it.outcome {
	case "too_large":
		why = "the body is larger than the limit"
	case "bad_method":
		why = it.method + ": webhooks are delivered with POST"
	case "bad_request":
		why = "the body could not be read"
	case "unavailable":
		why = "the store could not take the event; the sender will retry"
		if it.err != nil {
			why += ": " + it.err.Error()
		}
	default:
		why = it.outcome
	}
	fmt.Fprintf(p.w, "%s  %s  %d  %s\n", p.style.dim(it.at.In(p.l.cfg.Location).Format("15:04:05")),
		p.style.red("✗ "+it.outcome), it.status, why)
	p.last = ""
}

// forward prints one forwarding attempt under its event's line; it prints
// the event's line first when it has not been printed (a replay, a
// delivery left pending by an earlier run, or an attempt reported before
// its request).
func (p *listenPrinter) forward(it listenItem) {
	s := p.style
	ev := it.event
	if !p.printed[ev.ID] && !ev.ReceivedAt.IsZero() {
		what := "pending" // left by an earlier run
		switch {
		case p.l.replayed[ev.ID]:
			what = "replay"
		case !ev.ReceivedAt.Before(p.l.since):
			what = "new"
		}
		p.eventLine(ev.ReceivedAt, ev, ev.ID, what)
	}
	var b strings.Builder
	b.WriteString(listenIndent + "→ ")
	if p.last != ev.ID {
		b.WriteString(s.dim(shortEventID(ev.ID)) + " ")
	}
	done, a := it.done, it.done.Attempt
	var answer string
	switch {
	case a.StatusCode != 0:
		answer = fmt.Sprintf("%d %s", a.StatusCode, http.StatusText(a.StatusCode))
	case it.err != nil:
		answer = forwardProblem(it.err)
	default:
		answer = "delivered"
	}
	answer += " " + latency(a.Duration)
	replay := "replay with --replay " + shortEventID(ev.ID)
	switch {
	case done.Status == store.DeliverySucceeded:
		b.WriteString(s.green(answer))
	case a.Outcome == store.OutcomePermanent:
		b.WriteString(s.red(answer) + ", dead: this answer is not retried; " + replay)
	case done.Status == store.DeliveryDead:
		b.WriteString(s.red(answer) + fmt.Sprintf(", dead after %s; %s", Count(it.spent, "attempt", "attempts"), replay))
	case a.Outcome == store.OutcomeSnoozed:
		b.WriteString(s.yellow(answer) + ", snoozed for " + shortDuration(done.NextAttemptAt.Sub(done.Now).Round(100*time.Millisecond)))
	default:
		b.WriteString(s.yellow(answer) + fmt.Sprintf(", will retry in %s (attempt %d of %d)",
			shortDuration(done.NextAttemptAt.Sub(done.Now).Round(100*time.Millisecond)), it.spent, p.l.policy.MaxAttempts))
	}
	if done.Status != store.DeliverySucceeded && a.Response != "" {
		b.WriteString(": " + clipString(a.Response, 80))
	}
	if !p.hintedLegacy && p.refusedV1(ev, a.StatusCode) {
		p.hintedLegacy = true
		b.WriteString("\n" + listenIndent + "  " + HintForwardLegacy)
	}
	fmt.Fprintln(p.w, b.String())
	p.last = ev.ID
}

// HintForwardLegacy is what listen says, once, when the app refuses an
// event it forwarded signed v1.
const HintForwardLegacy = "hint: your app refused an event signed v1. A handler written from Sent's guide verifies " +
	"legacy sha256= signatures only; Sent signs v1 today, so it will refuse real deliveries too. " +
	"Verify v1 (see hooklatch check), or meanwhile forward in legacy with --forward-scheme legacy"

// refusedV1 reports whether the app answered 401 or 403 to ev forwarded
// signed v1.
func (p *listenPrinter) refusedV1(ev *store.Event, status int) bool {
	if status != http.StatusUnauthorized && status != http.StatusForbidden || p.l.cfg.ForwardSecret.Fingerprint() == "" {
		return false
	}
	switch p.l.cfg.ForwardScheme {
	case signature.V1:
		return true
	case "", httpdest.SchemeAsReceived:
		return ev.Scheme == string(signature.V1)
	}
	return false
}

// forwardProblem says briefly why the app gave no answer.
func forwardProblem(err error) string {
	msg := Answer{Err: err}.String()
	if strings.HasPrefix(msg, "POST ") {
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			msg = rest
		}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		msg += " (is your app running?)"
	}
	return msg
}

// pad pads s with spaces to width runes.
func listenPad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// listenStyle paints text with ANSI colours, or leaves it plain.
type listenStyle struct{ color bool }

func (s listenStyle) paint(code, text string) string {
	if !s.color || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s listenStyle) bold(t string) string   { return s.paint("1", t) }
func (s listenStyle) dim(t string) string    { return s.paint("2", t) }
func (s listenStyle) red(t string) string    { return s.paint("31", t) }
func (s listenStyle) green(t string) string  { return s.paint("32", t) }
func (s listenStyle) yellow(t string) string { return s.paint("33", t) }
func (s listenStyle) cyan(t string) string   { return s.paint("36", t) }

// listenRecord is one line of `listen --json`: a request listen answered,
// or an attempt at forwarding an event.
type listenRecord struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // "request" or "forward"

	// A request: what listen answered, and why when it refused.
	Outcome    string `json:"outcome,omitempty"` // accepted, attention, duplicate, rejected, too_large, …
	HTTPStatus int    `json:"http_status,omitempty"`
	Reason     string `json:"reason,omitempty"`    // the rejection's code, e.g. no_match
	Detail     string `json:"detail,omitempty"`    // the verifier's words
	Diagnosis  string `json:"diagnosis,omitempty"` // the likeliest cause of a rejection

	// The event, when the request verified.
	EventID     string `json:"event_id,omitempty"`
	Scheme      string `json:"scheme,omitempty"`
	Type        string `json:"type,omitempty"`
	SubjectKind string `json:"subject_kind,omitempty"`
	Subject     string `json:"subject,omitempty"`
	Status      string `json:"status,omitempty"`
	Attention   string `json:"attention,omitempty"`

	// A forwarding attempt: the app's answer and what comes next.
	Attempt       int                  `json:"attempt,omitempty"`
	Delivery      store.DeliveryStatus `json:"delivery,omitempty"` // succeeded, pending (will retry) or dead
	AppStatus     int                  `json:"app_status,omitempty"`
	DurationMS    float64              `json:"duration_ms,omitempty"`
	Error         string               `json:"error,omitempty"`
	NextAttemptAt *time.Time           `json:"next_attempt_at,omitempty"`

	// Lines not printed because the output fell behind (kind "dropped").
	Dropped int64 `json:"dropped,omitempty"`
}

// record writes it as one JSON line.
func (p *listenPrinter) record(it listenItem) {
	r := listenRecord{Time: it.at, Kind: "request", Outcome: it.outcome, HTTPStatus: it.status, Reason: it.reason}
	if ev := it.event; ev != nil {
		r.EventID, r.Scheme, r.Type, r.SubjectKind, r.Subject, r.Status, r.Attention =
			ev.ID, ev.Scheme, ev.Type, ev.SubjectKind, ev.Subject, ev.Status, ev.Attention
	}
	switch {
	case it.forward:
		done := it.done
		r = listenRecord{Time: done.Attempt.StartedAt, Kind: "forward", EventID: r.EventID, Type: r.Type,
			Subject: r.Subject, Status: r.Status, Attempt: done.Attempt.Attempt, Delivery: done.Status,
			AppStatus: done.Attempt.StatusCode, DurationMS: float64(done.Attempt.Duration.Microseconds()) / 1000,
			Error: done.Attempt.Error}
		if done.Status == store.DeliveryPending {
			r.NextAttemptAt = &done.NextAttemptAt
		}
	case it.outcome == "duplicate":
		r.EventID = it.result.EventID
	case it.outcome == "rejected":
		if ve, ok := errors.AsType[*signature.VerifyError](it.err); ok {
			r.Detail = ve.Detail
		} else if it.err != nil {
			r.Detail = it.err.Error()
		}
		if it.header != nil {
			if d := p.l.diagnose(it); len(d.Findings) > 0 {
				r.Diagnosis = d.Findings[0].Message
			}
		}
	case it.err != nil:
		r.Detail = it.err.Error()
	}
	line, err := json.Marshal(r)
	if err != nil { // a listenRecord always marshals
		line = []byte(`{"kind":"error","error":` + strconv.Quote(err.Error()) + `}`)
	}
	_, _ = p.w.Write(append(line, '\n'))
}
