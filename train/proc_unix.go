//go:build unix

package train

import (
	"os/exec"
	"syscall"
	"time"
)

func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup sends SIGTERM to the command's process group, SIGKILL after
// grace, and waits for the command to exit.
func killGroup(cmd *exec.Cmd, grace time.Duration, waited <-chan error) {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-waited:
		// The leader is gone; children that ignored SIGTERM are not.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-waited
	}
}
