package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

func openOwner(path string) (*sqlite.Store, error) {
	return sqlite.Open(context.Background(), path, sqlite.Options{Exclusive: true, Logger: slog.New(slog.DiscardHandler)})
}

// Two owners of one file cannot run at once, in one process or in two:
// the second is refused with an error naming the first one's process, and
// may start once the first has closed.
func TestSecondOwnerRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	first, err := openOwner(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = openOwner(path)
	var inUse *sqlite.InUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() {
		first.Close()
		t.Fatalf("second owner's Open: err = %v, want an InUseError naming pid %d", err, os.Getpid())
	}
	if want := fmt.Sprintf("store %s is in use by another hooklatch (pid %d)", path, os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}

	// A command that is not the owner opens the file beside it.
	cmd, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("a non-owner beside the owner: %v", err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := openOwner(path)
	if err != nil {
		t.Fatalf("owner after the first closed: %v", err)
	}
	again.Close()
}

// ownerEnv makes the test binary an owner of the store it names, one that
// leaves a delivery in flight and waits to be killed.
const ownerEnv = "HOOKLATCH_TEST_SQLITE_OWNER"

func TestOwnerProcess(t *testing.T) {
	path := os.Getenv(ownerEnv)
	if path == "" {
		t.Skip("the owner process of TestOwnerLockDiesWithItsProcess and TestOwnerReleasesWhatItsKilledPredecessorHeld")
	}
	ctx := context.Background()
	s, err := openOwner(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	ev := storetest.NewEvent("sent", "in-flight")
	ev.Destinations = []string{"app"}
	if _, err := s.Append(ctx, ev); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	claims, err := s.Claim(ctx, store.ClaimParams{Owner: "killed", Now: time.Now(), Lease: time.Hour})
	if err != nil || len(claims) != 1 {
		fmt.Println("error: claim:", claims, err)
		os.Exit(1)
	}
	fmt.Println("claimed", claims[0].Delivery.ID)
	select {} // until killed
}

// startOwner runs TestOwnerProcess in a child process on path and returns
// it, with the id of the delivery it holds, once it owns the store.
func startOwner(t *testing.T, path string) (*exec.Cmd, int64) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the owner's lock is an flock")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOwnerProcess$")
	cmd.Env = append(os.Environ(), ownerEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	id, perr := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(line), "claimed "), 10, 64)
	if err != nil || perr != nil {
		t.Fatalf("owner process: %q %v", line, err)
	}
	return cmd, id
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no Close runs
		t.Fatal(err)
	}
	cmd.Wait()
}

// The lock dies with its holder, however it dies.
func TestOwnerLockDiesWithItsProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	child, _ := startOwner(t, path)

	_, err := openOwner(path)
	var inUse *sqlite.InUseError
	if !errors.As(err, &inUse) || inUse.PID != child.Process.Pid {
		t.Fatalf("Open while another process owns the store: err = %v, want an InUseError naming pid %d", err, child.Process.Pid)
	}
	kill(t, child)
	s, err := openOwner(path)
	if err != nil {
		t.Fatalf("Open after the owner was killed: %v", err)
	}
	s.Close()
}

// A delivery a killed owner held is due again as soon as the next owner
// opens the store, not once its lease runs out; its lost attempt is on
// record. A command that is not the owner leaves it alone.
func TestOwnerReleasesWhatItsKilledPredecessorHeld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	child, id := startOwner(t, path)
	kill(t, child)

	cmd, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dls, err := cmd.ListDeliveries(ctx, store.DeliveryFilter{})
	cmd.Close()
	if err != nil || len(dls) != 1 || dls[0].Status != store.DeliveryInFlight {
		t.Fatalf("after a non-owner's Open: deliveries = %+v, %v; want the one still in flight", dls, err)
	}

	s, err := openOwner(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	claims, err := s.Claim(ctx, store.ClaimParams{Owner: "next", Now: time.Now(), Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 1 || claims[0].Delivery.ID != id || claims[0].Delivery.Attempts != 1 {
		t.Fatalf("claims = %+v, want delivery %d with its lost attempt counted", claims, id)
	}
	attempts, err := s.ListAttempts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 1 || attempts[0].Outcome != store.OutcomeLeaseExpired {
		t.Errorf("attempts = %+v, want the lost one", attempts)
	}
}
