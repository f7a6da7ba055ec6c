package admin

import (
	"encoding/json"
	"sync"
	"sync/atomic"
)

// message is one Server-Sent Event: its name and JSON data.
type message struct {
	name string
	data []byte
}

// subscriberBuffer is how many messages a slow subscriber may fall behind
// before it misses some; it is then told so (a "gap" message).
const subscriberBuffer = 256

// hub fans messages out to the live stream's subscribers. Publish never
// blocks: a subscriber whose buffer is full misses the message and is
// sent a gap notice as soon as there is room.
type hub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
	// n is len(subs), for the hooks to ask without waiting on mu.
	n atomic.Int32
	// onFirst runs, under mu, when the first subscriber arrives: the
	// tail starts following the store from there.
	onFirst func()
}

type subscriber struct {
	c      chan message
	missed int // under hub.mu
}

func newHub(onFirst func()) *hub {
	return &hub{subs: map[*subscriber]struct{}{}, onFirst: onFirst}
}

func (h *hub) subscribe() *subscriber {
	s := &subscriber{c: make(chan message, subscriberBuffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 && h.onFirst != nil {
		h.onFirst()
	}
	h.subs[s] = struct{}{}
	h.n.Store(int32(len(h.subs)))
	return s
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	h.n.Store(int32(len(h.subs)))
}

// active reports whether anyone watches; it never waits.
func (h *hub) active() bool { return h.n.Load() > 0 }

// publish sends v, as JSON, to every subscriber as an event named name.
func (h *hub) publish(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return // our own types: cannot happen
	}
	m := message{name, data}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.missed > 0 {
			gap, _ := json.Marshal(map[string]int{"missed": s.missed})
			select {
			case s.c <- message{"gap", gap}:
				s.missed = 0
			default:
				s.missed++
				continue
			}
		}
		select {
		case s.c <- m:
		default:
			s.missed++
		}
	}
}

func (h *hub) count() int { return int(h.n.Load()) }
