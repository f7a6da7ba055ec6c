package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/jackc/pgx/v5"
)

// workChannel is the NOTIFY channel of schema: channel names are
// identifiers, at most 63 bytes.
func workChannel(schema string) string {
	ch := "hooklatch_work." + schema
	if len(ch) > 63 {
		sum := sha256.Sum256([]byte(schema))
		ch = "hooklatch_work." + hex.EncodeToString(sum[:16])
	}
	return ch
}

// signalWork asks the notifier to announce new work when the batch
// stored an event that has somewhere to go.
func (s *Store) signalWork(batch []*appendReq) {
	for _, r := range batch {
		if r.err == nil && !r.res.Duplicate && !r.res.Handed && len(r.ev.Destinations) > 0 {
			s.announce()
			return
		}
	}
}

// announce asks the notifier for a NOTIFY; announcements made while one
// is being sent are sent together. It never blocks.
func (s *Store) announce() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	select {
	case s.work <- struct{}{}:
	default:
	}
}

// notifyLoop sends the announcements until Close; one still waiting then
// is sent before the pool closes, so that a command that requeued
// deliveries and exits at once still wakes the dispatchers.
func (s *Store) notifyLoop() {
	for range s.work {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
		if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, s.id); err != nil {
			// The dispatchers poll too: they find the work a little later.
			s.opts.Logger.Debug("postgres: could not announce new work", "err", err)
		}
		cancel()
	}
}

// ListenForWork calls wake whenever another process announces work in
// this schema (new deliveries, retries and replays issued by a command on
// another host), until ctx is done. While the database cannot be reached
// it calls wake once a second, so that its caller polls, and it listens
// again once it can. The dispatcher finds it as an optional interface.
func (s *Store) ListenForWork(ctx context.Context, wake func()) error {
	for ctx.Err() == nil {
		err := s.listen(ctx, wake)
		if ctx.Err() != nil {
			break
		}
		s.opts.Logger.Warn("postgres: not listening for new work; polling until the database is back", "err", err)
		wake()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// listen holds one connection of its own (not the pool's) on LISTEN until
// it fails or ctx is done.
func (s *Store) listen(ctx context.Context, wake func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	wake() // whatever was announced while nobody listened
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload != s.id {
			wake()
		}
	}
}
