package amqpdest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// session is one connection and its channel in confirm mode, with what is
// awaiting the broker's confirmation.
//
// The broker sends a mandatory message's basic.return before its
// basic.ack, and amqp091-go hands both to one goroutine here, in that
// order, so a confirmation is judged knowing whether its message came back.
type session struct {
	conn *amqp.Connection
	ch   *amqp.Channel

	pubMu sync.Mutex // orders delivery tags with publishes

	mu       sync.Mutex
	pending  map[uint64]*pending    // by delivery tag
	returned map[string]amqp.Return // by message_id, until its confirmation
	broken   error                  // why the session can no longer publish
}

type pending struct {
	messageID string
	result    chan confirmation // buffered: the watcher never waits
}

type confirmation struct{ err error } // nil: confirmed and routed

// returnedError is a message the broker could not route to any queue.
type returnedError struct{ r amqp.Return }

func (e *returnedError) Error() string {
	return fmt.Sprintf("the broker returned the message (%d %s): no queue is bound to exchange %q with routing key %q",
		e.r.ReplyCode, e.r.ReplyText, e.r.Exchange, e.r.RoutingKey)
}

// errConnectionLost fails the publishes awaiting confirmation when the
// connection or channel closes: each may or may not have been stored.
var errConnectionLost = errors.New("the connection closed before the broker confirmed")

func newSession(conn *amqp.Connection, ch *amqp.Channel, maxInFlight int) *session {
	s := &session{conn: conn, ch: ch, pending: map[uint64]*pending{}, returned: map[string]amqp.Return{}}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, maxInFlight))
	returns := ch.NotifyReturn(make(chan amqp.Return))
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	go s.watch(confirms, returns, chClosed, connClosed)
	return s
}

// watch matches confirmations and returns to the publishes awaiting them
// until the channel closes.
func (s *session) watch(confirms <-chan amqp.Confirmation, returns <-chan amqp.Return, chClosed, connClosed <-chan *amqp.Error) {
	for {
		select {
		case r, ok := <-returns:
			if ok {
				s.mu.Lock()
				s.returned[r.MessageId] = r
				s.mu.Unlock()
			}
		case c, ok := <-confirms:
			if !ok {
				s.fail(closedWith(chClosed, connClosed))
				return
			}
			s.resolve(c)
		case e := <-chClosed:
			s.fail(closeError(e))
			return
		case e := <-connClosed:
			s.fail(closeError(e))
			return
		}
	}
}

// closedWith is why the confirmations stopped. The client tells the close
// listeners (buffered here) before it closes the confirmations, so the
// broker's reason, such as a missing exchange's 404, is already waiting;
// the select above may still see the confirmations end first.
func closedWith(chClosed, connClosed <-chan *amqp.Error) error {
	select {
	case e := <-chClosed:
		return closeError(e)
	default:
	}
	select {
	case e := <-connClosed:
		return closeError(e)
	default:
	}
	return errConnectionLost
}

func closeError(e *amqp.Error) error {
	if e == nil {
		return errConnectionLost
	}
	return fmt.Errorf("%w: %w", errConnectionLost, e)
}

func (s *session) resolve(c amqp.Confirmation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[c.DeliveryTag]
	if p == nil {
		return
	}
	delete(s.pending, c.DeliveryTag)
	var err error
	if r, ok := s.returned[p.messageID]; ok {
		delete(s.returned, p.messageID)
		err = &returnedError{r}
	} else if !c.Ack {
		err = errors.New("the broker refused the message (nack)")
	}
	p.result <- confirmation{err}
}

// fail marks the session broken and fails what awaits confirmation.
func (s *session) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		s.broken = err
	}
	for tag, p := range s.pending {
		p.result <- confirmation{err}
		delete(s.pending, tag)
	}
}

func (s *session) dead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken != nil
}

// publish sends msg, mandatory, and returns where its confirmation will
// come.
func (s *session) publish(ctx context.Context, exchange, key string, msg amqp.Publishing) (<-chan confirmation, error) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	p := &pending{messageID: msg.MessageId, result: make(chan confirmation, 1)}
	s.mu.Lock()
	if s.broken != nil {
		s.mu.Unlock()
		return nil, s.broken
	}
	tag := s.ch.GetNextPublishSeqNo()
	s.pending[tag] = p
	s.mu.Unlock()
	if err := s.ch.PublishWithContext(ctx, exchange, key, true, false, msg); err != nil {
		s.mu.Lock()
		delete(s.pending, tag)
		s.mu.Unlock()
		return nil, err
	}
	return p.result, nil
}

func (s *session) close() error {
	if err := s.conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("amqpdest: closing the connection: %w", err)
	}
	return nil
}
