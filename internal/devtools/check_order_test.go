package devtools_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/signature"
)

// statusApp is an app that keeps each message's status, in one of three
// ways.
type statusApp struct {
	apply    string // "naive": status = event.status; "drops stale": keeps the highest; "refuses stale": 409 to a lower one
	verifier *signature.Verifier

	mu     sync.Mutex
	status map[string]string // message id → status
}

func (a *statusApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if _, err := a.verifier.Verify(r.Header, body); err != nil {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	env, err := event.Parse(body)
	if err != nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	id, status := env.Subject().ID, env.Status()
	a.mu.Lock()
	defer a.mu.Unlock()
	if have, ok := a.status[id]; ok && a.apply != "naive" && event.StatusRank(status) < event.StatusRank(have) {
		if a.apply == "refuses stale" {
			http.Error(w, "cannot go from "+have+" back to "+status, http.StatusConflict)
		}
		return // dropped: 200
	}
	a.status[id] = status
}

// The out-of-order case sees answers only. A naive app and one that drops
// stale statuses both acknowledge everything and get the same grade: the
// case cannot tell them apart, and says so, naming the message to look up
// (on which the naive app ends SENT and the careful one READ). An app that
// refuses the late statuses fails, with advice to acknowledge them.
func TestCheckOutOfOrderGradesWhatAnswersShow(t *testing.T) {
	t.Parallel()
	secrets, err := signature.ParseSecrets(checkSecret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signature.NewVerifier(signature.Config{Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		apply   string
		verdict devtools.Verdict
		reason  string // a part of the reason
		ends    string // the status the app ends on
	}{
		{"naive", devtools.VerdictPass, "answers cannot show whether the app ends on READ", "SENT"},
		{"drops stale", devtools.VerdictPass, "answers cannot show whether the app ends on READ", "READ"},
		{"refuses stale", devtools.VerdictFail, "409 Conflict to QUEUED and SENT, each sent after a later status of its message; 2xx to DELIVERED and READ", "READ"},
	}
	for _, tt := range tests {
		t.Run(tt.apply, func(t *testing.T) {
			t.Parallel()
			app := &statusApp{apply: tt.apply, verifier: v, status: map[string]string{}}
			srv := httptest.NewServer(app)
			t.Cleanup(srv.Close)
			rep := runCheck(t, devtools.Check{URL: srv.URL, Secret: checkSecrets(t), Only: []string{devtools.CaseOutOfOrder}})
			res := rep.Results[0]
			if res.Verdict != tt.verdict || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("graded %s: %s\nwant %s: …%s…", res.Verdict, res.Reason, tt.verdict, tt.reason)
			}
			if tt.verdict == devtools.VerdictFail && !strings.Contains(res.Advice, "answer 2xx") {
				t.Errorf("advice %q, want it to say to answer 2xx", res.Advice)
			}
			app.mu.Lock()
			defer app.mu.Unlock()
			if len(app.status) != 1 {
				t.Fatalf("the app saw %d messages, want the case's one", len(app.status))
			}
			for id, status := range app.status {
				if status != tt.ends {
					t.Errorf("the app ends on %s, want %s", status, tt.ends)
				}
				if tt.verdict == devtools.VerdictPass && !strings.Contains(res.Reason, "message "+id+"'s") {
					t.Errorf("the reason does not name the message %s to look up: %s", id, res.Reason)
				}
			}
		})
	}
}

// Lifecycle stamps each status a second after the one before, in the order
// given, so that shuffled they still say when each was reached.
func TestLifecycleStampsInOrder(t *testing.T) {
	t.Parallel()
	reqs, err := devtools.Lifecycle([]string{"QUEUED", "SENT", "READ"}, devtools.Samples{})
	if err != nil {
		t.Fatal(err)
	}
	var prev *event.Envelope
	for _, r := range reqs {
		env, err := event.Parse(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil && env.Timestamp.Sub(prev.Timestamp).Seconds() != 1 {
			t.Errorf("%s at %s, %s after %s: want a second after", env.Status(), env.Timestamp, env.Timestamp.Sub(prev.Timestamp), prev.Status())
		}
		prev = env
	}
}
