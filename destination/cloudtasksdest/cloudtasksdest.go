// Package cloudtasksdest creates one Google Cloud Tasks HTTP task per
// event, with the official Go client, for a worker that Cloud Tasks calls.
//
//	cfg, err := cloudtasksdest.ParseURL("cloudtasks://projects/P/locations/L/queues/Q?url=https://worker.example/hooks")
//	dest, err := cloudtasksdest.New(ctx, cfg)
//	defer dest.Close()
//
// # The task
//
// Each task is a POST of the event's raw body to Config.URL, byte for byte,
// with the event's Content-Type and the metadata every broker destination
// sends (destination.MetadataNames) as headers: Hooklatch-Event-Id,
// Hooklatch-Event-Type, … A header whose value is empty is left out.
// With Config.ServiceAccount the task carries an OIDC token for that
// service account, so that a worker on Cloud Run or Cloud Functions can
// require authentication.
//
// # Created once
//
// The task is named after the event: QUEUE/tasks/hl-EVENT_ID. Cloud Tasks
// refuses a second task of the same name with ALREADY_EXISTS, which counts
// as success: a retry after a lost answer creates nothing more. Cloud Tasks
// keeps a name for about an hour after its task ran or was deleted, and a
// replay within that time creates nothing either (the attempt says so).
//
// # Credentials and failures
//
// Credentials are Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS,
// the gcloud login, the metadata server). UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, INTERNAL, ABORTED and a network that fails are
// temporary; a queue that does not exist, permission denied, an invalid
// task and anything else Cloud Tasks refuses for good are permanent.
package cloudtasksdest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/internal/publish"
)

const (
	defaultTimeout     = 10 * time.Second
	defaultMaxInFlight = 256
)

// Config configures a Destination.
type Config struct {
	// Queue names the queue: projects/PROJECT/locations/LOCATION/queues/QUEUE.
	//
	// Required.
	Queue string

	// URL is where Cloud Tasks sends each task: the worker's https:// URL.
	//
	// Required.
	URL string

	// ServiceAccount, when set, makes each task carry an OIDC token for
	// this service account's email; Audience is the token's audience
	// (defaults to URL).
	ServiceAccount string
	Audience       string

	// Endpoint sends the requests to this host:port over plain gRPC,
	// without credentials, for a local emulator. Empty: Cloud Tasks itself.
	Endpoint string

	// Timeout bounds each attempt. Defaults to 10s.
	Timeout time.Duration

	// MaxInFlight bounds the creations waiting at once. Defaults to 256.
	MaxInFlight int
}

// Destination creates tasks in one queue. It is safe for concurrent use;
// Close it when done.
type Destination struct {
	client  *cloudtasks.Client
	cfg     Config
	timeout time.Duration
	gate    *publish.Gate
}

var _ destination.Destination = (*Destination)(nil)

var queryFields = map[string]string{"url": "URL", "service_account": "ServiceAccount", "audience": "Audience", "endpoint": "Endpoint"}

