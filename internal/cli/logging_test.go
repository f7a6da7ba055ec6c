package cli_test

import (
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/cli"
)

// Only the commands that log take --log-format and --log-level; the
// others print what they have to say.
func TestLogFlagsOnlyOnCommandsThatLog(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"serve", "listen", "bench"} {
		if r := run(t, nil, "", cmd, "--help"); !strings.Contains(r.stdout, "--log-level") || !strings.Contains(r.stdout, "--log-format") {
			t.Errorf("%s --help lacks the log flags:\n%s", cmd, r.stdout)
		}
	}
	for _, args := range [][]string{{"--help"}, {"events", "ls", "--help"}, {"trigger", "--help"}, {"sign", "--help"}, {"rejections", "--help"}} {
		if r := run(t, nil, "", args...); strings.Contains(r.stdout, "--log-") {
			t.Errorf("%s offers log flags:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
	r := run(t, nil, "", "events", "ls", "--log-level", "debug")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "unknown flag: --log-level") {
		t.Errorf("events ls --log-level: exit %d, %s", r.code, r.stderr)
	}
}

// bench prints its progress and its results, not a log line per event.
func TestBenchPrintsProgressNotEvents(t *testing.T) {
	t.Parallel()
	r := run(t, nil, "", "bench", "--duration", "200ms", "--connections", "2", "--store", t.TempDir()+"/b.db")
	if r.code != 0 || !strings.Contains(r.stdout, "hooklatch answers: 200×") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "hooklatch serve in-process at") {
		t.Errorf("no progress on standard error:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, `"msg":"event"`) || strings.Contains(r.stderr, "msg=event") {
		t.Errorf("bench logged the events it sent:\n%.600s", r.stderr)
	}
}
