package store

import "slices"

// DeliveryNone is the DeliveryState of an event that has no delivery: it
// was stored while nothing was to deliver it.
const DeliveryNone = "none"

// deliveryStates are the states an event's deliveries sum up to, first
// the one that wins: a dead delivery needs a person whatever the others
// did, and one still being tried means the event is not done.
var deliveryStates = []struct {
	state    string
	statuses []string
}{
	{DeliveryDead, []string{DeliveryDead}},
	{DeliveryPending, []string{DeliveryPending, DeliveryInFlight}},
	{DeliverySucceeded, []string{DeliverySucceeded}},
	{DeliveryDiscarded, []string{DeliveryDiscarded}},
}

// DeliveryState sums up the event's deliveries in one word: DeliveryDead
// when any is dead; else DeliveryPending when any is pending or in flight;
// else DeliverySucceeded when any succeeded; else DeliveryDiscarded; and
// DeliveryNone when it has none. It reads DeliveryCounts.
func (e *Event) DeliveryState() string {
	for _, s := range deliveryStates {
		for _, st := range s.statuses {
			if e.DeliveryCounts[st] > 0 {
				return s.state
			}
		}
	}
	return DeliveryNone
}

// DeliveryStateRule says which events have the DeliveryState state: those
// with at least one delivery in a status of with (none at all when with is
// empty) and none in a status of without. ok is false for a word that is
// not a state. Backends build EventFilter.Delivery from it, so that every
// backend sums up alike.
func DeliveryStateRule(state string) (with, without []string, ok bool) {
	for _, s := range deliveryStates {
		if s.state == state {
			return slices.Clone(s.statuses), without, true
		}
		without = append(without, s.statuses...)
	}
	if state == DeliveryNone {
		return nil, without, true
	}
	return nil, nil, false
}

// DeliveryStates lists the words DeliveryState returns, for messages and
// flag help.
func DeliveryStates() []string {
	out := make([]string, 0, len(deliveryStates)+1)
	for _, s := range deliveryStates {
		out = append(out, s.state)
	}
	return append(out, DeliveryNone)
}
