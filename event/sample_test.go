package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sampleClock is the fixed time samples are stamped with in tests.
var sampleClock = time.Date(2026, 8, 4, 10, 15, 2, 123456789, time.UTC)

// seeded returns SampleOptions with the fixed clock and a ChaCha8 reader
// seeded with seed.
func seeded(seed byte) SampleOptions {
	return SampleOptions{
		NowFunc: func() time.Time { return sampleClock },
		Rand:    rand.NewChaCha8([32]byte{seed}),
	}
}

var (
	uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	e164   = regexp.MustCompile(`^\+141555501[0-9]{2}$`)
)

func TestSampleRoundTrip(t *testing.T) {
	t.Parallel()

	gens := []struct {
		name   string
		opts   func(SampleOptions) SampleOptions
		subKey string // "sub_type", "event" or "" for none
	}{
		{"gen2", func(o SampleOptions) SampleOptions { return o }, keySubType},
		{"gen3", func(o SampleOptions) SampleOptions { o.Gen3 = true; return o }, keyEvent},
		{"legacy", func(o SampleOptions) SampleOptions { o.Legacy = true; return o }, ""},
	}
	for _, ti := range Types {
		fam, ev, _ := strings.Cut(ti.Name, ".")
		for _, gen := range gens {
			if gen.name == "legacy" && fam != FamilyMessage && fam != FamilyTemplate {
				continue
			}
			t.Run(gen.name+"/"+ti.Name, func(t *testing.T) {
				t.Parallel()
				body, err := Sample(ti.Name, gen.opts(seeded(1)))
				if err != nil {
					t.Fatal(err)
				}
				var compact bytes.Buffer
				if err := json.Compact(&compact, body); err != nil || !bytes.Equal(compact.Bytes(), body) {
					t.Fatalf("not compact JSON (%v): %s", err, body)
				}
				env := mustParse(t, body)
				if got := env.Type(); got != ti.Name {
					t.Fatalf("Type = %q, want %q\n%s", got, ti.Name, body)
				}
				if !env.Known() || env.Extra != nil {
					t.Errorf("Known = %v, Extra = %s", env.Known(), env.Extra)
				}
				if !env.Timestamp.Equal(sampleClock.Truncate(time.Second)) || env.TimestampRaw != "2026-08-04T10:15:02Z" {
					t.Errorf("Timestamp = %v (%q)", env.Timestamp, env.TimestampRaw)
				}

				// Envelope shape per generation.
				_, hasSub := lookup(body, keySubType)
				_, hasEvent := lookup(body, keyEvent)
				wantSub := gen.subKey == keySubType && fam != FamilyTemplate
				wantEvent := gen.subKey == keyEvent && fam != FamilyTemplate
				if hasSub != wantSub || hasEvent != wantEvent {
					t.Errorf("sub_type present %v (want %v), event present %v (want %v)", hasSub, wantSub, hasEvent, wantEvent)
				}
				if gen.name == "legacy" {
					if !strings.HasPrefix(env.ID, "evt_") || (fam == FamilyMessage && env.Field != "messages") {
						t.Errorf("legacy envelope: ID %q, Field %q", env.ID, env.Field)
					}
					if fam == FamilyTemplate {
						if raw, _ := lookup(body, "payload.status"); string(raw) != `"`+ev+`"` {
							t.Errorf("legacy template status = %s, want lower case", raw)
						}
					}
				} else if env.ID != "" || env.Field != ti.Field {
					t.Errorf("ID %q, Field %q (want %q)", env.ID, env.Field, ti.Field)
				}

				// Realistic values.
				subj := env.Subject()
				switch {
				case fam == FamilyChannel:
					if !subj.IsZero() {
						t.Errorf("Subject = %v, want none", subj)
					}
				case subj.Kind == SubjectPhoneNumber:
					if !e164.MatchString(subj.ID) {
						t.Errorf("Subject = %v, want a fictional E.164 number", subj)
					}
				case !uuidV4.MatchString(subj.ID):
					t.Errorf("Subject = %v, want a UUIDv4", subj)
				}
				checkSampleValues(t, body)
				checkTyped(t, env)
			})
		}
	}
}

// checkSampleValues checks the ids, numbers and channel of a sample.
func checkSampleValues(t *testing.T, body []byte) {
	t.Helper()
	for _, k := range []string{"payload.account_id", "payload.message_id", "payload.template_id", "payload.contact_id", "payload.call_id", "payload.recording_id", "request_id"} {
		if raw, ok := lookup(body, k); ok && !uuidV4.MatchString(str(raw)) {
			t.Errorf("%s = %s, want a UUIDv4", k, raw)
		}
	}
	for _, k := range []string{"payload.inbound_number", "payload.outbound_number", "payload.from", "payload.to", "payload.phone_number", "payload.number"} {
		if raw, ok := lookup(body, k); ok && !e164.MatchString(str(raw)) {
			t.Errorf("%s = %s, want a fictional E.164 number", k, raw)
		}
	}
}

