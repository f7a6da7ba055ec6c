package dispatch_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
)

// A destination that names sources takes their events only, whatever
// their type; one that names none takes every source's.
func TestRoutesChooseSources(t *testing.T) {
	t.Parallel()
	nop := destination.Func(func(context.Context, *destination.Delivery) error { return nil })
	h := setup(t, []dispatch.Route{
		{Name: "billing", Sources: []string{"payments"}, Destination: nop},
		{Name: "sent-messages", Sources: []string{"sent"}, Types: []string{"message.*"}, Destination: nop},
		{Name: "all", Destination: nop},
	})
	for _, c := range []struct{ source, typ, want string }{
		{"payments", "invoice.paid", "[billing all]"},
		{"sent", "message.sent", "[sent-messages all]"},
		{"sent", "template.approved", "[all]"},
		{"code", "push", "[all]"},
	} {
		if got := fmt.Sprint(h.disp.Destinations(&store.EventData{Source: c.source, Type: c.typ})); got != c.want {
			t.Errorf("%s %s goes to %s, want %s", c.source, c.typ, got, c.want)
		}
	}
}
