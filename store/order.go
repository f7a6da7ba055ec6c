package store

import "github.com/hooklatch/hooklatch/event"

// OrderKey names the subject an event's deliveries to an OrderSubject
// destination are ordered by ("message_id:5f1c…"), and gives the event's
// lifecycle rank (event.LifecycleRank). The key is empty for an event with
// no subject: its deliveries are not ordered.
func OrderKey(ev *EventData) (key string, rank int) {
	if ev.Subject == "" {
		return "", 0
	}
	return ev.SubjectKind + ":" + ev.Subject, event.LifecycleRank(ev.SubjectKind, ev.Status)
}

// OrderedRoutes names the routes that order by subject (OrderSubject).
func OrderedRoutes(routes []Route) map[string]bool {
	ordered := map[string]bool{}
	for _, r := range routes {
		if r.Order == OrderSubject {
			ordered[r.Name] = true
		}
	}
	return ordered
}