// checkTyped decodes the sample's payload with its typed accessor, which
// must succeed and leave nothing in Extra.
func checkTyped(t *testing.T, env *Envelope) {
	t.Helper()
	var extra map[string]json.RawMessage
	var err error
	switch env.Family() {
	case FamilyMessage:
		if env.Type() == "message.received" {
			var in *InboundMessage
			if in, err = env.Inbound(); err == nil {
				extra = in.Extra
				if in.From == "" || in.To == "" || in.Text == "" {
					t.Errorf("Inbound() = %+v", *in)
				}
			}
		} else {
			var m *MessageStatus
			if m, err = env.Message(); err == nil {
				extra = m.Extra
			}
		}
	case FamilyTemplate:
		var tm *Template
		if tm, err = env.Template(); err == nil {
			extra = tm.Extra
			if !strings.EqualFold(tm.Status, strings.TrimPrefix(env.Type(), "template.")) {
				t.Errorf("Template().Status = %q", tm.Status)
			}
		}
	case FamilyContact:
		var c *Contact
		if c, err = env.Contact(); err == nil {
			extra = c.Extra
			if c.OptOut != (env.Type() == "contact.opt_out") {
				t.Errorf("Contact().OptOut = %v for %s", c.OptOut, env.Type())
			}
		}
	case FamilyChannel:
		var c *ChannelUpdate
		if c, err = env.ChannelUpdate(); err == nil {
			extra = c.Extra
		}
	case FamilyCall:
		var c *Call
		if c, err = env.Call(); err == nil {
			extra = c.Extra
			if c.Channel != "voice" {
				t.Errorf("Call().Channel = %q", c.Channel)
			}
		}
	}
	if err != nil {
		t.Fatalf("typed payload: %v", err)
	}
	if extra != nil {
		t.Errorf("typed payload has undocumented keys: %s", extra)
	}
}

func TestSampleChannels(t *testing.T) {
	t.Parallel()

	seen := func(typ string, gen3 bool) map[string]bool {
		got := map[string]bool{}
		for seed := range byte(40) {
			opts := seeded(seed)
			opts.Gen3 = gen3
			body, err := Sample(typ, opts)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := lookup(body, "payload.channel")
			got[str(raw)] = true
		}
		return got
	}
	for _, gen3 := range []bool{false, true} {
		if got := seen("message.read", gen3); len(got) != 2 || !got["whatsapp"] || !got["rcs"] {
			t.Errorf("message.read channels = %v, want whatsapp and rcs", got)
		}
		if got := seen("message.delivered", gen3); len(got) != 3 || !got["sms"] {
			t.Errorf("message.delivered channels = %v, want sms, whatsapp, rcs", got)
		}
		for _, typ := range []string{"message.filtered", "message.blocked"} {
			if got := seen(typ, gen3); len(got) != 1 || !got["auto"] {
				t.Errorf("%s channels = %v, want auto", typ, got)
			}
		}
		if got := seen("call.completed", gen3); len(got) != 1 || !got["voice"] {
			t.Errorf("call.completed channels = %v, want voice", got)
		}
	}
}

func TestSampleDeterministic(t *testing.T) {
	t.Parallel()

	a, err := Sample("message.delivered", seeded(7))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Sample("message.delivered", seeded(7))
	c, _ := Sample("message.delivered", seeded(8))
	if !bytes.Equal(a, b) {
		t.Errorf("same seed, different samples:\n%s\n%s", a, b)
	}
	if bytes.Equal(a, c) {
		t.Errorf("different seeds, same sample: %s", a)
	}

	// Defaults: the real clock and crypto/rand.
	d, err := Sample("delivered", SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := Sample("delivered", SampleOptions{})
	if bytes.Equal(d, e) {
		t.Error("two samples from crypto/rand are equal")
	}
	if env := mustParse(t, d); time.Since(env.Timestamp) > time.Minute {
		t.Errorf("default timestamp %v is not now", env.Timestamp)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestSampleErrors(t *testing.T) {
	t.Parallel()

	_, err := Sample("message.delivred", SampleOptions{})
	if !errors.Is(err, ErrUnknownType) || !strings.Contains(err.Error(), "message.delivered") {
		t.Errorf("unknown type: %v, want ErrUnknownType naming message.delivered", err)
	}
	_, err = Sample("zzzzzzzzzzzzzz", SampleOptions{})
	if !errors.Is(err, ErrUnknownType) || err.Error() != `unknown event type "zzzzzzzzzzzzzz"` {
		t.Errorf("nonsense type: %v, want only the name (a command line names no Go identifier)", err)
	}
	if _, err = Sample("contact.opt_out", SampleOptions{Legacy: true}); err == nil {
		t.Error("legacy contact sample: no error")
	}
	if _, err = Sample("message.sent", SampleOptions{Legacy: true, Gen3: true}); err == nil {
		t.Error("Legacy+Gen3: no error")
	}
	if _, err = Sample("message.sent", SampleOptions{Rand: failingReader{}}); err == nil || !strings.Contains(err.Error(), "entropy exhausted") {
		t.Errorf("failing Rand: %v", err)
	}
}

func TestSampleAliases(t *testing.T) {
	t.Parallel()

	body, err := Sample("templates.APPROVED", seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustParse(t, body).Type(); got != "template.approved" {
		t.Errorf("Type = %q", got)
	}
}
