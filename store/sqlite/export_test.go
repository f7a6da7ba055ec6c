package sqlite

// WithPageCache returns opts with the writer's page cache set to bytes.
func WithPageCache(opts Options, bytes int64) Options {
	opts.pageCacheBytes = bytes
	return opts
}
