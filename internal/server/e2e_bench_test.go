package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/bench"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
)

// BenchmarkEndToEnd measures what the app behind serve gets: b.N signed
// webhooks posted to serve from 64 connections, each stored, acknowledged
// and forwarded over HTTP to the app, timed until the app has them all
// ("through-serve"); and the same app taking the same load straight from
// the load generator ("app-alone"), its own capacity. Compare the two:
//
//	go test -run '^$' -bench EndToEnd -benchtime 20000x ./internal/server
func BenchmarkEndToEnd(b *testing.B) {
	body, err := event.Sample("message.delivered", event.SampleOptions{})
	if err != nil {
		b.Fatal(err)
	}
	env, err := event.Parse(body)
	if err != nil {
		b.Fatal(err)
	}
	secret, err := signature.ParseSecret("whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	defer app.Close()
	load := func(url string, n int) bench.Load {
		return bench.Load{URL: url, Body: body, Vary: env.Subject().ID, Scheme: signature.V1, Secret: secret,
			Connections: 64, Duration: time.Hour, MaxRequests: int64(n)}
	}

	b.Run("app-alone", func(b *testing.B) {
		res, err := bench.Run(context.Background(), load(app.URL, b.N))
		if err != nil {
			b.Fatal(err)
		}
		if res.OK() != int64(b.N) {
			b.Fatalf("%d of %d answered 2xx", res.OK(), b.N)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	})

	b.Run("through-serve", func(b *testing.B) {
		b.StopTimer()
		dest, err := httpdest.New(httpdest.Config{URL: app.URL})
		if err != nil {
			b.Fatal(err)
		}
		srv, err := server.New(context.Background(), server.Config{
			Addr: "127.0.0.1:0", AdminAddr: "off", Store: filepath.Join(b.TempDir(), "h.db"),
			Secrets: []signature.Secret{secret}, Logger: slog.New(slog.DiscardHandler),
			Routes: []dispatch.Route{{Name: "forward", Destination: dest}},
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			b.Fatal(err)
		}
		defer srv.Shutdown()
		got.Store(0)
		b.StartTimer()
		res, err := bench.Run(context.Background(), load("http://"+srv.Addr()+"/webhooks/sent", b.N))
		if err != nil {
			b.Fatal(err)
		}
		if res.OK() != int64(b.N) {
			b.Fatalf("%d of %d acknowledged", res.OK(), b.N)
		}
		for got.Load() < int64(b.N) {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	})
}
