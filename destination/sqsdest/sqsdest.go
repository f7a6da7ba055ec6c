// Package sqsdest sends events to an Amazon SQS queue, standard or FIFO,
// with the official AWS SDK for Go v2.
//
//	cfg, err := sqsdest.ParseURL("sqs://sqs.eu-west-1.amazonaws.com/123456789012/sent-events.fifo")
//	dest, err := sqsdest.New(ctx, cfg)
//	defer dest.Close()
//
// # The message
//
// The message body is the event's raw body, byte for byte. Its message
// attributes (String) are the metadata every broker destination sends,
// under the same names (destination.MetadataNames), and traceparent while
// tracing is on. SQS takes at most 10 attributes a message; hooklatch
// sends at most 10 (9 names and traceparent): a new metadata name must drop one here.
//
// # FIFO queues
//
// A queue whose name ends in .fifo is a FIFO queue: each message's
// MessageGroupId is the event's subject (its message_id or template_id;
// the event ID when it has none), so one message's statuses stay in order,
// and its MessageDeduplicationId is the event ID, so a retry within SQS's
// five-minute deduplication interval adds nothing. On a standard queue a
// retry after a lost answer sends the message again: consumers dedupe on
// the hooklatch-event-id attribute.
//
// # One message a call
//
// Each delivery is one SendMessage call; up to Config.MaxInFlight run at
// once. SendMessageBatch is not used: the only SQS server that runs where
// hooklatch is tested (goaws) answers it in a form the SDK reads as no
// result for any entry, so a batch path could not be tested against a real
// peer.
//
// # Credentials and failures
//
// Credentials and the region come from the SDK's default chain
// (environment, shared config and profiles, IAM roles); the region also
// from the queue URL's host or a region parameter. Endpoint points the
// client at an emulator. The SDK's own retries are off: the dispatcher
// retries, with its backoff and its attempt records.
//
// Throttling, 5xx answers and a network that fails are temporary. A queue
// that does not exist, access denied, a body SQS refuses (larger than the
// queue's maximum message size, or characters SQS does not allow) and any
// other error SQS blames on the request are permanent: the delivery goes
// to dead with SQS's own words, and nothing is dropped silently.
package sqsdest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/internal/publish"
)

const (
	defaultTimeout     = 10 * time.Second
	defaultMaxInFlight = 256
)

// Config configures a Destination.
type Config struct {
	// QueueURL is the queue's URL as SQS gives it:
	// https://sqs.REGION.amazonaws.com/ACCOUNT/NAME. A name ending in .fifo
	// makes it a FIFO queue.
	//
	// Required.
	QueueURL string

	// Region is the queue's AWS region. Defaults to the one in the queue
	// URL's host, else the SDK's default chain (AWS_REGION, the profile).
	Region string

	// Endpoint sends the requests to this URL instead of SQS's own, for a
	// local emulator: http://127.0.0.1:4100.
	Endpoint string

	// Timeout bounds each attempt. Defaults to 10s.
	Timeout time.Duration

	// MaxInFlight bounds the sends waiting for SQS at once. Defaults to 256.
	MaxInFlight int
}

// Destination sends events to one SQS queue. It is safe for concurrent use;
// Close it when done.
type Destination struct {
	client  *sqs.Client
	queue   string
	name    string
	fifo    bool
	timeout time.Duration
	gate    *publish.Gate
}

var _ destination.Destination = (*Destination)(nil)

var queryFields = map[string]string{"region": "Region", "endpoint": "Endpoint"}

// ParseURL reads sqs://HOST/ACCOUNT/NAME[?region=R][&endpoint=URL], the
// queue URL https://HOST/ACCOUNT/NAME with sqs:// for its scheme, into a
// Config.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Config{}, configError("QueueURL", "%w", err)
	}
	if strings.ToLower(u.Scheme) != "sqs" {
		return Config{}, configError("QueueURL", "an SQS destination looks like sqs://sqs.REGION.amazonaws.com/ACCOUNT/NAME, not %s://", u.Scheme)
	}
	q := u.Query()
	for k := range q {
		if _, ok := queryFields[k]; !ok {
			return Config{}, configError("QueueURL", "unknown query parameter %s: want region or endpoint", k)
		}
	}
	cfg := Config{Region: q.Get("region"), Endpoint: q.Get("endpoint")}
	u.Scheme, u.RawQuery = "https", ""
	cfg.QueueURL = u.String()
	return cfg, nil
}

