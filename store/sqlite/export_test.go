package sqlite

import (
	"context"
	"database/sql"
)

// WithWriterPragmas returns opts with pragmas (such as "cache_size(-65536)")
// set on the writer's connection.
func WithWriterPragmas(opts Options, pragmas ...string) Options {
	opts.writerPragmas = pragmas
	return opts
}

// FramesWritten returns the frames s's writer appended to the write-ahead
// log since it opened.
func FramesWritten(s *Store) int64 { return s.framesTotal.Load() }

// WriterPragma returns the value of PRAGMA name on s's writer connection.
func WriterPragma(s *Store, name string) (string, error) {
	var v string
	err := s.exec(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	})
	return v, err
}
