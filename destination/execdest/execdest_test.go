package execdest_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/execdest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	destinationtest.Run(t, destinationtest.Harness{
		New: func(t *testing.T, b destinationtest.Behaviour) (destination.Destination, destinationtest.Observer) {
			// The script saves stdin under the event's ID, then behaves.
			then := map[destinationtest.Behaviour]string{
				destinationtest.Succeed:       "exit 0",
				destinationtest.FailTemporary: "echo 'database is locked' >&2; exit 75",
				destinationtest.FailPermanent: "echo 'not an event I know' >&2; exit 65",
				destinationtest.Hang:          "exec sleep 3600",
			}[b]
			dir := t.TempDir()
			script := writeScript(t, `cat > "$OUT_DIR/$HOOKLATCH_EVENT_ID" || exit 1`+"\n"+then)
			dest := newDest(t, execdest.Config{Command: []string{script}, Env: []string{"OUT_DIR=" + dir}})

			// Deliver returns after the command exits, so its file is
			// complete: record it then.
			rec := new(destinationtest.Recorder)
			return destination.Func(func(ctx context.Context, d *destination.Delivery) error {
				err := dest.Deliver(ctx, d)
				if body, rerr := os.ReadFile(filepath.Join(dir, d.Event.ID)); rerr == nil {
					rec.Record(destinationtest.Received{EventID: d.Event.ID, Body: body})
				}
				return err
			}), rec
		},
	})
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := writeScript(t, "exit 0")
	tests := []struct {
		name    string
		cfg     execdest.Config
		wantErr string // "" for valid
	}{
		{"program in PATH", execdest.Config{Command: []string{"sh", "-c", "exit 0"}}, ""},
		{"absolute path", execdest.Config{Command: []string{script}}, ""},
		{"relative to Dir", execdest.Config{Command: []string{"./" + filepath.Base(script)}, Dir: filepath.Dir(script)}, ""},
		{"no command", execdest.Config{}, "Config.Command: required"},
		{"empty program", execdest.Config{Command: []string{""}}, "Config.Command: required"},
		{"not in PATH", execdest.Config{Command: []string{"hooklatch-no-such-program"}}, "executable file not found"},
		{"missing file", execdest.Config{Command: []string{filepath.Join(dir, "missing.sh")}}, "no such file"},
		{"not executable", execdest.Config{Command: []string{writeFile(t, "plain.txt", "exit 0", 0o644)}}, "permission denied"},
		{"negative timeout", execdest.Config{Command: []string{script}, Timeout: -time.Second}, "Timeout: negative"},
		{"negative output", execdest.Config{Command: []string{script}, MaxOutputBytes: -1}, "MaxOutputBytes: negative"},
		{"bad env", execdest.Config{Command: []string{script}, Env: []string{"NOVALUE"}}, "not KEY=value"},
		{"missing dir", execdest.Config{Command: []string{script}, Dir: filepath.Join(dir, "nope")}, "Config.Dir"},
		{"dir is a file", execdest.Config{Command: []string{script}, Dir: script}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := execdest.New(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: err = %v, want one containing %q", err, tt.wantErr)
			}
			// A front end names the setting from the field.
			if ce, ok := errors.AsType[*destination.ConfigError](err); err != nil && (!ok || strings.Contains(ce.Err.Error(), "Config")) {
				t.Errorf("New: err = %v, want a *destination.ConfigError whose words name no Go field", err)
			}
		})
	}
}

func TestDeliverExitStatusTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  int
		want    destination.Class
		wantErr string // "" for none
	}{
		{0, destination.Succeeded, ""},
		{1, destination.Temporary, "exited with status 1: said 1"},
		{2, destination.Temporary, "exited with status 2"},
		{64, destination.PermanentFailure, "exited with status 64 (EX_USAGE): said 64"},
		{65, destination.PermanentFailure, "exited with status 65 (EX_DATAERR)"},
		{75, destination.Temporary, "exited with status 75 (EX_TEMPFAIL)"},
		{77, destination.PermanentFailure, "exited with status 77 (EX_NOPERM)"},
		{78, destination.Temporary, "exited with status 78"},
		{126, destination.Temporary, "exited with status 126"},
		{255, destination.Temporary, "exited with status 255"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			dest := newDest(t, execdest.Config{Command: []string{"sh", "-c", `cat >/dev/null; echo "said $0" >&2; exit $0`, strconv.Itoa(tt.status)}})
			o := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(1)))
			if o.Class != tt.want {
				t.Errorf("classified %s (%v), want %s", o.Class, o.Err, tt.want)
			}
			if o.Result.StatusCode != tt.status || o.Result.Response != fmt.Sprintf("said %d\n", tt.status) {
				t.Errorf("Result = %+v, want status %d and its output", o.Result, tt.status)
			}
			switch {
			case tt.wantErr == "" && o.Err != nil:
				t.Errorf("err = %v, want none", o.Err)
			case tt.wantErr != "" && (o.Err == nil || !strings.Contains(o.Err.Error(), "command sh "+tt.wantErr)):
				t.Errorf("err = %v, want one containing %q", o.Err, "command sh "+tt.wantErr)
			}
		})
	}
}

