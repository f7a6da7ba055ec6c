package engine

import (
	"errors"
	"fmt"
	"io"

	"github.com/hooklatch/hooklatch/internal/dispatch"
)

// closeDestinations closes the destinations that hold connections (the
// brokers), once the dispatcher has stopped: each waits for the
// confirmations in flight. Those that never delivered never connected, so
// a server that did not dispatch has none to close.
func closeDestinations(routes []dispatch.Route) error {
	var errs []error
	for _, r := range routes {
		if c, ok := r.Destination.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("destination %s: %w", r.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
