package event

import (
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	t.Parallel()

	want := []string{
		"message.queued", "message.routed", "message.sent", "message.delivered", "message.read",
		"message.failed", "message.received", "message.scheduled", "message.filtered", "message.blocked",
		"template.approved", "template.pending", "template.rejected",
		"contact.opt_in", "contact.opt_out", "contact.help",
		"channel.submitted", "channel.activated",
		"call.initiated", "call.answered", "call.completed", "call.failed", "call.recording_ready",
	}
	if len(Types) != len(want) {
		t.Errorf("len(Types) = %d, want %d", len(Types), len(want))
	}
	for _, name := range want {
		info, ok := LookupType(name)
		if !ok || info.Name != name {
			t.Errorf("LookupType(%q) = %+v, %v", name, info, ok)
		}
	}
	fields := map[string]string{"message": "message", "template": "templates", "contact": "contact", "channel": "channel", "call": "call"}
	for _, ti := range Types {
		fam, _, _ := strings.Cut(ti.Name, ".")
		if ti.Field != fields[fam] {
			t.Errorf("%s: Field = %q, want %q", ti.Name, ti.Field, fields[fam])
		}
		if ti.Description == "" {
			t.Errorf("%s: no description", ti.Name)
		}
		if canon(ti.Name) != ti.Name {
			t.Errorf("%s: not canonical", ti.Name)
		}
	}
}

func TestLookupType(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		want string // "" for not found
	}{
		{"message.delivered", "message.delivered"},
		{"message.DELIVERED", "message.delivered"},
		{"MESSAGE.DELIVERED", "message.delivered"},
		{"messages.delivered", "message.delivered"},
		{"templates.approved", "template.approved"},
		{"template.APPROVED", "template.approved"},
		{"delivered", "message.delivered"},
		{"DELIVERED", "message.delivered"},
		{"approved", "template.approved"},
		{"failed", "message.failed"},
		{"call.failed", "call.failed"},
		{"calls.failed", "call.failed"},
		{"opt_out", "contact.opt_out"},
		{"opt-out", "contact.opt_out"},
		{"contact.opt-out", "contact.opt_out"},
		{"recording_ready", "call.recording_ready"},
		{" activated ", "channel.activated"},
		{"message.approved", ""},
		{"template.delivered", ""},
		{"message", ""},
		{"", ""},
		{"delivred", ""},
		{"billing.paid", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info, ok := LookupType(tt.name)
			if ok != (tt.want != "") || info.Name != tt.want {
				t.Errorf("LookupType(%q) = %q, %v; want %q", tt.name, info.Name, ok, tt.want)
			}
		})
	}
}

func TestFamily(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"message": "message", "messages": "message", "Messages": "message",
		"templates": "template", "template": "template",
		"contact": "contact", "contacts": "contact", "channel": "channel", "call": "call",
		"Billing": "billing", " message ": "message",
	}
	for field, want := range tests {
		if got := (&Envelope{Field: field}).Family(); got != want {
			t.Errorf("Family(%q) = %q, want %q", field, got, want)
		}
	}
}

func TestCloseTypes(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"delivred":          "message.delivered",
		"message.deliverd":  "message.delivered",
		"templates.aproved": "template.approved",
		"optout":            "contact.opt_out",
		"recording":         "call.recording_ready",
	}
	for in, want := range tests {
		got := closeTypes(in)
		if len(got) == 0 || got[0] != want {
			t.Errorf("closeTypes(%q) = %v, want %q first", in, got, want)
		}
	}
	if got := closeTypes("zzzzzzzzzzzzzzzzzzzzzz"); len(got) != 0 {
		t.Errorf("closeTypes(nonsense) = %v, want none", got)
	}
}
