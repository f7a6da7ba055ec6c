package cli_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/cli"
)

// Counts agree with their nouns: one request was, two requests were.
func TestCountsAgreeWithTheirNouns(t *testing.T) {
	t.Parallel()
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer refuse.Close()
	vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}
	for args, want := range map[string]string{
		"message.sent":                   "1 of 1 request was not answered 2xx",
		"message.sent message.delivered": "2 of 2 requests were not answered 2xx",
	} {
		r := run(t, vars, "", append([]string{"trigger", "--to", refuse.URL}, strings.Fields(args)...)...)
		if r.code != cli.ExitFailed || !strings.Contains(r.stderr, want) {
			t.Errorf("trigger %s: exit %d, stderr %q; want %q", args, r.code, r.stderr, want)
		}
	}
}
