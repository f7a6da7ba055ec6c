package logdest

import (
	"context"
	"log/slog"

	"github.com/hooklatch/hooklatch/destination"
)

// Message is the message of every line logdest writes.
const Message = "event"

type logDestination struct{ logger *slog.Logger }

// New returns a destination that logs each event with logger. A nil logger
// defaults to slog.Default().
func New(logger *slog.Logger) destination.Destination {
	if logger == nil {
		logger = slog.Default()
	}
	return &logDestination{logger: logger}
}

// Deliver implements destination.Destination. It always succeeds.
func (l *logDestination) Deliver(ctx context.Context, d *destination.Delivery) error {
	ev := d.Event
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs,
		slog.String("event_id", ev.ID),
		slog.String("type", ev.Type),
		slog.String("subject_kind", ev.SubjectKind),
		slog.String("subject", ev.Subject),
		slog.String("status", ev.Status),
		slog.String("source", ev.Source),
		slog.Int("attempt", d.Attempt),
		slog.String("dedupe_key", ev.DedupeKey),
		slog.Bool("stale", d.Stale),
	)
	if d.SubjectStatus != "" {
		attrs = append(attrs, slog.String("subject_status", d.SubjectStatus))
	}
	if ev.Attention != "" {
		attrs = append(attrs, slog.String("attention", ev.Attention))
	}
	// The attempt's context may be done already; the line is still worth
	// writing, so handlers get one that carries values but not cancellation.
	l.logger.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, Message, attrs...)
	return nil
}
