package admin

import (
	"net/http"
	"time"
)

// heartbeat keeps idle streams open through proxies and shows the client
// the stream is alive.
const heartbeat = 15 * time.Second

// apiStream is GET /v1/stream: Server-Sent Events named "event" (an event
// stored), "attempt" (a delivery attempt recorded), "rejection" (a request
// rejected and kept), "stats" (the overview's numbers, every two
// seconds), and "gap" (this client missed some messages: reload
// what it shows).
func (a *Admin) apiStream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "no_streaming", "this connection cannot stream")
		return
	}
	sub := a.tail.hub.subscribe()
	defer a.tail.hub.unsubscribe(sub)
	a.tail.notify()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(": hooklatch live stream\n\n"))
	flusher.Flush()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.tail.closed:
			return
		case <-beat.C:
			w.Write([]byte(": heartbeat\n\n"))
		case m := <-sub.c:
			// JSON has no raw newline, so one data line holds it.
			w.Write([]byte("event: " + m.name + "\ndata: "))
			w.Write(m.data)
			w.Write([]byte("\n\n"))
		}
		flusher.Flush()
	}
}

// Close ends the live streams, so that the listener's graceful shutdown
// does not wait on them.
func (a *Admin) Close() { a.tail.closeOnce.Do(func() { close(a.tail.closed) }) }
