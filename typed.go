package hooklatch

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hooklatch/hooklatch/event"
)

// typedHandler is a Handler that decodes one kind of payload. Its route
// takes only the event types it decodes (see routeTypes).
type typedHandler struct {
	HandlerFunc
	types []string // patterns of the types it decodes
	what  string   // what it decodes, for errors
}

// The types each typed handler decodes. Message statuses are the
// catalog's, as "message.*" would also take message.received, which
// carries another payload.
var (
	messageTypes  = messageStatusTypes()
	inboundTypes  = []string{"message.received"}
	templateTypes = []string{"template", "template.*"}
	contactTypes  = []string{"contact", "contact.*"}
)

func messageStatusTypes() []string {
	var out []string
	for _, t := range event.Types {
		if strings.HasPrefix(t.Name, "message.") && t.Name != "message.received" {
			out = append(out, t.Name)
		}
	}
	return out
}

// typed builds a Handler for one family's payload. Its route takes only
// types, so it never sees another payload; should one reach it all the
// same (the handler wrapped in another), it is skipped (nil).
func typed[P any](what string, types []string, get func(*event.Envelope) (P, error), fn func(context.Context, *Event, P) error) Handler {
	return typedHandler{types: types, what: what, HandlerFunc: func(ctx context.Context, ev *Event) error {
		if ev.Envelope == nil {
			return nil
		}
		p, err := get(ev.Envelope)
		if errors.Is(err, event.ErrWrongType) {
			return nil
		}
		if err != nil {
			return Permanent(fmt.Errorf("event %s: %w", ev.ID, err))
		}
		return fn(ctx, ev, p)
	}}
}

// routeTypes are the types the route of h takes: its Types, narrowed for
// a typed handler to those it decodes. A route of OnMessage with Types
// "message.*" takes every message status but message.received; one
// without Types takes just what the handler decodes.
func routeTypes(h Route) ([]string, error) {
	th, ok := h.Handler.(typedHandler)
	if !ok {
		return h.Types, nil
	}
	if len(h.Types) == 0 {
		return th.types, nil
	}
	var out []string
	add := func(t string) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, want := range h.Types {
		for _, decodes := range th.types {
			if within(want, decodes) {
				add(want)
			} else if within(decodes, want) {
				add(decodes)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("handler %q decodes %s (%v): none of them is among its Types %v", h.Name, th.what, th.types, h.Types)
	}
	return out, nil
}

// within reports whether every type pattern a matches, pattern b matches
// too (a is read as a name: "template.*" is within "*").
func within(a, b string) bool {
	ok, _ := path.Match(b, a)
	return ok
}

// OnMessage runs fn on outbound message status events (queued … read,
// failed). Its route takes only those: with Types "message.*" it does not
// take message.received, which OnInbound decodes.
func OnMessage(fn func(ctx context.Context, ev *Event, m *event.MessageStatus) error) Handler {
	return typed("message statuses", messageTypes, (*event.Envelope).Message, fn)
}

// OnInbound runs fn on inbound messages (message.received); its route
// takes only those.
func OnInbound(fn func(ctx context.Context, ev *Event, m *event.InboundMessage) error) Handler {
	return typed("inbound messages", inboundTypes, (*event.Envelope).Inbound, fn)
}

// OnTemplate runs fn on template status events; its route takes only
// those.
func OnTemplate(fn func(ctx context.Context, ev *Event, t *event.Template) error) Handler {
	return typed("template events", templateTypes, (*event.Envelope).Template, fn)
}

// OnContact runs fn on contact events (opt-in, opt-out, help); its route
// takes only those.
func OnContact(fn func(ctx context.Context, ev *Event, c *event.Contact) error) Handler {
	return typed("contact events", contactTypes, (*event.Envelope).Contact, fn)
}
