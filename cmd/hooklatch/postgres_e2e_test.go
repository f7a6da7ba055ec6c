package main_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// Three hooklatch serve processes on one PostgreSQL database and schema,
// under concurrent load spread across all three: every acknowledged event
// is stored once, a duplicate sent to another instance is answered as a
// duplicate of the same event, and every delivery is completed, each
// attempted once (none twice within a lease).
func TestThreeInstancesShareOneDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("drives three built binaries")
	}
	dbURL := pgtest.URL(t)
	rawSecret, secret := newSecret(t)

	type arrival struct {
		attempt string
		at      time.Time
	}
	var (
		mu       sync.Mutex
		arrivals = map[string][]arrival{} // hooklatch event id → its deliveries
	)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		id := r.Header.Get("Hooklatch-Event-Id")
		arrivals[id] = append(arrivals[id], arrival{r.Header.Get("Hooklatch-Attempt"), time.Now()})
		mu.Unlock()
	}))
	defer app.Close()

	var urls []string
	for range 3 {
		addr := freeAddr(t)
		cmd := serve(t, rawSecret, dbURL, addr, "--forward-to", app.URL)
		defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
		urls = append(urls, "http://"+addr+"/webhooks/sent")
	}

	const senders, perSender = 6, 50
	var (
		wg    sync.WaitGroup
		ackMu sync.Mutex
		acked = map[string]string{} // event id header → stored event id
	)
	for w := range senders {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for i := range perSender {
				key := fmt.Sprintf("three-%d-%d", w, i)
				first := (w + i) % len(urls)
				a, ok := post(client, urls[first], secret, key)
				if !ok || a.Duplicate {
					t.Errorf("%s to instance %d: %+v, %v; want accepted", key, first, a, ok)
					return
				}
				// Sent retries, and may reach another instance.
				other := (first + 1 + i%2) % len(urls)
				d, ok := post(client, urls[other], secret, key)
				if !ok || !d.Duplicate || d.EventID != a.EventID {
					t.Errorf("%s again to instance %d: %+v, %v; want a duplicate of %s", key, other, d, ok, a.EventID)
				}
				ackMu.Lock()
				acked[key] = a.EventID
				ackMu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	ctx := context.Background()
	st, err := postgres.Open(ctx, dbURL, postgres.Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		stats, err := st.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Deliveries[store.DeliverySucceeded] == int64(len(acked)) {
			if stats.Events != int64(len(acked)) || stats.Duplicates != int64(len(acked)) {
				t.Errorf("stats = %+v; want %d events, each with one duplicate", stats, len(acked))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries = %v after a minute, want %d succeeded", stats.Deliveries, len(acked))
		}
		time.Sleep(50 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	for key, id := range acked {
		got := arrivals[id]
		if len(got) != 1 || got[0].attempt != "1" {
			t.Errorf("event %s (%s) reached the app %d times: %+v; want once, as attempt 1", id, key, len(got), got)
		}
		ds, err := st.ListDeliveries(ctx, store.DeliveryFilter{EventID: id})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries of %s: %+v, %v", id, ds, err)
		}
		as, err := st.ListAttempts(ctx, ds[0].ID)
		if err != nil || len(as) != 1 || as[0].Outcome != store.OutcomeSucceeded {
			t.Errorf("attempts of delivery %d: %+v, %v; want one that succeeded", ds[0].ID, as, err)
		}
	}
}

// SIGKILL at random moments under load loses no acknowledged event on
// PostgreSQL either.
func TestKillNineLosesNoAcknowledgedEventPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary through repeated crashes")
	}
	dbURL := pgtest.URL(t)
	testKillNine(t, dbURL, func(ctx context.Context) (store.Store, error) {
		return postgres.Open(ctx, dbURL, postgres.Options{MustExist: true})
	})
}

// Sixteen hooklatch serve processes started at the same moment on one
// fresh schema all come up: they migrate it once and record their routes
// one after another, none exiting on the others' rows.
func TestSimultaneousStartsOnOneSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("drives sixteen built binaries")
	}
	dbURL := pgtest.URL(t)
	rawSecret, _ := newSecret(t)
	const instances = 16
	cmds := make([]*exec.Cmd, instances)
	logs := make([]*bytes.Buffer, instances)
	addrs := make([]string, instances)
	for i := range instances {
		addrs[i] = freeAddr(t)
	}
	for i := range instances {
		cmds[i], logs[i] = startServe(t, rawSecret, dbURL, addrs[i], "--forward-to", "http://127.0.0.1:9/", "--forward-types", "message.*")
	}
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() { errs[i] = waitHealthy(cmds[i], addrs[i], "/readyz", 60*time.Second) })
	}
	wg.Wait()
	for i, cmd := range cmds {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if errs[i] != nil {
			t.Errorf("instance %d: %v\n%s", i, errs[i], logs[i].String())
		}
	}
}
