// Package admin serves the admin listener's API under /v1/, the live
// stream of events and attempts (Server-Sent Events), the per-minute
// stats, the Prometheus gauges that need the store, and the dashboard
// under /ui/. It reads and acts through internal/inspect only, and its
// hooks into the receiver and the dispatcher never block.
package admin
