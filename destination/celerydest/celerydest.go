package celerydest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/internal/publish"
	"github.com/hooklatch/hooklatch/destination/internal/workerpayload"
)

// Defaults for Config.
const (
	DefaultTask  = "hooklatch.process_event"
	DefaultQueue = "celery"
)

// Config configures a Destination.
type Config struct {
	// BrokerURL is the broker the Celery app uses, as Celery spells it:
	// amqp://user:password@host:5672/vhost (RabbitMQ) or
	// redis://host:6379/0 (Redis). amqps:// and rediss:// use TLS. The
	// password is never printed.
	//
	// Required.
	BrokerURL string

	// Task is the registered name of the task to run, as in
	// @app.task(name="…").
	//
	// Defaults to "hooklatch.process_event".
	Task string

	// Queue is the Celery queue the task is sent to (the worker's -Q).
	//
	// Defaults to "celery", Celery's own default queue.
	Queue string

	// Origin is the task's origin header, shown by Flower.
	//
	// Defaults to "hooklatch@" and the host name.
	Origin string
}

// Destination sends each event as a Celery task. It is safe for concurrent
// use; Close it when done.
type Destination struct {
	cfg Config
	tr  transport
}

var _ destination.Destination = (*Destination)(nil)

// transport puts one task message on a broker and says whether the broker
// took it.
type transport interface {
	publish(ctx context.Context, m *message) error
	close() error
}

// New returns a Destination for cfg. It checks cfg but does not connect:
// the first delivery does, so hooklatch starts while the broker is down.
func New(cfg Config) (*Destination, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	var tr transport
	switch scheme := strings.ToLower(strings.SplitN(cfg.BrokerURL, ":", 2)[0]); scheme {
	case "amqp", "amqps":
		tr, err = newAMQP(cfg)
	case "redis", "rediss":
		tr, err = newRedis(cfg)
	default:
		return nil, configError("BrokerURL", "the broker URL must start with amqp://, amqps://, redis:// or rediss://, not %q", scheme+":")
	}
	if err != nil {
		return nil, err
	}
	return &Destination{cfg: cfg, tr: tr}, nil
}

func withDefaults(cfg Config) (Config, error) {
	if cfg.BrokerURL == "" {
		return cfg, configError("BrokerURL", "a broker URL is required (amqp://… or redis://…)")
	}
	if cfg.Task == "" {
		cfg.Task = DefaultTask
	}
	if cfg.Queue == "" {
		cfg.Queue = DefaultQueue
	}
	if cfg.Origin == "" {
		host, _ := os.Hostname()
		cfg.Origin = "hooklatch@" + host
	}
	if strings.ContainsAny(cfg.Task, " \t\r\n") {
		return cfg, configError("Task", "a task name has no spaces: %q", cfg.Task)
	}
	if strings.ContainsAny(cfg.Queue, " \t\r\n") {
		return cfg, configError("Queue", "a queue name has no spaces: %q", cfg.Queue)
	}
	return cfg, nil
}

// Deliver sends d.Event as one task message and returns once the broker
// has it: a publisher confirm on RabbitMQ, the LPUSH's answer on Redis.
// Every failure is temporary: the broker being down, a refused publish, a
// queue that does not exist.
func (d *Destination) Deliver(ctx context.Context, dl *destination.Delivery) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("celery: not sent: %w", err)
	}
	m, err := d.message(dl)
	if err != nil {
		return destination.Permanent(fmt.Errorf("celery: building the task message: %w", err))
	}
	if err := d.tr.publish(ctx, m); err != nil {
		return fmt.Errorf("celery: task %s for event %s: %w", m.id, dl.Event.ID, err)
	}
	return destination.WithResult(nil, destination.Result{Response: "task " + m.id + " sent to queue " + d.cfg.Queue})
}

// Close waits for the confirms of publishes still in flight and closes the
// broker connection.
func (d *Destination) Close() error { return d.tr.close() }

