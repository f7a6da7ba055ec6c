package source_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/hooklatch/hooklatch/source"
)

// A source checks a provider's request by the provider's rules and names
// its event. This is GitHub's own example from its documentation.
func ExampleNew() {
	src, err := source.New(source.Settings{Name: "code", Provider: "github", Secrets: []string{"It's a Secret to Everybody"}})
	if err != nil {
		panic(err)
	}
	body := "Hello, World!"
	req := httptest.NewRequest("POST", "/webhooks/code", strings.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	req.Header.Set("X-GitHub-Event", "ping")
	v, err := src.Verify(req, []byte(body))
	fmt.Println(v.Type, v.SecretIndex, err)

	_, err = src.Verify(req, []byte(body+"!"))
	fmt.Println(err)
	// Output:
	// ping 0 <nil>
	// signature: no match: 1 github signature(s) checked against 1 secret(s)
}
