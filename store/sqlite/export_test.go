package sqlite

// WithWriterPragmas returns opts with pragmas (such as "cache_size(-65536)")
// set on the writer's connection.
func WithWriterPragmas(opts Options, pragmas ...string) Options {
	opts.writerPragmas = pragmas
	return opts
}

// FramesWritten returns the frames s's writer appended to the write-ahead
// log since it opened.
func FramesWritten(s *Store) int64 { return s.framesTotal.Load() }
