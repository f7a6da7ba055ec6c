package celerydest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hooklatch/hooklatch/destination/internal/workerurl"
)

// maxInFlight bounds the publishes awaiting a confirm on one connection;
// the buffer for returned messages is larger, so the connection's reader
// never blocks on it.
const maxInFlight = 512

// amqpTransport publishes task messages to RabbitMQ on one connection, one
// channel in confirm mode, persistent and mandatory, to the default
// exchange with the queue's name as routing key, as Celery does for a
// queue of its own name.
type amqpTransport struct {
	url, redacted, queue string

	mu     sync.Mutex
	link   *amqpLink // nil until the first publish, and after a failure
	closed bool

	inFlight chan struct{} // a token per publish awaiting its confirm
	wg       sync.WaitGroup
}

// amqpLink is one connection and its confirming channel.
type amqpLink struct {
	conn *amqp.Connection
	ch   *amqp.Channel

	returns  chan amqp.Return
	mu       sync.Mutex
	returned map[string]bool // message ids the broker returned as unroutable
}

func newAMQP(cfg Config) (*amqpTransport, error) {
	u, err := amqp.ParseURI(cfg.BrokerURL)
	if err != nil {
		return nil, configError("BrokerURL", "%s", workerurl.RedactMessage(err.Error(), cfg.BrokerURL))
	}
	redacted := u
	if redacted.Password != "" {
		redacted.Password = "xxxxx"
	}
	return &amqpTransport{url: cfg.BrokerURL, redacted: redacted.String(), queue: cfg.Queue, inFlight: make(chan struct{}, maxInFlight)}, nil
}

func (t *amqpTransport) publish(ctx context.Context, m *message) error {
	select {
	case t.inFlight <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	link, err := t.current(ctx) // counts the publish in t.wg on success
	if err != nil {
		<-t.inFlight
		return err
	}
	dc, err := link.ch.PublishWithDeferredConfirmWithContext(ctx, "", t.queue, true, false, amqp.Publishing{
		Headers:         amqp.Table(m.headers),
		ContentType:     "application/json",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		CorrelationId:   m.id,
		MessageId:       m.id,
		Timestamp:       time.Now(),
		Body:            m.body,
	})
	if err != nil {
		t.settle()
		t.drop(link)
		return fmt.Errorf("publishing to %s: %w", t.redacted, err)
	}
	select {
	case <-dc.Done():
	case <-ctx.Done():
		// The token is held until the broker answers, so Close waits for it.
		go func() {
			<-dc.Done()
			link.wasReturned(m.id)
			t.settle()
		}()
		return fmt.Errorf("waiting for RabbitMQ to confirm: %w", ctx.Err())
	}
	defer t.settle()
	if !dc.Acked() {
		t.dropIfClosed(link)
		return fmt.Errorf("RabbitMQ did not confirm the message (refused, or the connection closed)")
	}
	if link.wasReturned(m.id) {
		return fmt.Errorf("RabbitMQ returned the message: no queue %q is bound to the default exchange", t.queue)
	}
	return nil
}

func (t *amqpTransport) settle() {
	<-t.inFlight
	t.wg.Done()
}

// current returns the open link, connecting first when there is none, and
// counts one more publish in t.wg.
func (t *amqpTransport) current(ctx context.Context) (*amqpLink, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("the destination is closed")
	}
	if t.link != nil && !t.link.ch.IsClosed() {
		t.wg.Add(1)
		return t.link, nil
	}
	if t.link != nil {
		_ = t.link.conn.Close()
		t.link = nil
	}
	link, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	t.link = link
	t.wg.Add(1)
	return link, nil
}

func (t *amqpTransport) dial(ctx context.Context) (*amqpLink, error) {
	cfg := amqp.Config{Properties: amqp.Table{"connection_name": "hooklatch celery destination"}}
	if deadline, ok := ctx.Deadline(); ok {
		cfg.Dial = amqp.DefaultDial(time.Until(deadline))
	}
	conn, err := amqp.DialConfig(t.url, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %s", t.redacted, workerurl.RedactMessage(err.Error(), t.url))
	}
	ch, err := t.declare(conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("turning on publisher confirms: %w", err)
	}
	link := &amqpLink{conn: conn, ch: ch, returns: make(chan amqp.Return, 2*maxInFlight), returned: map[string]bool{}}
	ch.NotifyReturn(link.returns)
	return link, nil
}

// declare makes sure the queue exists, as a Celery worker would declare it
// (durable, no arguments), so that tasks sent before the first worker
// starts wait in it. A queue declared otherwise (a quorum queue, say) is
// used as it is.
func (t *amqpTransport) declare(conn *amqp.Connection) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("opening a channel: %w", err)
	}
	_, err = ch.QueueDeclare(t.queue, true, false, false, false, nil)
	if err == nil {
		return ch, nil
	}
	var aerr *amqp.Error
	if !errors.As(err, &aerr) || aerr.Code != amqp.PreconditionFailed {
		return nil, fmt.Errorf("declaring queue %q: %w", t.queue, err)
	}
	// The failed declare closed the channel; the queue exists with other
	// settings.
	if ch, err = conn.Channel(); err != nil {
		return nil, fmt.Errorf("opening a channel: %w", err)
	}
	if _, err := ch.QueueDeclarePassive(t.queue, true, false, false, false, nil); err != nil {
		return nil, fmt.Errorf("checking queue %q: %w", t.queue, err)
	}
	return ch, nil
}

// wasReturned reports whether the broker returned message id. RabbitMQ
// sends a return before the confirm of the same message, and the client
// queues it before handling the confirm, so once the confirm is in, any
// return for it is in the buffer or the map.
func (l *amqpLink) wasReturned(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for drained := false; !drained; {
		select {
		case r, ok := <-l.returns:
			if !ok {
				drained = true
				break
			}
			l.returned[r.MessageId] = true
		default:
			drained = true
		}
	}
	if l.returned[id] {
		delete(l.returned, id)
		return true
	}
	return false
}

func (t *amqpTransport) drop(link *amqpLink) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.link == link {
		_ = link.conn.Close()
		t.link = nil
	}
}

func (t *amqpTransport) dropIfClosed(link *amqpLink) {
	if link.ch.IsClosed() {
		t.drop(link)
	}
}

// close waits for outstanding confirms, then closes the connection.
func (t *amqpTransport) close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.link == nil {
		return nil
	}
	err := t.link.conn.Close()
	t.link = nil
	if err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("closing the connection to %s: %w", t.redacted, err)
	}
	return nil
}
