//go:build !unix

package train

import (
	"os/exec"
	"time"
)

func setProcessGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd, _ time.Duration, waited <-chan error) {
	_ = cmd.Process.Kill()
	<-waited
}
