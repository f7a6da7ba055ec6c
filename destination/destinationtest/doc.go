// Package destinationtest is the conformance suite every destination kind
// passes unchanged, in the way net/http/httptest helps test HTTP code.
//
// A kind's test file describes how to build its destination in each
// Behaviour and how to see what it received, and hands that to Run:
//
//	func TestConformance(t *testing.T) {
//		destinationtest.Run(t, destinationtest.Harness{
//			New: func(t *testing.T, b destinationtest.Behaviour) (destination.Destination, destinationtest.Observer) {
//				rec := new(destinationtest.Recorder)
//				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//					body, _ := io.ReadAll(r.Body)
//					rec.Record(destinationtest.Received{EventID: r.Header.Get("Hooklatch-Event-Id"), Body: body})
//					switch b { … } // answer as b asks
//				}))
//				t.Cleanup(srv.Close)
//				d, err := httpdest.New(httpdest.Config{URL: srv.URL})
//				if err != nil {
//					t.Fatal(err)
//				}
//				return d, rec
//			},
//		})
//	}
//
// The suite checks what the dispatcher relies on:
//
//   - the raw body arrives byte for byte, under the event's ID;
//   - success classifies as destination.Succeeded, a temporary failure as
//     destination.Temporary and a permanent one as
//     destination.PermanentFailure, through destination.Classify;
//   - a destination that hangs returns once the attempt's context is done,
//     and the outcome is temporary;
//   - an already cancelled context never counts as a success;
//   - 16 concurrent deliveries all arrive, each with its own body.
//
// A kind that cannot do something says so in Harness.Limits, and the tests
// that need it are skipped with the reason; the zero Limits runs everything.
// NewDelivery builds the sample deliveries the suite sends, for a kind's own
// tests.
//
// # Brokers
//
// A broker destination (Redis, NATS, RabbitMQ, Kafka) passes RunBroker,
// which runs Run and then what a broker owes on top: metadata by the names
// of destination.MetadataNames (hooklatch-stale and
// hooklatch-subject-status for a stale delivery, the latest one and one
// with no subject among them), a broker that is down or cut off mid-stream
// losing no acknowledged event, a retry after a lost confirmation that the
// broker drops where it dedupes, and a Close that waits for confirmations.
// The harness builds a destination that dials a given address and an
// Observer that consumes with the broker's own client:
//
//	destinationtest.RunBroker(t, destinationtest.BrokerHarness{
//		Addr:    "127.0.0.1:6379",
//		Dedupes: true,
//		New: func(t *testing.T, addr string) (destination.Destination, destinationtest.Observer) {
//			stream := destinationtest.UniqueName("test-")
//			d := destinationtest.Open(t, redisdest.New, redisdest.Config{URL: "redis://" + addr + "/0", Stream: stream})
//			return d, consume(t, stream) // XREAD into a Recorder
//		},
//		NewRefusing: …, // a destination the broker refuses for good
//	})
//
// The outages come from Proxy, a TCP proxy between destination and broker
// that refuses connections (Cut), swallows everything (Blackhole), or lets
// publishes through and loses the answers (DropReplies), so no test has to
// stop a service that others share. ServiceURL reads a test server's
// address from the environment, skipping or failing as CI asks.
package destinationtest
