// Package inspect is the one read model behind the CLI's events and
// rejections commands, the admin API and the dashboard: listing events
// with filters and cursors, an event's detail with every delivery's
// timeline, the actions on deliveries (retry, replay, discard), and the
// rejection log with its release. It goes through store.Store only, so it
// works alike on every backend.
package inspect
