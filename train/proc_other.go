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

// recordPid and stopOrphan are Unix-only: elsewhere a retried attempt
// cannot stop a trainer its crashed worker left behind.
func recordPid(string, int) {}

func stopOrphan(string, time.Duration) (int, bool) { return 0, false }