// New validates cfg, loads the SDK's configuration (credentials are looked
// up at the first send) and returns a Destination. It does not connect.
func New(ctx context.Context, cfg Config) (*Destination, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.QueueURL))
	switch {
	case strings.TrimSpace(cfg.QueueURL) == "":
		return nil, configError("QueueURL", "required")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return nil, configError("QueueURL", "%q: want https://sqs.REGION.amazonaws.com/ACCOUNT/NAME", cfg.QueueURL)
	case u.RawQuery != "":
		return nil, configError("QueueURL", "%q: a queue URL has no query", cfg.QueueURL)
	case cfg.Timeout < 0:
		return nil, configError("Timeout", "negative (%s)", cfg.Timeout)
	case cfg.MaxInFlight < 0:
		return nil, configError("MaxInFlight", "negative (%d)", cfg.MaxInFlight)
	}
	name := u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	if name == "" {
		return nil, configError("QueueURL", "%q names no queue: want https://sqs.REGION.amazonaws.com/ACCOUNT/NAME", cfg.QueueURL)
	}
	if cfg.Endpoint != "" {
		if e, err := url.Parse(cfg.Endpoint); err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return nil, configError("Endpoint", "%q: want a URL such as http://127.0.0.1:4100", cfg.Endpoint)
		}
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRetryMaxAttempts(1)}
	if region := cmp.Or(cfg.Region, regionOf(u.Host)); region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, configError("Region", "loading the AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, configError("Region", "unknown: give region= or set AWS_REGION")
	}
	client := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	d := &Destination{
		client:  client,
		queue:   u.String(),
		name:    name,
		fifo:    strings.HasSuffix(name, ".fifo"),
		timeout: cmp.Or(cfg.Timeout, defaultTimeout),
		gate:    publish.NewGate(cmp.Or(cfg.MaxInFlight, defaultMaxInFlight)),
	}
	return d, nil
}

// regionOf reads the region from SQS's own host names:
// sqs.REGION.amazonaws.com (and .com.cn).
func regionOf(host string) string {
	parts := strings.Split(strings.ToLower(host), ".")
	if len(parts) >= 4 && parts[0] == "sqs" && parts[2] == "amazonaws" {
		return parts[1]
	}
	return ""
}

// TraceTarget implements destination.Traced.
func (d *Destination) TraceTarget() destination.Target {
	return publish.Target("aws_sqs", d.name, d.queue)
}

// Describe implements destination.Describer.
func (d *Destination) Describe() (kind, target string) {
	return Kind.Name, d.queue
}

// Deliver sends the event to the queue. It succeeds once SQS answers that
// it holds the message (or, on a FIFO queue, held it already).
func (d *Destination) Deliver(ctx context.Context, dl *destination.Delivery) error {
	ctx, end, err := d.gate.Begin(ctx, dl, d.timeout)
	if err != nil {
		return fmt.Errorf("SendMessage to %s: %w", d.name, err)
	}
	defer end()
	out, err := d.client.SendMessage(ctx, d.message(dl))
	if err != nil {
		// On a timeout the message may still have landed: on a FIFO
		// queue the retry is then dropped as a duplicate; on a standard
		// queue it is sent again.
		return d.judge(ctx, err)
	}
	return destination.WithResult(nil, destination.Result{Response: "sent as message " + aws.ToString(out.MessageId)})
}

// message builds dl's message.
func (d *Destination) message(dl *destination.Delivery) *sqs.SendMessageInput {
	attrs := map[string]types.MessageAttributeValue{}
	add := func(name, value string) {
		if value != "" { // SQS refuses an empty attribute value
			attrs[name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(value)}
		}
	}
	for _, f := range destination.Metadata(dl) {
		add(f.Name, f.Value)
	}
	publish.AddTraceParent(dl, add)
	e := &sqs.SendMessageInput{
		QueueUrl:          aws.String(d.queue),
		MessageBody:       aws.String(string(dl.Event.Body)),
		MessageAttributes: attrs,
	}
	if d.fifo {
		e.MessageGroupId = aws.String(cmp.Or(dl.Event.Subject, dl.Event.ID))
		e.MessageDeduplicationId = aws.String(dl.Event.ID)
	}
	return e
}

// throttled reports whether an error code asks the sender to slow down.
func throttled(code string) bool {
	switch code {
	case "RequestThrottled", "ThrottlingException", "Throttling", "KmsThrottled", "ServiceUnavailable", "InternalError":
		return true
	}
	return false
}

// judge classifies a failed call: an error SQS blames on the request (a
// 4xx: a missing queue, access denied, a body it refuses) is permanent,
// unless it is throttling; anything else (5xx, the network, a timeout) is
// temporary.
func (d *Destination) judge(ctx context.Context, err error) error {
	wrapped := fmt.Errorf("SendMessage to %s: %w", d.name, publish.Explain(ctx, err))
	var api smithy.APIError
	if errors.As(err, &api) && throttled(api.ErrorCode()) {
		return wrapped
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() >= 400 && resp.HTTPStatusCode() < 500 {
		return destination.Permanent(wrapped)
	}
	return wrapped
}

// Close waits for the sends in flight. Deliver fails after Close.
// Closing twice is harmless.
func (d *Destination) Close() error {
	d.gate.Close()
	return nil
}

func configError(field, format string, args ...any) error {
	return &destination.ConfigError{Package: "sqsdest", Field: field, Err: fmt.Errorf(format, args...)}
}
