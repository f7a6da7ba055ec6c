package postgres

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unreachable reports whether err, from Open, says the database could not
// be reached (down, starting up, or the network between), so that opening
// again later may succeed. A refused login, a database that does not
// exist, a bad URL or a schema of another version are not: they need the
// user's hand.
func Unreachable(err error) bool {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 28: invalid authorization; 3D000: no such database.
		return !strings.HasPrefix(pe.Code, "28") && pe.Code != "3D000"
	}
	return true
}
