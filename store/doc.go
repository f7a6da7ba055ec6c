// Package store is the seam between hooklatch and where it keeps what it
// accepted: the events, their deliveries and attempts, the rejection log
// and the routes. Everything above it (the receiver, the dispatcher, the
// admin API, the CLI) speaks only this package's types; nothing above it
// names a database.
//
// An event comes in three types, insert parameters apart from stored rows.
// EventData is what an event is, as received; NewEvent, what Append takes,
// is EventData and the destinations the event goes to; Event, what every
// read returns, is EventData and what the store keeps about it (its Seq,
// Duplicates, Rank, Stale, DeliveryCounts). Append leaves its argument as
// it was: AppendResult says what became of it.
//
// Two backends implement Store, and they are the only ones meant to:
// store/sqlite, one process writing one file, and store/postgres, any
// number of processes sharing one schema. A third backend is welcome
// only if it passes store/storetest, the conformance suite both run
// unchanged, and keeps the promises written on each method of Store:
// Append returns once the outcome is durable, a duplicate names the
// first event it matches, a claim is a lease, and a Complete by a worker
// that lost its lease changes nothing but the attempt log.
//
// Every recurring read a backend offers (a list page, a lookup, Stats,
// the next due time) must cost the same at tens of millions of events as
// at thousands: pages go by key (EventFilter.AfterSeq and BeforeSeq,
// DeliveryFilter.AfterID), lookups go through an index, and counts come
// from counters the writers keep, not from counting rows.
//
// A destination may ask for FIFO per subject (OrderSubject): the
// events of one subject delivered one at a time, lowest lifecycle
// position first. The store learns which destinations do from the routes
// the serving process records (SetRoutes, Route.Order), the one place it
// already learns of destinations: no claim or append parameter changes,
// and a backend keeps the set in memory, read again when it opens. The
// order is kept by the store, not the dispatcher: a delivery of an
// ordered destination carries its subject and position, every pending
// delivery of a subject but its head is held out of what Claim reads,
// and the head is picked again in the transaction that changes any of the
// subject's deliveries. So any number of dispatchers, on any number of
// instances, claim as they always do. Deliveries created while a
// destination was unordered stay unordered.
//
// Errors that mean the same on every backend are this package's
// variables (ErrNotFound, ErrBusy, ErrClosed, ErrLeaseLost, ErrNoStore,
// …) or types (SchemaError), so a caller maps each to one answer
// whatever the backend.
package store
