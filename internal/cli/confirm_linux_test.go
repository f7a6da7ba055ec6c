package cli_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/store"
)

// openTerminal returns a pseudo-terminal: the side a command reads as its
// standard input, and the side that types into it.
func openTerminal(t *testing.T) (tty, keyboard *os.File) {
	t.Helper()
	keyboard, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { keyboard.Close() })
	fd := int(keyboard.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty, keyboard
}

// On a terminal, an action by filter asks first: anything but yes does
// nothing, yes acts.
func TestActionByFilterAsksOnATerminal(t *testing.T) {
	t.Parallel()
	s := seedStore(t)
	tty, keyboard := openTerminal(t)
	answer := func(typed string) result {
		t.Helper()
		if _, err := keyboard.WriteString(typed + "\n"); err != nil {
			t.Fatal(err)
		}
		var out, errOut logtest.Buffer
		env := cli.Env{Stdin: tty, Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return s.vars[k] }}
		code := cli.Main(context.Background(), []string{"events", "retry", "--since", "1h"}, env)
		return result{code, out.String(), errOut.String()}
	}
	r := answer("n")
	if r.code != cli.ExitFailed || !strings.Contains(r.stderr, "Retry the deliveries of 1 event? [y/N] ") || !strings.Contains(r.stderr, "not confirmed: nothing done") {
		t.Fatalf("answered n: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if d := s.deliveries(t)[s.deadApp]; d.Status != store.DeliveryDead {
		t.Fatalf("answered n, and the dead delivery is %s", d.Status)
	}
	r = answer("y")
	if r.code != 0 || !strings.HasSuffix(r.stdout, "\n1 delivery requeued\n") {
		t.Fatalf("answered y: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if d := s.deliveries(t)[s.deadApp]; d.Status != store.DeliveryPending {
		t.Fatalf("answered y, and the dead delivery is %s", d.Status)
	}
}
