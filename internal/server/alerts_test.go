package server_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hooklatch/hooklatch/signature"
)

// alertRules is the sample rule file the metrics guide offers.
const alertRules = "../../docs/prometheus-alerts.yml"

// The sample alert rules are rules Prometheus accepts, and every
// hooklatch metric they use is one serve exposes.
func TestSampleAlertRulesUseServedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(alertRules)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}

	// Serve, with a dead delivery, a delivered one and a rejection, so
	// that the labelled series exist too.
	a := startAPI(t, "")
	a.failing.Store(true)
	_, id := a.send(t, a.secret, messageBody("message.delivered", "msg-dead"))
	waitFor(t, "a dead delivery", func() bool { return a.event(t, id).Delivery == "dead" })
	a.failing.Store(false)
	wrong, _ := signature.ParseSecrets("whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")
	a.send(t, wrong[0], messageBody("message.delivered", "msg-forged"))
	a.call(t, "GET", "/v1/stats", nil, nil) // refreshes the sampled gauges
	_, text := get(t, a.admin+"/metrics")
	served := map[string]bool{}
	for line := range strings.SplitSeq(text, "\n") {
		if name, kind, ok := strings.Cut(strings.TrimPrefix(line, "# TYPE "), " "); ok && strings.HasPrefix(line, "# TYPE ") {
			served[name] = true
			if kind == "histogram" {
				served[name+"_bucket"], served[name+"_sum"], served[name+"_count"] = true, true, true
			}
		}
	}

	metric := regexp.MustCompile(`\bhooklatch_[a-z_]+`)
	rules := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules++
			for _, name := range metric.FindAllString(r.Expr, -1) {
				if !served[name] {
					t.Errorf("alert %s uses %s, which serve's /metrics does not have", r.Alert, name)
				}
			}
		}
	}
	if rules == 0 {
		t.Fatalf("%s has no rules", alertRules)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("HOOKLATCH_REQUIRE_SERVICES") == "1" {
			t.Fatalf("promtool is missing (apt-get install -y prometheus): %v", err)
		}
		t.Skip("promtool is missing (apt-get install -y prometheus): the rules' syntax is not checked")
	}
	if out, err := exec.Command(promtool, "check", "rules", alertRules).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules %s: %v\n%s", alertRules, err, out)
	}
}
