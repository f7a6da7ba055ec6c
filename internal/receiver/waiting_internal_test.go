package receiver

import (
	"sync"
	"testing"
	"time"
)

// What take hands out is read without the lock while requests keep
// noting rejections: it must never be the maps they write, even when
// empty. The race detector (go test -race) is what catches a shared map.
func TestTakeSharesNoMapWithNote(t *testing.T) {
	t.Parallel()
	w := newWaiting(4)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if w.note("sent", "no_match", time.Now()) {
				w.cancel("no_match")
			}
		}
	})
	var counted int64
	for takes := 0; takes < 2000 || counted < 1000; takes++ {
		samples, tallies := w.take()
		for range samples {
		}
		for _, c := range tallies {
			counted += c.Count
		}
	}
	close(stop)
	wg.Wait()
}
