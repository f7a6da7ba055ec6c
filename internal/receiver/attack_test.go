package receiver_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/bench"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// Under each attack (1,100 connections trickling bodies they declared at
// 65,000 bytes; 4,200 trickling 16,383; 256 senders of 64 KiB bodies at
// 4 KiB/s; 64 senders of 1 MiB forged bodies), valid webhooks sent at 50 a second
// beside it are still accepted, at least 99 of 100. The receiver runs with
// its defaults behind an http.Server with serve's timeouts, on loopback.
//
// Run it alone, with the figures in its log:
//
//	go test ./internal/receiver -run TestAttacksDoNotStarveWebhooks -v
func TestAttacksDoNotStarveWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("an attack of 1,100 connections for several seconds")
	}
	for _, kind := range bench.AttackKinds {
		t.Run(kind, func(t *testing.T) {
			url, started := attackTarget(t)
			secrets, err := signature.ParseSecrets(v1Secret)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			attack := bench.Attack{Kind: kind, URL: url}
			ready := make(chan struct{})
			attacked := make(chan bench.AttackResult, 1)
			go func() {
				res, err := attack.Run(ctx, ready)
				if err != nil {
					t.Error(err)
				}
				attacked <- res
			}()
			select {
			case <-ready:
			case <-time.After(30 * time.Second):
				t.Fatal("the attack's connections did not open")
			}
			// Until the server has started to read every attacking request.
			for deadline := time.Now().Add(30 * time.Second); started.Load() < int64(attack.Connections()); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the server started %d of the attack's %d requests", started.Load(), attack.Connections())
				}
			}

			valid, err := bench.Paced(ctx, bench.Load{
				URL: url, Body: readFixture(t, "f1.json"), Vary: "8ba7b830-9dad-11d1-80b4-00c04fd430c8",
				Scheme: signature.V1, Secret: secrets[0], Duration: 6 * time.Second,
			}, 50)
			if err != nil {
				t.Fatal(err)
			}
			cancel()
			a := <-attacked
			sent := valid.Requests
			for _, n := range valid.Errors {
				sent += n
			}
			t.Logf("%s: valid webhooks: %d sent, %d accepted, by status %v, errors %v, p99 %v; attack: %v",
				kind, sent, valid.OK(), valid.ByStatus, valid.Errors, valid.P99, a)
			if sent < 300 {
				t.Fatalf("only %d valid webhooks were sent", sent)
			}
			if ok := valid.OK(); ok*100 < sent*99 {
				t.Errorf("%d of %d valid webhooks accepted under the %s attack, want at least 99%%", ok, sent, kind)
			}
		})
	}
}

// attackTarget serves a receiver with its defaults on a fresh SQLite store,
// behind serve's timeouts, and counts the requests it has started to read.
func attackTarget(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hooklatch.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := signature.ParseSecrets(v1Secret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signature.NewVerifier(signature.Config{Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := receiver.New(receiver.Config{Store: st, Verifier: v, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	var started atomic.Int64
	srv := &http.Server{
		Handler:           rcv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateActive {
				started.Add(1)
			}
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
		rcv.Close()
		st.Close()
	})
	return "http://" + ln.Addr().String() + "/webhooks/sent", &started
}