var queueName = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9-]+$`)

// ParseURL reads
// cloudtasks://projects/P/locations/L/queues/Q?url=https://worker/...[&service_account=EMAIL][&audience=A]
// into a Config.
func ParseURL(raw string) (Config, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(raw), "cloudtasks://")
	if !ok {
		return Config{}, configError("Queue", "a Cloud Tasks destination looks like cloudtasks://projects/P/locations/L/queues/Q?url=https://worker/path")
	}
	path, query, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return Config{}, configError("Queue", "%w", err)
	}
	for k := range q {
		if _, ok := queryFields[k]; !ok {
			return Config{}, configError("Queue", "unknown query parameter %s: want url, service_account, audience or endpoint", k)
		}
	}
	return Config{Queue: path, URL: q.Get("url"), ServiceAccount: q.Get("service_account"),
		Audience: q.Get("audience"), Endpoint: q.Get("endpoint")}, nil
}

// New validates cfg and returns a Destination. Credentials are found now;
// the connection is made at the first creation.
func New(ctx context.Context, cfg Config) (*Destination, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case !queueName.MatchString(cfg.Queue):
		return nil, configError("Queue", "%q: want projects/PROJECT/locations/LOCATION/queues/QUEUE", cfg.Queue)
	case cfg.URL == "":
		return nil, configError("URL", "required: the worker's URL, which Cloud Tasks calls")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return nil, configError("URL", "%q: want the worker's https:// URL", cfg.URL)
	case cfg.Audience != "" && cfg.ServiceAccount == "":
		return nil, configError("Audience", "set without service_account: the audience is the OIDC token's")
	case cfg.Timeout < 0:
		return nil, configError("Timeout", "negative (%s)", cfg.Timeout)
	case cfg.MaxInFlight < 0:
		return nil, configError("MaxInFlight", "negative (%d)", cfg.MaxInFlight)
	}
	var opts []option.ClientOption
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	client, err := cloudtasks.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloudtasksdest: %w", err)
	}
	return &Destination{client: client, cfg: cfg, timeout: cmp.Or(cfg.Timeout, defaultTimeout),
		gate: publish.NewGate(cmp.Or(cfg.MaxInFlight, defaultMaxInFlight))}, nil
}

// TaskName is the name of dl's task in queue.
func TaskName(queue string, dl *destination.Delivery) string {
	return queue + "/tasks/hl-" + taskID.ReplaceAllString(dl.Event.ID, "_")
}

// taskID matches what a task ID may not hold: it is letters, digits,
// hyphens and underscores.
var taskID = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// TraceTarget implements destination.Traced.
func (d *Destination) TraceTarget() destination.Target {
	return publish.Target("gcp_cloud_tasks", d.cfg.Queue, cmp.Or(d.cfg.Endpoint, "cloudtasks.googleapis.com:443"))
}

// Describe implements destination.Describer.
func (d *Destination) Describe() (kind, target string) {
	return Kind.Name, d.cfg.Queue + " calling " + destination.RedactURL(d.cfg.URL)
}

// Deliver creates the event's task. It succeeds once Cloud Tasks answers
// that the task exists, created now or by an earlier attempt.
func (d *Destination) Deliver(ctx context.Context, dl *destination.Delivery) error {
	ctx, end, err := d.gate.Begin(ctx, dl, d.timeout)
	if err != nil {
		return fmt.Errorf("CreateTask in %s: %w", d.cfg.Queue, err)
	}
	defer end()
	headers := map[string]string{}
	if ct := dl.Event.Headers["content-type"]; ct != "" {
		headers["Content-Type"] = ct
	}
	for _, f := range destination.Metadata(dl) {
		if f.Value != "" {
			headers[f.Name] = f.Value
		}
	}
	publish.AddTraceParent(dl, func(name, value string) { headers[name] = value })
	req := &cloudtaskspb.HttpRequest{Url: d.cfg.URL, HttpMethod: cloudtaskspb.HttpMethod_POST, Headers: headers, Body: dl.Event.Body}
	if d.cfg.ServiceAccount != "" {
		req.AuthorizationHeader = &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{
			ServiceAccountEmail: d.cfg.ServiceAccount, Audience: d.cfg.Audience}}
	}
	name := TaskName(d.cfg.Queue, dl)
	task, err := d.client.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: d.cfg.Queue,
		Task: &cloudtaskspb.Task{Name: name, MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: req}}})
	switch {
	case status.Code(err) == codes.AlreadyExists:
		return destination.WithResult(nil, destination.Result{Response: "task " + name + " already created by an earlier attempt"})
	case err != nil:
		return judge(ctx, d.cfg.Queue, err)
	}
	return destination.WithResult(nil, destination.Result{Response: "created task " + task.GetName()})
}

// judge classifies a failed creation by its gRPC status.
func judge(ctx context.Context, queue string, err error) error {
	wrapped := fmt.Errorf("CreateTask in %s: %w", queue, publish.Explain(ctx, err))
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return wrapped
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal, codes.Aborted,
		codes.Canceled, codes.Unknown:
		return wrapped
	}
	return destination.Permanent(wrapped)
}

// Close waits for the creations in flight, then closes the connection.
// Deliver fails after Close. Closing twice is harmless.
func (d *Destination) Close() error {
	if !d.gate.Close() {
		return nil
	}
	if err := d.client.Close(); err != nil {
		return fmt.Errorf("cloudtasksdest: closing: %w", err)
	}
	return nil
}

func configError(field, format string, args ...any) error {
	return &destination.ConfigError{Package: "cloudtasksdest", Field: field, Err: fmt.Errorf(format, args...)}
}
