package store

import (
	"fmt"
	"slices"
	"strings"
)

// DeliveryNone is the DeliveryState of an event that has no delivery: it
// was stored while nothing was to deliver it. No delivery has it.
const DeliveryNone DeliveryStatus = "none"

// deliveryStates are the states an event's deliveries sum up to, first
// the one that wins: a dead delivery needs a person whatever the others
// did, and one still being tried means the event is not done.
var deliveryStates = []struct {
	state    DeliveryStatus
	statuses []DeliveryStatus
}{
	{DeliveryDead, []DeliveryStatus{DeliveryDead}},
	{DeliveryPending, []DeliveryStatus{DeliveryPending, DeliveryInFlight}},
	{DeliverySucceeded, []DeliveryStatus{DeliverySucceeded}},
	{DeliveryDiscarded, []DeliveryStatus{DeliveryDiscarded}},
}

// DeliveryState sums up the event's deliveries in one word: DeliveryDead
// when any is dead; else DeliveryPending when any is pending or in flight;
// else DeliverySucceeded when any succeeded; else DeliveryDiscarded; and
// DeliveryNone when it has none. It reads DeliveryCounts.
func (e *Event) DeliveryState() DeliveryStatus {
	for _, s := range deliveryStates {
		for _, st := range s.statuses {
			if e.DeliveryCounts[st] > 0 {
				return s.state
			}
		}
	}
	return DeliveryNone
}

// DeliveryText says where the event's deliveries are in words that count
// deliveries, not attempts: the state alone for one delivery or none
// ("dead", "none"), else how many of them are in each state, the state
// that sums the event up first: "1 of 3 deliveries dead, 2 succeeded".
func (e *Event) DeliveryText() string {
	total := 0
	for _, n := range e.DeliveryCounts {
		total += n
	}
	if total <= 1 {
		return string(e.DeliveryState())
	}
	var parts []string
	for _, s := range deliveryStates {
		n := 0
		for _, st := range s.statuses {
			n += e.DeliveryCounts[st]
		}
		switch {
		case n == 0:
		case parts == nil:
			parts = append(parts, fmt.Sprintf("%d of %d deliveries %s", n, total, s.state))
		default:
			parts = append(parts, fmt.Sprintf("%d %s", n, s.state))
		}
	}
	return strings.Join(parts, ", ")
}

// DeliveryStateStatuses says which events EventFilter.Delivery matches
// for state: those with at least one delivery in one of statuses, whatever
// their other deliveries are (an event with one discarded delivery of
// three is found by DeliveryDiscarded, as by the states of the other two).
// For DeliveryNone statuses is empty: the events with no delivery at all.
// ok is false for a word that is not a state. Backends build
// EventFilter.Delivery from it, so that every backend matches alike.
func DeliveryStateStatuses(state DeliveryStatus) (statuses []DeliveryStatus, ok bool) {
	for _, s := range deliveryStates {
		if s.state == state {
			return slices.Clone(s.statuses), true
		}
	}
	return nil, state == DeliveryNone
}

// DeliveryStates lists the words DeliveryState returns, for messages and
// flag help.
func DeliveryStates() []string {
	out := make([]string, 0, len(deliveryStates)+1)
	for _, s := range deliveryStates {
		out = append(out, string(s.state))
	}
	return append(out, string(DeliveryNone))
}
