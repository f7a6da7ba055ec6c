//go:build unix

package execdest

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// killProcessGroup starts cmd in a process group of its own and makes
// cancellation kill the whole group, so a shell's children die with it.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}
