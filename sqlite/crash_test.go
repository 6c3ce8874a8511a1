package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/audit"
	"github.com/glasshouse/glasshouse/catalogtest"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/sqlite"
)

// The durability tests re-execute this test binary as a child process that
// works on the database and is killed with SIGKILL mid-work; the parent then
// reopens the file and checks what survived.

const (
	envMode  = "GLASSHOUSE_SQLITE_CRASH_CHILD"
	envDB    = "GLASSHOUSE_SQLITE_CRASH_DB"
	envLease = "GLASSHOUSE_SQLITE_CRASH_LEASE"
)

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(envMode)
	if mode == "" {
		t.Skip("only run as the child of a crash test")
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, os.Getenv(envDB), nil)
	if err != nil {
		fmt.Printf("ERROR %v\n", err)
		os.Exit(2)
	}
	switch mode {
	case "claim":
		lease, _ := time.ParseDuration(os.Getenv(envLease))
		ls, err := db.Claim(ctx, []string{"ocr"}, 1, lease)
		if err != nil || len(ls) != 1 {
			fmt.Printf("ERROR claim: %d %v\n", len(ls), err)
			os.Exit(2)
		}
		l := ls[0]
		if err := db.SetProgress(ctx, l, 0.3); err != nil {
			fmt.Printf("ERROR progress: %v\n", err)
			os.Exit(2)
		}
		fmt.Printf("CLAIMED %d %s %d\n", l.Job.ID, l.Token, l.Expires.UnixNano())
		// Mid-job: keep writing progress until killed.
		for i := 0; ; i++ {
			if err := db.SetProgress(ctx, l, 0.3+float64(i%100)/1000); err != nil {
				fmt.Printf("ERROR progress: %v\n", err)
				os.Exit(2)
			}
		}
	case "insert":
		for i := 0; ; i++ {
			a := catalogtest.NewAsset("default", fmt.Sprintf("crash-%d", i))
			jobs := []glasshouse.Job{{Kind: "ocr", Version: "1"}, {Kind: "speech", Version: "1"}}
			if err := db.CreateAsset(ctx, a, jobs, glasshouse.NewEvent(glasshouse.System("default"), "upload", string(a.ID), nil)); err != nil {
				fmt.Printf("ERROR create: %v\n", err)
				os.Exit(2)
			}
			fmt.Printf("COMMITTED %d %s\n", i, a.ID)
		}
	}
}

// crashChild starts the child in mode on path, hands each stdout line to
// onLine until it returns true, then SIGKILLs the child and waits for it.
func crashChild(t *testing.T, mode, path, lease string, onLine func(fields []string) bool) {
	t.Helper()
	ctx := context.Background()
	cmd, cancel := media.Command(ctx, media.Limits{Timeout: 2 * time.Minute, MaxBytes: 8 << 30},
		os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	defer cancel()
	cmd.Env = append(os.Environ(), envMode+"="+mode, envDB+"="+path, envLease+"="+lease)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	sc := bufio.NewScanner(out)
	done := false
	for !done && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "ERROR" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child: %s", sc.Text())
		}
		if len(f) > 0 && (f[0] == "CLAIMED" || f[0] == "COMMITTED") {
			done = onLine(f)
		}
	}
	if !done {
		cmd.Wait()
		t.Fatalf("child ended before it was killed: %v", sc.Err())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	go io.Copy(io.Discard, out)
	err = cmd.Wait()
	if st := cmd.ProcessState; st == nil || st.Success() || !strings.Contains(st.String(), "killed") {
		t.Fatalf("child was not killed: %v %v", st, err)
	}
}

func reopenChecked(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.IntegrityCheck(context.Background()); err != nil {
		t.Fatalf("after kill: %v", err)
	}
	return db
}

func verifyChain(t *testing.T, db *sqlite.DB, events int) {
	t.Helper()
	rep, err := audit.Verify(context.Background(), db)
	if err != nil || !rep.OK || rep.Events != events {
		t.Fatalf("audit chain after kill: %+v %v (want %d events)", rep, err, events)
	}
}

func setupClaimable(t *testing.T) (string, glasshouse.AssetID) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crash.db")
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := mkAsset(t, db, "ocr")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, a.ID
}

func TestCrashMidJobLeaseExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	path, asset := setupClaimable(t)
	var jobID int64
	var expires time.Time
	crashChild(t, "claim", path, "3s", func(f []string) bool {
		jobID, _ = strconv.ParseInt(f[1], 10, 64)
		ns, _ := strconv.ParseInt(f[3], 10, 64)
		expires = time.Unix(0, ns)
		time.Sleep(100 * time.Millisecond) // let it write progress for a while
		return true
	})
	db := reopenChecked(t, path)
	js, err := db.Jobs(ctx, "default", asset)
	if err != nil || len(js) != 1 || js[0].ID != jobID || js[0].State != glasshouse.JobRunning || js[0].Attempts != 1 || js[0].Progress < 0.3 {
		t.Fatalf("job after kill: %+v %v", js, err)
	}
	if time.Now().Before(expires.Add(-time.Second)) {
		if ls, err := db.Claim(ctx, []string{"ocr"}, 10, time.Hour); err != nil || len(ls) != 0 {
			t.Fatalf("claimed a job whose lease is still held: %d %v", len(ls), err)
		}
	}
	time.Sleep(time.Until(expires) + 50*time.Millisecond)
	ls, err := db.Claim(ctx, []string{"ocr"}, 10, time.Hour)
	if err != nil || len(ls) != 1 || ls[0].Job.ID != jobID || ls[0].Job.Attempts != 2 {
		t.Fatalf("reclaim after lease expiry: %+v %v", ls, err)
	}
	if again, err := db.Claim(ctx, []string{"ocr"}, 10, time.Hour); err != nil || len(again) != 0 {
		t.Fatalf("job claimed twice: %d %v", len(again), err)
	}
	if err := db.Ack(ctx, ls[0]); err != nil {
		t.Fatal(err)
	}
	verifyChain(t, db, 1)
}

func TestCrashMidJobResetRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	path, _ := setupClaimable(t)
	var jobID int64
	crashChild(t, "claim", path, "1h", func(f []string) bool {
		jobID, _ = strconv.ParseInt(f[1], 10, 64)
		time.Sleep(100 * time.Millisecond)
		return true
	})
	db := reopenChecked(t, path)
	if ls, err := db.Claim(ctx, []string{"ocr"}, 10, time.Hour); err != nil || len(ls) != 0 {
		t.Fatalf("claimed a leased job: %d %v", len(ls), err)
	}
	n, err := db.ResetRunning(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ResetRunning: %d %v", n, err)
	}
	ls, err := db.Claim(ctx, []string{"ocr"}, 10, time.Hour)
	if err != nil || len(ls) != 1 || ls[0].Job.ID != jobID || ls[0].Job.Attempts != 2 {
		t.Fatalf("claim after ResetRunning: %+v %v", ls, err)
	}
	if again, err := db.Claim(ctx, []string{"ocr"}, 10, time.Hour); err != nil || len(again) != 0 {
		t.Fatalf("job claimed twice: %d %v", len(again), err)
	}
	verifyChain(t, db, 1)
}

func TestCrashMidInsert(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crash.db")
	committed := map[glasshouse.AssetID]int{}
	crashChild(t, "insert", path, "", func(f []string) bool {
		i, _ := strconv.Atoi(f[1])
		committed[glasshouse.AssetID(f[2])] = i
		return len(committed) >= 150
	})
	db := reopenChecked(t, path)
	var assets, jobs, events, badAssets, orphanJobs int
	q := db.SQL()
	for _, c := range []struct {
		sql string
		dst *int
	}{
		{`SELECT count(*) FROM gh_assets`, &assets},
		{`SELECT count(*) FROM gh_jobs`, &jobs},
		{`SELECT count(*) FROM gh_audit`, &events},
		{`SELECT count(*) FROM gh_assets a WHERE (SELECT count(*) FROM gh_jobs j WHERE j.asset = a.id) <> 2
			OR NOT EXISTS (SELECT 1 FROM gh_audit e WHERE e.target = a.id AND e.action = 'upload')`, &badAssets},
		{`SELECT count(*) FROM gh_jobs j WHERE NOT EXISTS (SELECT 1 FROM gh_assets a WHERE a.id = j.asset)`, &orphanJobs},
	} {
		if err := q.QueryRowContext(ctx, c.sql).Scan(c.dst); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("child acknowledged %d assets before SIGKILL; %d on disk", len(committed), assets)
	// Every acknowledged asset survived. More may exist: the child goes on
	// committing while the parent reads its acknowledgements and sends the
	// kill; those must be whole too (checked below).
	for id, i := range committed {
		a, err := db.GetAsset(ctx, "default", id)
		if err != nil || a.Name != fmt.Sprintf("crash-%d", i) {
			t.Fatalf("acknowledged asset %d lost: %v", i, err)
		}
	}
	if assets < len(committed) {
		t.Fatalf("%d assets on disk, %d acknowledged", assets, len(committed))
	}
	if badAssets != 0 || orphanJobs != 0 || jobs != 2*assets || events != assets {
		t.Fatalf("half-written rows: %d assets without their 2 jobs and event, %d orphan jobs, %d jobs, %d events for %d assets",
			badAssets, orphanJobs, jobs, events, assets)
	}
	verifyChain(t, db, assets)
	// The database takes writes again.
	mkAsset(t, db, "ocr")
	verifyChain(t, db, assets+1)
}
