package cloudtasksdest_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/cloudtasksdest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
)

const queue = "projects/p/locations/europe-west1/queues/sent-events"

// tasksServer stands in for Cloud Tasks, which cannot run here: a gRPC
// server built from the official service definition (cloudtaskspb) that
// keeps tasks by name as Cloud Tasks does (a second of one name is
// ALREADY_EXISTS) and runs each new task once, POSTing it to its URL.
type tasksServer struct {
	cloudtaskspb.UnimplementedCloudTasksServer
	mu     sync.Mutex
	tasks  map[string]*cloudtaskspb.Task
	refuse codes.Code // answer every creation with this, when set
	hang   bool       // never answer
	client *http.Client
}

func (s *tasksServer) CreateTask(ctx context.Context, req *cloudtaskspb.CreateTaskRequest) (*cloudtaskspb.Task, error) {
	if s.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if s.refuse != codes.OK {
		return nil, status.Error(s.refuse, "refused by the test")
	}
	if req.GetParent() != queue {
		return nil, status.Errorf(codes.NotFound, "Requested entity was not found: %s", req.GetParent())
	}
	t := req.GetTask()
	if !strings.HasPrefix(t.GetName(), queue+"/tasks/") {
		return nil, status.Errorf(codes.InvalidArgument, "task name %q is not in the queue", t.GetName())
	}
	s.mu.Lock()
	if _, ok := s.tasks[t.GetName()]; ok {
		s.mu.Unlock()
		return nil, status.Errorf(codes.AlreadyExists, "The task cannot be created because a task with this name existed too recently.")
	}
	s.tasks[t.GetName()] = t
	s.mu.Unlock()
	go s.run(t.GetHttpRequest())
	return t, nil
}

// run sends the task's request to its worker, as Cloud Tasks would.
func (s *tasksServer) run(r *cloudtaskspb.HttpRequest) {
	req, err := http.NewRequest(r.GetHttpMethod().String(), r.GetUrl(), bytes.NewReader(r.GetBody()))
	if err != nil {
		return
	}
	for k, v := range r.GetHeaders() {
		req.Header.Set(k, v)
	}
	if resp, err := s.client.Do(req); err == nil {
		resp.Body.Close()
	}
}

