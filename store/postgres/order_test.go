package postgres_test

import (
	"context"
	"testing"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// Three instances on one schema append subjects' statuses at once (a
// subject's from several instances, so that their appends race for its
// head) and claim and complete at once: no two deliveries of a subject
// are ever claimed together, and each subject's, all stored before the
// first claim, are claimed in lifecycle order.
func TestOrderAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	var instances []store.Store
	for range 3 {
		s := open(t, u, postgres.Options{})
		if err := s.SetRoutes(ctx, storetest.OrderedRoutes); err != nil {
			t.Fatal(err)
		}
		instances = append(instances, s)
	}
	storetest.CheckOrderedClaims(t, instances, 60)
}
