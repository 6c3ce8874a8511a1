package blobstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/blobstore/blobstoretest"
	"github.com/glasshouse/glasshouse/media"
)

// crashChildEnv switches the test binary into the crash child: it names the
// store directory the child writes to.
const crashChildEnv = "GLASSHOUSE_BLOBSTORE_CRASH_CHILD"

// slowReader is a deterministic endless-enough stream that pauses between
// chunks, like a slow upload.
type slowReader struct {
	r     io.Reader
	pause time.Duration
}

func (s slowReader) Read(p []byte) (int, error) {
	if len(p) > 256<<10 {
		p = p[:256<<10]
	}
	time.Sleep(s.pause)
	return s.r.Read(p)
}

// TestCrashChild is the child half of TestCrashMidPut; it does nothing in a
// normal run. It stores one complete blob, says so on stdout, then streams
// a large slow blob until it is killed.
func TestCrashChild(t *testing.T) {
	root := os.Getenv(crashChildEnv)
	if root == "" {
		t.Skip("only runs as the child of TestCrashMidPut")
	}
	ctx := context.Background()
	s, err := Open(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := s.Put(ctx, bytes.NewReader(blobstoretest.Bytes(1, 3<<20)))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("COMPLETE %s\n", ref)
	// 4 GB at 256 KB per 2 ms: far longer than the parent waits.
	_, _, err = s.Put(ctx, slowReader{blobstoretest.NewReader(2, 4<<30), 2 * time.Millisecond})
	t.Fatalf("slow Put returned (%v); the parent should have killed us", err)
}

// TestCrashMidPut kills a real process with SIGKILL in the middle of a Put
// and checks that the store holds no partial blob and that Open removes the
// left-over temporary.
func TestCrashMidPut(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	root := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, stop := media.Command(ctx, media.Limits{Timeout: 2 * time.Minute, MaxBytes: 8 << 30},
		exe, "-test.run=^TestCrashChild$", "-test.v")
	defer stop()
	cmd.Env = append(os.Environ(), crashChildEnv+"="+root)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	// Wait for the complete blob to be reported.
	var complete glasshouse.Ref
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "COMPLETE" {
			complete = glasshouse.Ref(f[1])
			break
		}
	}
	if complete == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		waited = true
		t.Fatalf("child did not store its first blob; stderr:\n%s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)

	// Wait until the slow upload's temporary holds at least 16 MB, then
	// kill the child without warning.
	tmpDir := filepath.Join(root, "tmp")
	var partial int64
	for partial < 16<<20 {
		if ctx.Err() != nil {
			t.Fatalf("temporary never reached 16 MB (%d bytes)", partial)
		}
		for _, e := range mustReadDir(t, tmpDir) {
			if fi, err := e.Info(); err == nil {
				partial = max(partial, fi.Size())
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	waited = true
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	t.Logf("killed child with a %d MB partial upload", partial>>20)

	if n := len(mustReadDir(t, tmpDir)); n != 1 {
		t.Fatalf("%d temporaries after the crash, want the 1 left by the killed upload", n)
	}
	// Every file under sha256/ must be complete: it re-hashes to its name.
	var blobs []string
	err = filepath.WalkDir(filepath.Join(root, "sha256"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != filepath.Base(p) {
			t.Errorf("partial blob under sha256/: %s hashes to %s", p, got)
		}
		blobs = append(blobs, filepath.Base(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 1 || blobs[0] != complete.Hex() {
		t.Fatalf("blobs after crash = %v, want just %s", blobs, complete.Hex())
	}

	// Open with a zero grace period removes the left-over temporary; the
	// complete blob is intact.
	s := openT(t, root, WithTempGrace(0))
	defer s.Close()
	if n := len(mustReadDir(t, tmpDir)); n != 0 {
		t.Fatalf("%d temporaries after Open with zero grace", n)
	}
	if err := s.Verify(context.Background(), complete); err != nil {
		t.Fatalf("Verify(complete blob) after crash: %v", err)
	}
}
