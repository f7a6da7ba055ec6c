package httpdest_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/httpdest"
)

// benchServer answers 200 after reading the body, as a quick app would.
func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkHTTPDeliver forwards a signed event through a Destination, from
// many goroutines. Compare with BenchmarkHTTPBare for the cost hooklatch
// adds.
func BenchmarkHTTPDeliver(b *testing.B) {
	srv := benchServer(b)
	dest := newDest(b, httpdest.Config{URL: srv.URL, Secret: newSecret(b)})
	dl := destinationtest.NewDelivery(1)
	b.SetBytes(int64(len(dl.Event.Body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if o := destination.Classify(dest.Deliver(b.Context(), dl)); o.Class != destination.Succeeded {
				b.Fatal(o.Err)
			}
		}
	})
}

// BenchmarkHTTPBare POSTs the same body to the same kind of server with a
// plain http.Client whose pool is as large as the Destination's: the floor
// BenchmarkHTTPDeliver is measured against.
func BenchmarkHTTPBare(b *testing.B) {
	benchBare(b, nil)
}

// BenchmarkHTTPBareWithHeaders is BenchmarkHTTPBare sending the headers a
// Destination sends, precomputed: what is left between it and
// BenchmarkHTTPDeliver is hooklatch's own work (building the headers,
// signing, reading the snippet).
func BenchmarkHTTPBareWithHeaders(b *testing.B) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header }))
	dest := newDest(b, httpdest.Config{URL: srv.URL, Secret: newSecret(b)})
	if err := dest.Deliver(b.Context(), destinationtest.NewDelivery(1)); destination.Classify(err).Err != nil {
		b.Fatal(err)
	}
	srv.Close()
	h := <-got
	for _, name := range []string{"Accept-Encoding", "Content-Length", "User-Agent"} {
		h.Del(name) // the client sets these itself
	}
	benchBare(b, h)
}

func benchBare(b *testing.B, header http.Header) {
	srv := benchServer(b)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	client := &http.Client{Transport: t}
	b.Cleanup(t.CloseIdleConnections)
	body := destinationtest.NewDelivery(1).Event.Body
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, srv.URL, bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header = header.Clone()
			if header == nil {
				req.Header = http.Header{"Content-Type": {"application/json"}}
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatal(resp.Status)
			}
		}
	})
}
