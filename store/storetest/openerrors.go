package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/store"
)

// CheckOpenErrors checks that a backend's read-only Open fails with the
// store package's errors, so that one errors.Is or errors.As answers
// whatever the backend: noStore is what it failed with where there is no
// store, older and newer what it failed with on a store at where whose
// schema is one version behind this build's and ahead of it.
func CheckOpenErrors(t *testing.T, where string, noStore, older, newer error) {
	t.Helper()
	if !errors.Is(noStore, store.ErrNoStore) || errors.As(noStore, new(*store.SchemaError)) {
		t.Errorf("no store: err = %v, want store.ErrNoStore", noStore)
	}
	se, ok := errors.AsType[*store.SchemaError](older)
	if !ok || se.Where != where || se.Version != se.Want-1 || errors.Is(older, store.ErrNoStore) ||
		!strings.Contains(older.Error(), "older hooklatch") {
		t.Errorf("older schema: err = %#v, want a *store.SchemaError at %s, one version behind", older, where)
	}
	se, ok = errors.AsType[*store.SchemaError](newer)
	if !ok || se.Where != where || se.Version <= se.Want || !strings.Contains(newer.Error(), "newer hooklatch") {
		t.Errorf("newer schema: err = %#v, want a *store.SchemaError at %s, ahead of this build", newer, where)
	}
}
