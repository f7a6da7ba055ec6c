package celerydest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination/internal/workerurl"
)

// redisTransport pushes task messages onto the list kombu's Redis
// transport reads: LPUSH onto the key named as the queue (priority 0; the
// worker pops with BRPOP from the other end), each message the JSON
// envelope kombu's virtual channel writes.
type redisTransport struct {
	client   *redis.Client
	redacted string
}

func newRedis(cfg Config) (*redisTransport, error) {
	opts, err := redis.ParseURL(cfg.BrokerURL)
	if err != nil {
		return nil, configError("BrokerURL", "%s", workerurl.RedactMessage(err.Error(), cfg.BrokerURL))
	}
	return &redisTransport{client: redis.NewClient(opts), redacted: workerurl.Redact(cfg.BrokerURL)}, nil
}

// kombuMessage is the envelope of kombu.transport.virtual's
// prepare_message and _inplace_augment_message.
type kombuMessage struct {
	Body            string         `json:"body"` // base64 of the task body
	ContentEncoding string         `json:"content-encoding"`
	ContentType     string         `json:"content-type"`
	Headers         map[string]any `json:"headers"`
	Properties      kombuProps     `json:"properties"`
}

type kombuProps struct {
	CorrelationID string            `json:"correlation_id"`
	ReplyTo       string            `json:"reply_to"`
	DeliveryMode  int               `json:"delivery_mode"`
	DeliveryInfo  map[string]string `json:"delivery_info"`
	Priority      int               `json:"priority"`
	BodyEncoding  string            `json:"body_encoding"`
	DeliveryTag   string            `json:"delivery_tag"`
}

func (t *redisTransport) publish(ctx context.Context, m *message) error {
	raw, err := json.Marshal(kombuMessage{
		Body:            base64.StdEncoding.EncodeToString(m.body),
		ContentEncoding: "utf-8",
		ContentType:     "application/json",
		Headers:         m.headers,
		Properties: kombuProps{
			CorrelationID: m.id,
			DeliveryMode:  2,
			// The default exchange with the queue as routing key: where
			// kombu puts the message back if a worker dies holding it.
			DeliveryInfo: map[string]string{"exchange": "", "routing_key": m.queue},
			BodyEncoding: "base64",
			// kombu acknowledges by delivery tag, so each push has its own.
			DeliveryTag: uuid.Must(uuid.NewRandomFromReader(rand.Reader)).String(),
		},
	})
	if err != nil {
		return err
	}
	if err := t.client.LPush(ctx, m.queue, raw).Err(); err != nil {
		return fmt.Errorf("LPUSH to %s on %s: %s", m.queue, t.redacted, workerurl.RedactMessage(err.Error(), ""))
	}
	return nil
}

func (t *redisTransport) close() error { return t.client.Close() }
