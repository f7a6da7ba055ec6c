package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// quietRedisClient sends what the Redis client library prints of its own
// (a line for every failed dial while Redis is down) to log at debug
// level. The dispatcher already reports a destination's failures, at a
// bounded rate; without this, an outage would fill stderr with lines in
// another format. The library's logger is global to the process: the
// last serve started sets it.
func quietRedisClient(log *slog.Logger) {
	redis.SetLogger(redisLogger{log})
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l.log.Enabled(ctx, slog.LevelDebug) {
		l.log.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
	}
}
