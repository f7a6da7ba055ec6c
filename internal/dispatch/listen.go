package dispatch

import "context"

// WorkListener is implemented by stores that can tell when another
// process added work (PostgreSQL's LISTEN/NOTIFY): new deliveries stored
// by another instance, retries and replays issued by a command on another
// host. The dispatcher then wakes at once instead of at its next IdlePoll,
// which stays the fallback. ListenForWork calls wake for each such
// announcement until ctx is done.
type WorkListener interface {
	ListenForWork(ctx context.Context, wake func()) error
}

// listen starts the store's WorkListener, when it has one, for as long as
// ctx lasts, and returns the function that waits for it to stop.
func (d *Dispatcher) listen(ctx context.Context) (wait func()) {
	l, ok := d.cfg.Store.(WorkListener)
	if !ok {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := l.ListenForWork(ctx, d.Notify); err != nil {
			d.cfg.Logger.Warn("dispatch: not listening for new work; polling", "err", err)
		}
	}()
	return func() { <-done }
}
