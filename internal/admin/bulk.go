package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// The events page's bulk actions: replay, or retry the dead deliveries
// of, every event its filter selects. GET /ui/actions/{action} counts
// them and asks; POST does it, through the same target as the API's
// POST /v1/actions/{action} with a filter.

// values is the filter as query parameters, the empty ones left out.
func (p FilterParams) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"type", p.Type}, {"subject", p.Subject}, {"source", p.Source}, {"delivery", p.Delivery},
		{"attention", p.Attention}, {"since", p.Since}, {"until", p.Until}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

// fields is the filter as a form's hidden fields, in name order.
func (p FilterParams) fields() [][2]string {
	var out [][2]string
	for k, vs := range p.values() {
		out = append(out, [2]string{k, vs[0]})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// bulkCountCap is as far as a confirmation (and the API's dry run)
// counts: past it, the page says "more than", and the count stops
// (inspect.Inspector.Count). A count that tests each event it meets
// (a type pattern among the dead) reads this many at most: 1,000 cost
// 3 ms at 1 M events, 10,000 cost 40.
const bulkCountCap = 1000

// bulkData is the confirmation page.
type bulkData struct {
	Action string      // retry or replay
	Fields [][2]string // the filter, as the form's hidden fields
	Events int         // how many events the action would touch
	More   bool        // more than Events: the count stopped there
	// Partial: at least Events, counted among the newest events only
	Partial bool
	Back    string // the filtered events page
}

// bulkAction refuses any action but those the events page offers on its
// filter.
func bulkAction(action string) error {
	if action != "replay" && action != "retry" {
		return bad("no bulk action %q on a filter: replay or retry", action)
	}
	return nil
}

func (u *ui) bulkConfirm(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if err := bulkAction(action); err != nil {
		u.fail(w, r, err)
		return
	}
	f := filterFromQuery(r.URL.Query())
	back := "/ui/events?" + f.values().Encode()
	t, err := u.a.bulkTarget(r.Context(), BulkAction{Filter: &f})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	// The form carries the times resolved, so that "since 1h" acts on
	// the stretch that was counted.
	if !t.Filter.Filter.Since.IsZero() {
		f.Since = t.Filter.Filter.Since.UTC().Format(time.RFC3339Nano)
	}
	if !t.Filter.Filter.Until.IsZero() {
		f.Until = t.Filter.Filter.Until.UTC().Format(time.RFC3339Nano)
	}
	q := *t.Filter
	if action == "retry" && q.Filter.Delivery == "" {
		q.Filter.Delivery = store.DeliveryDead // what Retry narrows it to
	}
	c, err := u.a.in.Count(r.Context(), q, bulkCountCap)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := bulkData{Action: action, Fields: f.fields(), Events: c.N, More: c.More, Partial: c.Partial, Back: back}
	u.render(w, r, http.StatusOK, "bulk", page{Title: "Confirm: " + action + " by filter", Nav: "events", Data: d})
}

func (u *ui) bulkDo(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if err := bulkAction(action); err != nil {
		u.fail(w, r, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, bad("form: %v", err))
		return
	}
	f := filterFromQuery(r.PostForm)
	t, err := u.a.bulkTarget(r.Context(), BulkAction{Filter: &f})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	n, err := u.act(r, action, t)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := f.values()
	v.Set("done", action)
	v.Set("n", strconv.Itoa(n))
	http.Redirect(w, r, "/ui/events?"+v.Encode(), http.StatusSeeOther)
}