func TestDeliverKilledBySignalIsTemporary(t *testing.T) {
	t.Parallel()
	dest := newDest(t, execdest.Config{Command: []string{"sh", "-c", "kill -TERM $$"}})
	o := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(1)))
	if o.Class != destination.Temporary || o.Err == nil || !strings.Contains(o.Err.Error(), "killed by signal terminated") {
		t.Fatalf("outcome %s (%v), want temporary, killed by signal terminated", o.Class, o.Err)
	}
	if o.Result.StatusCode != 0 {
		t.Errorf("StatusCode = %d for a signal, want 0", o.Result.StatusCode)
	}
}

// TestDeliverKillsTheProcessGroup runs a script that ignores stdin and
// leaves a child sleeping, both holding a FIFO open. The reader of the FIFO
// sees its end only once every process that holds it is dead: the signal
// that the whole group was killed.
func TestDeliverKillsTheProcessGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration
		cancel  bool // cancel the attempt's context once the script runs
		wantErr string
	}{
		{"at Config.Timeout", time.Second, false, "no exit within 1s; its process group was killed"},
		{"when the context is cancelled", time.Hour, true, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			script := writeScript(t, `exec 3>"$FIFO"
echo started >&3
sleep 3600 &
wait`)
			dest := newDest(t, execdest.Config{Command: []string{script}, Env: []string{"FIFO=" + fifo}, Timeout: tt.timeout})

			started, gone := make(chan struct{}), make(chan struct{})
			go func() {
				f, err := os.Open(fifo) // waits for the script to open its end
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				r := bufio.NewReader(f)
				if line, _ := r.ReadString('\n'); line == "started\n" {
					close(started)
				}
				_, _ = io.Copy(io.Discard, r)
				close(gone)
			}()

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			dl := destinationtest.NewDelivery(1)
			dl.Event.Body = bytes.Repeat([]byte("x"), 1<<20) // more than a pipe holds: stdin is never read
			done := make(chan error, 1)
			go func() { done <- dest.Deliver(ctx, dl) }()

			select {
			case <-started:
			case err := <-done:
				t.Fatalf("Deliver returned before the script started: %v", err)
			}
			if tt.cancel {
				cancel()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(tt.timeout + 30*time.Second):
				t.Fatal("Deliver did not return")
			}
			select {
			case <-gone:
			case <-time.After(30 * time.Second):
				t.Fatal("a process of the group outlived the attempt")
			}

			o := destination.Classify(err)
			if o.Class != destination.Temporary || o.Err == nil || !strings.Contains(o.Err.Error(), tt.wantErr) {
				t.Fatalf("outcome %s (%v), want temporary containing %q", o.Class, o.Err, tt.wantErr)
			}
			if !tt.cancel && !errors.Is(o.Err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want a context.DeadlineExceeded", o.Err)
			}
		})
	}
}

func TestDeliverEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dest := newDest(t, execdest.Config{
		Command: []string{"sh", "-c", `cat >/dev/null
for v in HOOKLATCH_EVENT_ID HOOKLATCH_EVENT_TYPE HOOKLATCH_SUBJECT_KIND HOOKLATCH_SUBJECT HOOKLATCH_DELIVERY_ID HOOKLATCH_ATTEMPT HOOKLATCH_DEDUPE_KEY HOOKLATCH_STALE HOOKLATCH_SUBJECT_STATUS HOOKLATCH_SOURCE EXTRA; do
	eval "printf '%s=%s\n' $v \"\$$v\""
done
printf 'pwd=%s\n' "$(pwd -P)"`},
		Env: []string{"EXTRA=from config", "HOOKLATCH_EVENT_ID=spoofed"},
		Dir: dir,
	})
	dl := destinationtest.NewDelivery(7)
	dl.Attempt = 4
	dl.Stale, dl.SubjectStatus = true, "READ"
	dl.Event.Source = "payments"
	o := destination.Classify(dest.Deliver(t.Context(), dl))
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"HOOKLATCH_EVENT_ID=" + dl.Event.ID,
		"HOOKLATCH_EVENT_TYPE=message.delivered",
		"HOOKLATCH_SUBJECT_KIND=message_id",
		"HOOKLATCH_SUBJECT=" + dl.Event.Subject,
		"HOOKLATCH_DELIVERY_ID=" + strconv.FormatInt(dl.ID, 10),
		"HOOKLATCH_ATTEMPT=4",
		"HOOKLATCH_DEDUPE_KEY=" + dl.Event.DedupeKey,
		"HOOKLATCH_STALE=true",
		"HOOKLATCH_SUBJECT_STATUS=READ",
		"HOOKLATCH_SOURCE=payments",
		"EXTRA=from config",
		"pwd=" + realDir,
	}, "\n") + "\n"
	if o.Result.Response != want {
		t.Errorf("the command saw\n%s\nwant\n%s", o.Result.Response, want)
	}
}

func TestDeliverStdinIsTheRawBody(t *testing.T) {
	t.Parallel()
	large := destinationtest.NewDelivery(2)
	large.Event.Body = make([]byte, 3<<20)
	for i := range large.Event.Body {
		large.Event.Body[i] = byte(i * 7)
	}
	tests := []struct {
		name string
		dl   *destination.Delivery
	}{
		{"sample event", destinationtest.NewDelivery(1)},
		{"3 MiB of every byte value", large},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "body")
			dest := newDest(t, execdest.Config{Command: []string{"sh", "-c", `cat > "$0"`, out}})
			if err := destination.Classify(dest.Deliver(t.Context(), tt.dl)).Err; err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.dl.Event.Body) {
				t.Fatalf("stdin differed from the body (%d bytes, want %d)", len(got), len(tt.dl.Event.Body))
			}
		})
	}
}

func TestDeliverKeepsTheOutputTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		max    int
		script string
		want   string
	}{
		{"stdout and stderr", 0, `echo out; echo err >&2`, "out\nerr\n"},
		{"the last bytes", 16, `head -c 10000 /dev/zero | tr '\0' a; echo; echo 'error: boom'`, "aaa\nerror: boom\n"},
		{"default 4096", 0, `head -c 10000 /dev/zero | tr '\0' a`, strings.Repeat("a", 4096)},
		{"a character cut in two is dropped", 5, `printf 'ééé'`, "éé"},
		{"invalid bytes", 0, `printf 'a\377b'`, "a?b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dest := newDest(t, execdest.Config{Command: []string{"sh", "-c", tt.script}, MaxOutputBytes: tt.max})
			o := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(1)))
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			if o.Result.Response != tt.want {
				t.Errorf("Response = %q, want %q", o.Result.Response, tt.want)
			}
			if !utf8.ValidString(o.Result.Response) {
				t.Error("Response is not valid UTF-8")
			}
		})
	}
}

func TestDeliverCannotStartIsTemporary(t *testing.T) {
	t.Parallel()
	script := writeScript(t, "exit 0")
	dest := newDest(t, execdest.Config{Command: []string{script}})
	if err := os.Remove(script); err != nil {
		t.Fatal(err)
	}
	o := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(1)))
	if o.Class != destination.Temporary || o.Err == nil || !strings.Contains(o.Err.Error(), "could not start") {
		t.Fatalf("outcome %s (%v), want temporary: could not start", o.Class, o.Err)
	}
}

func newDest(t *testing.T, cfg execdest.Config) *execdest.Destination {
	t.Helper()
	d, err := execdest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// writeScript writes an executable sh script into a fresh directory.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	return writeFile(t, "script.sh", "#!/bin/sh\n"+body+"\n", 0o755)
}

// writeFile holds syscall.ForkLock while the file is open for writing: a
// parallel test that forks in that moment would otherwise hand its child the
// writable descriptor until the child's exec, and running the script then
// fails with "text file busy" (ETXTBSY).
func writeFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	syscall.ForkLock.Lock()
	err := os.WriteFile(path, []byte(content), mode)
	syscall.ForkLock.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return path
}
