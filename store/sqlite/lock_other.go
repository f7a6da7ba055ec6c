//go:build !unix

package sqlite

// ownerLock is not taken where flock(2) does not exist: there an owner
// does not keep a second one out, and deliveries left in flight wait for
// their lease as they do for a store that is not owned.
type ownerLock struct{}

func lockOwner(string) (*ownerLock, error) { return nil, nil }

func (*ownerLock) release() error { return nil }
