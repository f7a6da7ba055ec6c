package cli

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

// listen, a laptop tool, takes requests from this machine only unless
// told otherwise; serve, which Sent reaches, listens on every interface.
func TestDefaultListenAddresses(t *testing.T) {
	t.Parallel()
	env := Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Getenv: func(k string) string {
			return map[string]string{"SENT_WEBHOOK_SECRET": "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="}[k]
		}}

	listen := newListenCommand(env)
	if err := listen.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	lo, err := resolveListen(listen, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := lo.Listen.Server.Addr; got != "127.0.0.1:3000" {
		t.Errorf("listen binds %q by default, want 127.0.0.1:3000", got)
	}

	serve := newServeCommand(env)
	if err := serve.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	so, err := resolveServe(serve, env, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := so.Server.Addr; got != ":3000" {
		t.Errorf("serve binds %q by default, want :3000 (every interface)", got)
	}
}
