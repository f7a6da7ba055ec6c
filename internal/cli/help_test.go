package cli_test

import (
	"strings"
	"testing"
)

// serve --help gives the settings' real order and promises nothing that
// is not built.
func TestServeHelpTellsTheTruth(t *testing.T) {
	t.Parallel()
	r := run(t, nil, "", "serve", "--help")
	if !strings.Contains(r.stdout, "flag, else its environment variable, else the\nconfig file (--config), else its default") {
		t.Errorf("serve --help does not give the settings' order with the config file:\n%s", r.stdout)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "--admin-addr") && strings.Contains(line, "API") {
			t.Errorf("--admin-addr promises an API that does not exist yet: %s", line)
		}
		if strings.Contains(line, "--forward-attempts") && !strings.Contains(line, "2.1 to 4.1 hours") {
			t.Errorf("--forward-attempts does not say how long 15 attempts take: %s", line)
		}
	}
}
