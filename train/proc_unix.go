//go:build unix

package train

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// recordPid writes the trainer's pid and its start time (so a recycled pid
// is not mistaken for it) into dir.
func recordPid(dir string, pid int) {
	_ = os.WriteFile(filepath.Join(dir, PidFile), []byte(fmt.Sprintf("%d %s\n", pid, procStart(pid))), 0o644)
}

// procStart is the process's start time in clock ticks since boot (field 22
// of /proc/<pid>/stat), "" where /proc is not available.
func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may contain spaces; fields after it don't.
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 20 {
		return ""
	}
	return f[19] // field 22 overall
}

// stopOrphan stops the process group recorded in dir by an earlier attempt
// if it is still the same process, and waits for it to go.
func stopOrphan(dir string, grace time.Duration) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, PidFile))
	if err != nil {
		return 0, false
	}
	var pid int
	var start string
	if n, _ := fmt.Sscan(string(b), &pid, &start); n < 1 || pid <= 1 {
		return 0, false
	}
	if syscall.Kill(pid, 0) != nil || (start != "" && procStart(pid) != start) {
		return pid, false // gone, or the pid was reused
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	killAt, giveUpAt := time.Now().Add(grace), time.Now().Add(grace+5*time.Second)
	// Until the group is gone; a zombie that nobody reaps yet still counts
	// as a member, hence the bound.
	for syscall.Kill(-pid, 0) == nil && time.Now().Before(giveUpAt) {
		if time.Now().After(killAt) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return pid, true
}
