package admin

import (
	"errors"

	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store"
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// isBadRequest reports whether err is the caller's mistake.
func isBadRequest(err error) bool {
	return errors.As(err, new(badRequest)) || errors.Is(err, inspect.ErrNoTarget) || errors.Is(err, inspect.ErrNoRoutes) ||
		errors.As(err, new(*inspect.SecretsError)) || errors.As(err, new(*inspect.DestinationError))
}
