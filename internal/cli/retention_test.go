package cli_test

import (
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/cli"
)

// A retention shorter than a day would prune events Sent may still be
// retrying: serve refuses it before opening anything.
func TestServeRetentionBelowADayRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		vars map[string]string
		want string
	}{
		{[]string{"--retention", "12h"}, nil, "--retention 12h0m0s: want at least 24h"},
		{nil, map[string]string{"HOOKLATCH_RETENTION": "1h"}, "--retention 1h0m0s: want at least 24h"},
		{[]string{"--retention-dead", "2h"}, nil, "--retention-dead 2h0m0s: want at least 24h"},
		{nil, map[string]string{"HOOKLATCH_RETENTION": "a month"}, "--retention: want a duration"},
	} {
		vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}
		for k, v := range c.vars {
			vars[k] = v
		}
		args := append([]string{"serve", "--store", t.TempDir() + "/h.db", "--addr", "127.0.0.1:0", "--admin-addr", "off"}, c.args...)
		r := run(t, vars, "", args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("serve %v %v: exit %d, stderr %q; want usage error %q", c.args, c.vars, r.code, r.stderr, c.want)
		}
	}
}
