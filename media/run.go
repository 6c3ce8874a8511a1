// Package media wraps the external programs glasshouse runs on media
// (ffprobe, ffmpeg, and the analyzer engines): every call has a timeout and
// a bound on the memory the process may map.
package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Limits bounds an external process.
type Limits struct {
	Timeout  time.Duration // 0: no timeout (avoid)
	MaxBytes int64         // address-space limit (prlimit --as); 0: none
}

// DefaultLimits are used when a caller passes the zero Limits.
var defaultLimits = Limits{Timeout: 10 * time.Minute, MaxBytes: 4 << 30}

// DefaultLimits returns the limits used for the zero value.
func DefaultLimits() Limits { return defaultLimits }

// Command builds an exec.Cmd for name args under l: it is killed when ctx is
// done or the timeout passes, and its address space is capped with prlimit.
// The returned cancel func must be called when the process is finished.
func Command(ctx context.Context, l Limits, name string, args ...string) (*exec.Cmd, context.CancelFunc) {
	if l == (Limits{}) {
		l = defaultLimits
	}
	cancel := context.CancelFunc(func() {})
	if l.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, l.Timeout)
	}
	var cmd *exec.Cmd
	if l.MaxBytes > 0 {
		if p, err := exec.LookPath("prlimit"); err == nil {
			full := append([]string{"--as=" + strconv.FormatInt(l.MaxBytes, 10), "--", name}, args...)
			cmd = exec.CommandContext(ctx, p, full...)
		}
	}
	if cmd == nil {
		cmd = exec.CommandContext(ctx, name, args...)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd, cancel
}

// Run runs name args under l and returns its standard output. A failure
// names the program and carries the tail of its standard error.
func Run(ctx context.Context, l Limits, name string, args ...string) ([]byte, error) {
	cmd, cancel := Command(ctx, l, name, args...)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &tailBuffer{max: 4096, buf: &stderr}
	err := cmd.Run()
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return stdout.Bytes(), fmt.Errorf("%s: %w", name, ctxErr)
		}
		if cmd.ProcessState != nil && !cmd.ProcessState.Success() && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			return stdout.Bytes(), fmt.Errorf("%s: timed out after %s", name, l.Timeout)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return stdout.Bytes(), fmt.Errorf("%s: %w: %s", name, err, msg)
		}
		return stdout.Bytes(), fmt.Errorf("%s: %w", name, err)
	}
	return stdout.Bytes(), nil
}

// tailBuffer keeps only the last max bytes written.
type tailBuffer struct {
	max int
	buf *bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if t.buf.Len() > t.max {
		b := t.buf.Bytes()
		keep := append([]byte(nil), b[len(b)-t.max:]...)
		t.buf.Reset()
		t.buf.Write(keep)
	}
	return len(p), nil
}

type bytesBuffer = bytes.Buffer