// TaskID is the Celery task id hooklatch gives delivery dl: the same on
// every attempt of the same event to the same destination, so a task can
// deduplicate on self.request.id.
func TaskID(dl *destination.Delivery) string {
	return uuid.NewSHA1(taskNamespace, []byte(dl.Event.ID+"/"+strconv.FormatInt(dl.ID, 10))).String()
}

var taskNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://hooklatch.dev/celery-task"))

// message is a Celery task message (protocol version 2), ready for either
// transport.
type message struct {
	id      string
	queue   string
	headers map[string]any
	body    []byte // [args, kwargs, embed] as JSON
}

// kwargs are the task's keyword arguments.
type kwargs struct {
	Hooklatch workerpayload.Meta `json:"hooklatch"`
	workerpayload.Raw
}

func (d *Destination) message(dl *destination.Delivery) (*message, error) {
	if dl == nil || dl.Event == nil {
		return nil, errors.New("no event in the delivery")
	}
	id := TaskID(dl)
	meta := workerpayload.MetaOf(dl)
	body, err := json.Marshal([]any{
		[]any{workerpayload.Envelope(dl.Event.Body)},
		kwargs{Hooklatch: meta, Raw: workerpayload.RawOf(dl.Event.Body)},
		map[string]any{"callbacks": nil, "errbacks": nil, "chain": nil, "chord": nil},
	})
	if err != nil {
		return nil, err
	}
	h := d.headers(id, meta, len(dl.Event.Body))
	publish.AddTraceParent(dl, func(name, value string) { h[name] = value })
	return &message{id: id, queue: d.cfg.Queue, headers: h, body: body}, nil
}

// TraceTarget implements destination.Traced: the broker's system and the
// queue.
func (d *Destination) TraceTarget() destination.Target {
	system := "rabbitmq"
	if strings.HasPrefix(strings.ToLower(d.cfg.BrokerURL), "redis") {
		system = "redis"
	}
	return publish.Target(system, d.cfg.Queue, d.cfg.BrokerURL)
}

// headers are protocol 2's task headers, laid out as celery.app.amqp's
// as_task_v2 does, plus hooklatch's metadata under the names it has on
// every broker.
func (d *Destination) headers(id string, meta workerpayload.Meta, bodyLen int) map[string]any {
	return map[string]any{
		"lang":        "py",
		"task":        d.cfg.Task,
		"id":          id,
		"shadow":      nil,
		"eta":         nil,
		"expires":     nil,
		"group":       nil,
		"group_index": nil,
		"retries":     int64(0),
		"timelimit":   []any{nil, nil},
		"root_id":     id,
		"parent_id":   nil,
		"argsrepr":    fmt.Sprintf("(<%s event %s>,)", meta.EventType, meta.EventID),
		"kwargsrepr": fmt.Sprintf("{'hooklatch': {'event_id': %s, 'attempt': %d, …}, 'raw_body': <%d bytes>}",
			strconv.Quote(meta.EventID), meta.Attempt, bodyLen),
		"origin":        d.cfg.Origin,
		"ignore_result": false,

		"hooklatch-event-id":    meta.EventID,
		"hooklatch-event-type":  meta.EventType,
		"hooklatch-subject":     meta.Subject,
		"hooklatch-received-at": meta.ReceivedAt,
		"hooklatch-attempt":     int64(meta.Attempt),
		"hooklatch-delivery-id": meta.DeliveryID,
		// As text, as on every broker: a header consumer reads "true" or
		// "false"; the task's keyword argument carries a boolean.
		"hooklatch-stale":          strconv.FormatBool(meta.Stale),
		"hooklatch-subject-status": meta.SubjectStatus,
		"hooklatch-source":         meta.Source,
	}
}

// configError is New's objection to one field of its Config.
func configError(field, format string, args ...any) error {
	return &destination.ConfigError{Package: "celerydest", Field: field, Err: fmt.Errorf(format, args...)}
}
