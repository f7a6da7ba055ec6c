package workertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/signature"
)

// serveSecret signs what Serve posts.
const serveSecret = "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="

// Bodies returns n webhook bodies as Sent sends them, each about a
// message of its own.
func Bodies(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"field":"message","sub_type":"message.delivered","timestamp":"2025-10-31T10:10:42Z","payload":{"message_id":"msg-%s-%d","message_status":"DELIVERED","channel":"sms"}}`, Name("m"), i)
	}
	return out
}

// Serve runs `hooklatch serve --forward-to forwardTo` in this process, on
// a store of its own, and posts each body to it as Sent would (signed,
// with an event id of its own), failing t unless every one is
// acknowledged. serve stops when t ends.
func Serve(t testing.TB, forwardTo string, bodies [][]byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		var out bytes.Buffer
		code := cli.Main(ctx, []string{"serve", "--addr", addr, "--secret", serveSecret, "--admin-addr", "off",
			"--store", filepath.Join(t.TempDir(), "hooklatch.db"), "--log-level", "warn", "--forward-to", forwardTo},
			cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		done <- fmt.Sprintf("exit %d: %s", code, out.String())
	}()
	t.Cleanup(func() {
		cancel()
		if res := <-done; !strings.HasPrefix(res, "exit 0") {
			t.Errorf("serve: %s", res)
		}
	})
	secret, err := signature.ParseSecret(serveSecret)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr + "/webhooks/sent"
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case res := <-done:
			t.Fatalf("serve stopped: %s", res)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, body := range bodies {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range signature.Sign(signature.V1, secret, body, signature.SignOptions{}) {
			req.Header[k] = v
		}
		req.Header.Set(signature.HeaderEventID, fmt.Sprintf("evt_%s_%d", Name("e"), i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook %d: %d %s", i, resp.StatusCode, answer)
		}
	}
}
