package motoserver

import (
	"os/exec"
	"syscall"
)

// setPdeathsig has the kernel kill moto when the test binary dies.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
