package dispatch_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// BenchmarkDispatchOrder delivers b.N message events of 1,000 active
// subjects (messages), their statuses in lifecycle order, to one HTTP
// app: "unordered" as fast as it goes, "subject" with FIFO per subject
// (one delivery of a message at a time). Run with -count 3 or more: the
// two alternate, and their deliveries/s compare (the goal is subject ≥
// 0.5 × unordered).
func BenchmarkDispatchOrder(b *testing.B) {
	for _, order := range []string{store.OrderNone, store.OrderSubject} {
		name := "unordered"
		if order != "" {
			name = order
		}
		b.Run(name, func(b *testing.B) { benchOrder(b, order, 1000) })
	}
}

func benchOrder(b *testing.B, order string, subjects int) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "h.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer app.Close()
	dest, err := httpdest.New(httpdest.Config{URL: app.URL})
	if err != nil {
		b.Fatal(err)
	}
	routes := []dispatch.Route{{Name: "app", Destination: dest, Order: order, Policy: dispatch.Policy{Concurrency: 64}}}
	if err := dispatch.RecordRoutes(ctx, st, routes); err != nil {
		b.Fatal(err)
	}
	statuses := []string{"QUEUED", "PROCESSED", "ROUTED", "SENT", "DELIVERED", "READ"}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < b.N; i += 16 {
				ev := storetest.NewEvent("sent", fmt.Sprint("b", i))
				ev.Subject = fmt.Sprint("msg-", i%subjects)
				ev.Status = statuses[(i/subjects)%len(statuses)]
				ev.Destinations = []string{"app"}
				if _, err := st.Append(ctx, ev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	runDispatch(b, st, routes)
}
