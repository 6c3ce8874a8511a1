// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb
// with trust authentication into a temporary folder, a postmaster listening
// on 127.0.0.1 and a free port, and one fresh database per caller. As root
// the cluster runs as the "postgres" user (runuser), since PostgreSQL
// refuses to run as root.
//
// Tests call Main from TestMain so that the cluster is stopped at the end;
// when the PostgreSQL binaries are missing they skip with the reason.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	Dir  string // data and socket folder
	Port int
	bin  string
	run  []string // prefix to run a command as the cluster owner
}

var (
	mu      sync.Mutex
	shared  *Cluster
	skipWhy string
)

// BinDir finds the PostgreSQL server binaries (initdb, pg_ctl, postgres).
func BinDir() (string, error) {
	if d := os.Getenv("GLASSHOUSE_PG_BIN"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	for i := len(matches) - 1; i >= 0; i-- {
		return filepath.Dir(matches[i]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries not found (Debian package postgresql; or set GLASSHOUSE_PG_BIN)")
}

// Start starts a new cluster. Call Stop when done.
func Start() (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "glasshouse-pg-*")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and no postgres user to own the cluster: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.run = []string{"runuser", "-u", "postgres", "--"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := filepath.Join(dir, "data")
	if out, err := c.cmd(ctx, filepath.Join(bin, "initdb"), "-D", data, "--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	for attempt := 0; attempt < 5; attempt++ {
		c.Port, err = freePort()
		if err != nil {
			c.Stop()
			return nil, err
		}
		opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.Port, dir)
		out, err := c.cmd(ctx, filepath.Join(bin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start").CombinedOutput()
		if err == nil {
			return c, nil
		}
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		if !strings.Contains(string(log), "in use") {
			c.Stop()
			return nil, fmt.Errorf("pg_ctl start: %w: %s %s", err, out, log)
		}
	}
	c.Stop()
	return nil, errors.New("pg_ctl start: no free port")
}

func (c *Cluster) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	all := append(append(append([]string{}, c.run...), name), args...)
	cmd := exec.CommandContext(ctx, all[0], all[1:]...)
	cmd.Dir = c.Dir
	return cmd
}

// Pause stops the server (fast shutdown) without removing its data, for
// fault tests; Resume starts it again on the same port.
func (c *Cluster) Pause() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.cmd(ctx, filepath.Join(c.bin, "pg_ctl"), "-D", filepath.Join(c.Dir, "data"), "-m", "fast", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return nil
}

// Resume restarts a paused server on the same port.
func (c *Cluster) Resume() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.Port, c.Dir)
	out, err := c.cmd(ctx, filepath.Join(c.bin, "pg_ctl"), "-D", filepath.Join(c.Dir, "data"), "-o", opts, "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "60", "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %w: %s", err, out)
	}
	return nil
}

// Stop stops the server and removes its folder.
func (c *Cluster) Stop() {
	if c.Port != 0 {
		_ = c.Pause()
	}
	os.RemoveAll(c.Dir)
}

// DSN returns the URL of database name on the cluster.
func (c *Cluster) DSN(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, name)
}

// NewDatabase creates an empty database and returns its URL.
func (c *Cluster) NewDatabase(ctx context.Context) (string, error) {
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return c.DSN(name), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Shared returns the package's cluster, starting it on first use, or skips
// t with the reason the server cannot be started.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if shared == nil && skipWhy == "" {
		c, err := Start()
		if err != nil {
			skipWhy = err.Error()
		} else {
			shared = c
		}
	}
	if shared == nil {
		t.Skipf("PostgreSQL cannot be started: %s", skipWhy)
	}
	return shared
}

// NewDB returns the URL of a fresh database on the shared cluster.
func NewDB(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, err := c.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Main runs the tests and stops the shared cluster afterwards.
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
	mu.Unlock()
	return code
}
