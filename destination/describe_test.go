package destination_test

import (
	"testing"

	"github.com/hooklatch/hooklatch/destination"
)

// RedactURL hides a URL's password and the values of the parameters that
// may be secrets, and leaves the rest as it was.
func TestRedactURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://app.example/hooks":                              "https://app.example/hooks",
		"https://user:pw@app.example/hooks":                      "https://user:xxxxx@app.example/hooks",
		"https://app.example/hooks?token=abc&v=2":                "https://app.example/hooks?token=xxxxx&v=2",
		"https://app.example/h?api_key=abc&Signature=s&sid=7":    "https://app.example/h?api_key=xxxxx&Signature=xxxxx&sid=7",
		"redis://:pw@127.0.0.1:6379/0?password=x&client_name=hl": "redis://:xxxxx@127.0.0.1:6379/0?password=xxxxx&client_name=hl",
		"amqp://guest@127.0.0.1:5672/":                           "amqp://guest@127.0.0.1:5672/",
		"/usr/local/bin/handle":                                  "/usr/local/bin/handle",
		"http://[::1:bad/x?token=abc":                            "http://(a URL that cannot be parsed)",
	} {
		if got := destination.RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
