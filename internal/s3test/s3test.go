// Package s3test runs a real S3 server on loopback for tests: versitygw
// (github.com/versity/versitygw, Apache 2.0) with its posix backend in a
// temporary folder. The server binary is built once by scripts/setup.sh
// (go run ./internal/s3test/ensure) into the user's cache folder,
// ~/.cache/glasshouse/versitygw-VERSION/, and reused from there.
//
// Tests that need S3 call Start (or Shared); they skip, naming the reason,
// only when the binary is absent and cannot be built, or the server does not
// come up.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Version of versitygw the tests run.
const Version = "v1.8.0"

// Module is the Go package path of the server.
const Module = "github.com/versity/versitygw/cmd/versitygw"

// Credentials of the test server's root user.
const (
	AccessKey = "glasshouse-test"
	SecretKey = "glasshouse-test-secret"
	Region    = "us-east-1"
)

// CacheDir is where the built server is kept.
func CacheDir() (string, error) {
	if d := os.Getenv("GLASSHOUSE_CACHE"); d != "" {
		return filepath.Join(d, "versitygw-"+Version), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "glasshouse", "versitygw-"+Version), nil
}

// Binary returns the path of the built server, or an error saying how to
// build it.
func Binary() (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("S3 test server not built (%s missing; scripts/setup.sh builds it with `go run ./internal/s3test/ensure`)", p)
	}
	return p, nil
}

// Ensure builds the server into CacheDir if it is not there yet.
func Ensure(ctx context.Context) (string, error) {
	if p, err := Binary(); err == nil {
		return p, nil
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Build into a temporary folder and rename, so that an interrupted
	// build never leaves a half-written binary in the cache.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", Module+"@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w", Module, Version, err)
	}
	p := filepath.Join(dir, "versitygw")
	if err := os.Rename(filepath.Join(tmp, "versitygw"), p); err != nil {
		return "", err
	}
	return p, nil
}

// Server is a running S3 server.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Dir      string
	cmd      *exec.Cmd
	bin      string
	port     int
	mu       sync.Mutex
}

// Start starts a server in a new temporary folder.
func Start() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "glasshouse-s3-*")
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"data", "meta"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, port: port, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
	if err := s.Resume(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Resume starts the server process (again, after Pause) on the same port
// and folder, and waits until it accepts connections.
func (s *Server) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.bin, "--port", fmt.Sprintf("127.0.0.1:%d", s.port), "--access", AccessKey, "--secret", SecretKey,
		"--region", Region, "--quiet", "posix", "--sidecar", filepath.Join(s.Dir, "meta"), filepath.Join(s.Dir, "data"))
	log, err := os.OpenFile(filepath.Join(s.Dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start versitygw: %w", err)
	}
	log.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			b, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
			return fmt.Errorf("versitygw exited: %v: %s", err, b)
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			s.cmd = cmd
			go func() { <-done }()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	return errors.New("versitygw did not listen within 30 s")
}

// Pause kills the server process (the data stays), for fault tests.
func (s *Server) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd = nil
	}
	// Wait until the port is free again.
	for range 100 {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server and removes its folder.
func (s *Server) Stop() {
	s.Pause()
	os.RemoveAll(s.Dir)
}

// SetEnv sets the AWS credentials the SDK reads for this server.
func SetEnv(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_REGION", Region)
}

// Env is the environment a child process needs to reach the server.
func Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_SECRET_ACCESS_KEY=" + SecretKey, "AWS_REGION=" + Region}
}

// NewBucket creates a bucket with a random name and returns its s3:// URL
// for blobstore.Open (path-style, this endpoint).
func (s *Server) NewBucket(ctx context.Context) (string, error) {
	var b [6]byte
	rand.Read(b[:])
	name := "gh-" + hex.EncodeToString(b[:])
	cl := s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return "", fmt.Errorf("create bucket %s: %w", name, err)
	}
	q := url.Values{}
	q.Set("endpoint", s.Endpoint)
	q.Set("region", Region)
	q.Set("use_path_style", "true")
	return "s3://" + name + "?" + q.Encode(), nil
}

var (
	mu      sync.Mutex
	shared  *Server
	skipWhy string
)

// Shared returns the package's server, starting it on first use, with the
// AWS credentials set in t's environment; it skips t with the reason when
// the server cannot be started.
func Shared(t testing.TB) *Server {
	t.Helper()
	mu.Lock()
	if shared == nil && skipWhy == "" {
		s, err := Start()
		if err != nil {
			skipWhy = err.Error()
		} else {
			shared = s
		}
	}
	s := shared
	mu.Unlock()
	if s == nil {
		t.Skipf("S3 server cannot be started: %s", skipWhy)
	}
	SetEnv(t)
	return s
}

// NewBucketURL returns the URL of a fresh bucket on the shared server.
func NewBucketURL(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := s.NewBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// StopShared stops the shared server (call from TestMain after m.Run).
func StopShared() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
