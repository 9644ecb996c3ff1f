package motoserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region the clients of Config use.
const Region = "us-east-1"

// Server is a running moto server.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:<port>.
	URL string
	cmd *exec.Cmd
	log *strings.Builder
}

var (
	mu       sync.Mutex
	shared   *Server
	startErr error
	absent   bool
)

// Python is the interpreter that runs moto (the one on PATH; moto is not
// in Debian's python3).
var Python = "python3"

// Start returns the binary's moto server, starting it on first use. It
// skips t when moto is not installed (fails under CI=true) and fails t when
// moto is installed but does not start.
func Start(t testing.TB) *Server {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if shared == nil && startErr == nil && !absent {
		if err := exec.Command(Python, "-c", "import moto.server").Run(); err != nil {
			absent = true
		} else {
			shared, startErr = start()
		}
	}
	switch {
	case absent && os.Getenv("CI") == "true":
		t.Fatalf("moto is not installed for %s (CI must run the moto-backed tests): the image's python3 ships moto 5.2.1", Python)
	case absent:
		t.Skipf("moto is not installed for %s: skipping a test against moto (`python3 -m moto.server`)", Python)
	case startErr != nil:
		t.Fatalf("start moto: %v", startErr)
	}
	return shared
}

// Main runs the tests and stops the server; use it as
// `func TestMain(m *testing.M) { os.Exit(motoserver.Main(m)) }`.
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the binary's server, if it started one.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.stop()
		shared = nil
	}
}

func start() (*Server, error) {
	var lastErr error
	for range 3 { // a free port can be taken between choosing and binding it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), log: &strings.Builder{}}
		s.cmd = exec.Command(Python, "-m", "moto.server", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
		s.cmd.Stdout, s.cmd.Stderr = &syncWriter{b: s.log}, &syncWriter{b: s.log}
		setPdeathsig(s.cmd) // never outlive a test binary that dies without Stop
		if err := s.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s -m moto.server: %w", Python, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- s.cmd.Wait() }()
		if err := s.waitReady(exited, 60*time.Second); err != nil {
			s.stop()
			lastErr = fmt.Errorf("%w\n%s", err, s.log.String())
			continue
		}
		return s, nil
	}
	return nil, lastErr
}

func (s *Server) waitReady(exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("moto exited before it was ready: %v", err)
		default:
		}
		resp, err := http.Get(s.URL + "/moto-api/data.json")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("moto was not ready within " + timeout.String())
}

func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_, _ = s.cmd.Process.Wait()
}

// Config is an AWS configuration for the server: static test credentials,
// Region, no retries beyond the first attempt's (tests see moto's answers).
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		RetryMaxAttempts: 1,
	}
}

// Env sets the AWS environment for code that loads the default credential
// chain (store.New): static credentials, no shared files, no instance
// metadata. Tests that call it must not run in parallel.
func Env(t testing.TB) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": Region,
	} {
		t.Setenv(k, v)
	}
}

// Reset clears everything stored in the server (buckets, jobs, endpoints).
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto reset: %s", resp.Status)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() > 64<<10 { // keep the start: that is where a failure to start shows
		return len(p), nil
	}
	return w.b.Write(p)
}