// start serves s on a free port until the test ends.
func start(t *testing.T, s *tasksServer) string {
	t.Helper()
	s.tasks = map[string]*cloudtaskspb.Task{}
	s.client = &http.Client{Timeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	cloudtaskspb.RegisterCloudTasksServer(g, s)
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	return ln.Addr().String()
}

// worker records the requests Cloud Tasks sends it.
func worker(t *testing.T) (string, *destinationtest.Recorder) {
	rec := new(destinationtest.Recorder)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		meta := map[string]string{}
		for _, name := range destination.MetadataNames {
			meta[name] = r.Header.Get(name)
		}
		rec.Record(destinationtest.Received{EventID: r.Header.Get(destination.MetaEventID), Body: body, Metadata: meta})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/tasks/sent", rec
}

func newDest(t testing.TB, cfg cloudtasksdest.Config) *cloudtasksdest.Destination {
	t.Helper()
	if cfg.Queue == "" {
		cfg.Queue = queue
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	d, err := cloudtasksdest.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestConformance(t *testing.T) {
	t.Parallel()
	destinationtest.Run(t, destinationtest.Harness{
		New: func(t *testing.T, b destinationtest.Behaviour) (destination.Destination, destinationtest.Observer) {
			s := &tasksServer{}
			switch b {
			case destinationtest.FailTemporary:
				s.refuse = codes.Unavailable
			case destinationtest.FailPermanent:
				s.refuse = codes.PermissionDenied
			case destinationtest.Hang:
				s.hang = true
			}
			url, rec := worker(t)
			return newDest(t, cloudtasksdest.Config{URL: url, Endpoint: start(t, s)}), rec
		},
		Limits:      destinationtest.Limits{FailureNotObserved: true},
		HangTimeout: 500 * time.Millisecond,
	})
}

// The task carries the body, the metadata and the OIDC token asked for, is
// named after the event, and a retry creates no second one.
func TestTaskNamedAfterTheEventCreatedOnce(t *testing.T) {
	t.Parallel()
	s := &tasksServer{}
	url, rec := worker(t)
	d := newDest(t, cloudtasksdest.Config{URL: url, Endpoint: start(t, s), ServiceAccount: "hooklatch@p.iam.gserviceaccount.com"})
	dl := destinationtest.NewDelivery(3)
	first := destination.Classify(d.Deliver(t.Context(), dl))
	dl.Attempt = 2
	again := destination.Classify(d.Deliver(t.Context(), dl))
	if first.Err != nil || again.Err != nil {
		t.Fatalf("Deliver: %v, then %v", first.Err, again.Err)
	}
	name := cloudtasksdest.TaskName(queue, dl)
	if !strings.Contains(again.Result.Response, "already created") {
		t.Errorf("the retry answered %q, want it to say the task exists", again.Result.Response)
	}
	s.mu.Lock()
	task, n := s.tasks[name], len(s.tasks)
	s.mu.Unlock()
	if n != 1 || task == nil {
		t.Fatalf("%d tasks, want one named %s", n, name)
	}
	r := task.GetHttpRequest()
	if r.GetUrl() != url || r.GetHttpMethod() != cloudtaskspb.HttpMethod_POST || !bytes.Equal(r.GetBody(), dl.Event.Body) {
		t.Errorf("task %s %s with body %q", r.GetHttpMethod(), r.GetUrl(), r.GetBody())
	}
	if tok := r.GetOidcToken(); tok.GetServiceAccountEmail() != "hooklatch@p.iam.gserviceaccount.com" {
		t.Errorf("OIDC token %v", tok)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got, err := rec.Received(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Metadata[destination.MetaEventID] != dl.Event.ID || got[0].Metadata[destination.MetaSubject] != dl.Event.Subject {
		t.Errorf("the worker got metadata %v", got[0].Metadata)
	}
}

// Errors Cloud Tasks answers are classified by their gRPC code, and a
// queue that does not exist is permanent.
func TestClassification(t *testing.T) {
	t.Parallel()
	for code, want := range map[codes.Code]destination.Class{
		codes.Unavailable:        destination.Temporary,
		codes.ResourceExhausted:  destination.Temporary,
		codes.Internal:           destination.Temporary,
		codes.PermissionDenied:   destination.PermanentFailure,
		codes.InvalidArgument:    destination.PermanentFailure,
		codes.FailedPrecondition: destination.PermanentFailure,
	} {
		d := newDest(t, cloudtasksdest.Config{URL: "https://worker.example/", Endpoint: start(t, &tasksServer{refuse: code})})
		if got := destination.Classify(d.Deliver(t.Context(), destinationtest.NewDelivery(1))); got.Class != want {
			t.Errorf("%s: classified %s (%v), want %s", code, got.Class, got.Err, want)
		}
	}
	d := newDest(t, cloudtasksdest.Config{Queue: "projects/p/locations/l/queues/missing", URL: "https://worker.example/", Endpoint: start(t, &tasksServer{})})
	if got := destination.Classify(d.Deliver(t.Context(), destinationtest.NewDelivery(1))); got.Class != destination.PermanentFailure {
		t.Errorf("a missing queue: %s (%v), want permanent", got.Class, got.Err)
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	got, err := cloudtasksdest.ParseURL("cloudtasks://" + queue + "?url=https://worker.example/hooks%3Fk%3Dv&service_account=a@p.iam.gserviceaccount.com")
	want := cloudtasksdest.Config{Queue: queue, URL: "https://worker.example/hooks?k=v", ServiceAccount: "a@p.iam.gserviceaccount.com"}
	if err != nil || got != want {
		t.Errorf("ParseURL = %+v, %v; want %+v", got, err, want)
	}
	for raw, msg := range map[string]string{
		"cloudtasks://" + queue + "?url=https://w/&queue=x": "unknown query parameter queue",
		"https://" + queue: "cloudtasks://projects/P",
	} {
		if _, err := cloudtasksdest.ParseURL(raw); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseURL(%q) = %v; want an error mentioning %q", raw, err, msg)
		}
	}
	for _, tt := range []struct {
		cfg cloudtasksdest.Config
		msg string
	}{
		{cloudtasksdest.Config{Queue: "projects/p/queues/q", URL: "https://w/"}, "Queue"},
		{cloudtasksdest.Config{Queue: queue}, "URL: required"},
		{cloudtasksdest.Config{Queue: queue, URL: "worker"}, "URL"},
		{cloudtasksdest.Config{Queue: queue, URL: "https://w/", Audience: "a"}, "Audience"},
	} {
		if _, err := cloudtasksdest.New(t.Context(), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("New(%+v) = %v; want an error mentioning %q", tt.cfg, err, tt.msg)
		}
	}
}
