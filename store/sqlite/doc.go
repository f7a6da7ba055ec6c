// Package sqlite is the embedded default store: one file, zero set-up.
//
// The database runs in WAL mode with synchronous=FULL, so a committed
// transaction survives a crash or power loss. All writes go through one
// writer goroutine that gathers the writes waiting at that moment into one
// transaction (group commit): many concurrent requests share one fsync, and
// each request is released only after COMMIT has returned. Reads use a
// separate pool of read-only connections and never wait for the writer.
//
// # Deliveries
//
// Every delivery is one row of the deliveries table, and nothing else:
// Append inserts one row per destination in the transaction that stores
// the event, so an acknowledged event has its deliveries. The row is
// pending, or in flight when the dispatcher of this process has a free
// place for it and nothing due waits (store.AppendClaimer, handoff.go):
// then the append claims it, leased as a claim would, and hands the claim
// to the dispatcher once committed. Every
// read (claims, listings, an event's delivery counts, retention) reads
// those rows. The table makes delivery ids (INTEGER PRIMARY KEY
// AUTOINCREMENT: each above every id before it, none used twice), and
// there is no limit on the destination names a store routes to over its
// life.
//
//	Append, AddDeliveries
//	      │
//	      ▼
//	   pending ◀──── Complete: temporary or snooze; lease expiry ────┐
//	    │  ▲                                                         │
//	    │  └──── Requeue (of succeeded, dead, discarded)             │
//	    │ Claim                                                      │
//	    ▼                                                            │
//	in_flight ───────────────────────────────────────────────────────┘
//	    │
//	    ├── Complete: success ─────────────────────────▶ succeeded
//	    └── Complete: permanent, or attempts spent ────▶ dead
//
//	pending, dead ── Discard ──▶ discarded
//	Append, while the dispatcher has a free place ──▶ in_flight
//
// Where each state lives:
//
//   - pending: status = 'pending', next_attempt_at its due time; the
//     partial index deliveries_pending holds exactly these, in due order,
//     and Claim and NextDue read only it.
//   - in_flight: status = 'in_flight', lease_owner and lease_until set; the
//     partial index deliveries_in_flight holds these by lease end, for
//     lease expiry (and an owner's start, which releases them all).
//   - succeeded, dead, discarded: status alone. The partial index
//     deliveries_listed (status, id) holds the pending, dead and discarded
//     ones, for listings and bulk moves by status; a succeeded delivery,
//     the common end, is an entry of no index but (event_seq,
//     destination), so that its claim and outcome rewrite no index entry
//     for it but those of its passing states.
//
// Listing events by delivery state walks deliveries_dead or deliveries_open
// (pending and in flight), partial indexes by event_seq, in seq order.
//
// The appends one writer batch holds insert their events one by one, then
// their deliveries together, in multi-row inserts. Every attempt is a row
// of attempts pointing at its delivery's id. The completions one writer
// batch holds record their attempts in multi-row inserts, and move their
// deliveries on in multi-row statements too, only while their owner still
// holds the lease (else store.ErrLeaseLost). No partial index's condition
// is an IN list of three or more values: SQLite would build a temporary
// b-tree to evaluate it at every run of every statement that writes a
// delivery.
//
// After a crash, the next owner (Options.Exclusive) makes what was in
// flight pending again at once, recording each lost attempt: only the
// deliveries that were in flight are delivered again.
//
// # Counters
//
// Stats reads counters (counts.go), not the tables: events, duplicates and
// attention events, and deliveries per destination and status. The writer
// changes them in the transaction of every write that changes what they
// count, so they are exact whatever fails.
package sqlite
