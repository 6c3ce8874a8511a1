package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pgtest"
	"github.com/glasshouse/glasshouse/internal/s3test"
	"github.com/glasshouse/glasshouse/postgres"
)

// worker is a `glasshouse worker` process; log holds what it printed.
type worker struct {
	cmd *exec.Cmd
	log *logBuffer
}

func startWorker(t *testing.T, args ...string) *worker {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"worker"}, args...)...)
	lb := &logBuffer{t: t}
	cmd.Stdout = lb
	cmd.Stderr = lb
	must(t, cmd.Start())
	w := &worker{cmd: cmd, log: lb}
	t.Cleanup(w.kill)
	return w
}

// logBuffer keeps a process's output (and shows it with -v).
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	if testing.Verbose() {
		l.t.Logf("worker: %s", strings.TrimSpace(string(p)))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the lines that contain every one of subs.
func (l *logBuffer) lines(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func (w *worker) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	must(t, w.cmd.Process.Signal(sig))
}

func (w *worker) kill() {
	if w.cmd.ProcessState == nil {
		w.cmd.Process.Signal(syscall.SIGKILL)
		w.cmd.Wait()
	}
}

type apiJob struct {
	Kind      string `json:"kind"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

func (s *server) jobs(t *testing.T, id string) []apiJob {
	t.Helper()
	var js []apiJob
	s.getJSON(t, "/api/assets/"+id+"/jobs", &js)
	return js
}

func (s *server) uploadFile(t *testing.T, path string) (string, int, string) {
	t.Helper()
	body, err := os.ReadFile(path)
	must(t, err)
	resp, err := s.upload(t, filepath.Base(path), bytes.NewReader(body), int64(len(body)))
	must(t, err)
	defer resp.Body.Close()
	var out struct {
		ID    string `json:"id"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return out.ID, resp.StatusCode, out.Error.Code
}

// waitJobs waits until no job of the asset is queued or running.
func (s *server) waitJobs(t *testing.T, id string, d time.Duration) []apiJob {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		js := s.jobs(t, id)
		busy := len(js) == 0
		for _, j := range js {
			if j.State == "queued" || j.State == "running" {
				busy = true
			}
		}
		if !busy {
			return js
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs still busy after %s: %+v", d, js)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func scaleClip(t *testing.T, dir string, loops int) string {
	t.Helper()
	const font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
	if _, err := os.Stat(font); err != nil {
		t.Skip("fonts-dejavu-core not installed")
	}
	dt := func(text string) string {
		return "drawtext=fontfile=" + font + ":text='" + text + "':fontsize=48:fontcolor=white:box=1:boxcolor=black@0.8:x=(w-tw)/2:y=h-120"
	}
	clip := filepath.Join(dir, "clip.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=4,"+dt("EVACUATION ROUTE NORTH"),
		"-f", "lavfi", "-i", "color=c=darkgreen:size=1280x720:rate=25:duration=4,"+dt("CITY COUNCIL MEETING"),
		"-f", "lavfi", "-i", "flite=text='the council will meet at noon to discuss the evacuation route':voice=slt",
		"-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v];[2:a]aresample=16000,apad,atrim=0:8[a]",
		"-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "8", clip)
	if loops == 0 {
		return clip
	}
	long := filepath.Join(dir, "long.mp4")
	ffmpeg(t, "-stream_loop", fmt.Sprint(loops), "-i", clip, "-c", "copy", long)
	return long
}

// TestScaleKillWorkerMidJob: API-only server and a worker process on
// PostgreSQL (River) + S3; the worker is killed with SIGKILL while an OCR
// or speech job runs; a second worker process (another machine) takes the
// job over once its lease expires, and its result is stored once.
func TestScaleKillWorkerMidJob(t *testing.T) {
	dsn := pgtest.NewDB(t)
	bucket := s3test.NewBucketURL(t) // sets the AWS credentials children inherit
	dir := t.TempDir()
	long := scaleClip(t, dir, 5)
	backend := []string{"--db", dsn, "--blobs", bucket}
	srv := startServer(t, filepath.Join(dir, "api"), append(backend, "--no-workers")...)
	id, code, _ := srv.uploadFile(t, long)
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("upload: HTTP %d", code)
	}
	w1 := startWorker(t, append(backend, "--data", filepath.Join(dir, "w1"), "--lease", "3s")...)
	var killed string
	deadline := time.Now().Add(3 * time.Minute)
	for killed == "" && time.Now().Before(deadline) {
		for _, j := range srv.jobs(t, id) {
			if j.State == "running" && (j.Kind == "ocr" || j.Kind == "speech") {
				killed = j.Kind
			}
		}
		if killed == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if killed == "" {
		t.Fatal("no OCR or speech job seen running")
	}
	time.Sleep(500 * time.Millisecond)
	w1.kill()
	startWorker(t, append(backend, "--data", filepath.Join(dir, "w2"), "--lease", "3s")...)
	final := srv.waitJobs(t, id, 6*time.Minute)
	for _, j := range final {
		if j.State != "done" {
			t.Errorf("job %s ended %s (%s)", j.Kind, j.State, j.LastError)
		}
		if j.Kind == killed && j.Attempts != 2 {
			t.Errorf("killed job %s ran %d times, want 2", j.Kind, j.Attempts)
		}
	}
	var evs []struct {
		Action string          `json:"action"`
		Detail json.RawMessage `json:"detail"`
	}
	srv.getJSON(t, "/api/audit?limit=10000", &evs)
	n := 0
	for _, e := range evs {
		if e.Action == "analyze" && strings.Contains(string(e.Detail), `"analyzer":"`+killed+`"`) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d analyze events for %s, want 1 (results written once)", n, killed)
	}
	var ins struct {
		OCR []struct {
			Text    string `json:"text"`
			StartMS int64  `json:"start_ms"`
		} `json:"ocr"`
	}
	srv.getJSON(t, "/api/assets/"+id+"/insights", &ins)
	seen := map[string]bool{}
	for _, o := range ins.OCR {
		k := fmt.Sprint(o.Text, o.StartMS)
		if seen[k] {
			t.Errorf("OCR entry %q at %d stored twice", o.Text, o.StartMS)
		}
		seen[k] = true
	}
}

// TestScaleStaleWorker is the fault test of the River lease race: worker
// process w1 runs an OCR job and is paused (SIGSTOP) until its lease
// expires; worker w2 (another machine) takes the job over and is paused
// in turn, mid-job, with a lease long enough to outlast the pause; w1 is
// resumed (SIGCONT) while w2 still runs the job, finds its lease lost and
// returns from River's Work; only then is w2 resumed to finish. Before
// the fix w1's return let River's completer finalise the row w2 was
// running (the job re-ran a third time or its state was wrong, and w2's
// outcome was lost). Now: the expired row is cancelled and superseded by
// a new row, which ends completed after 2 attempts; w1 stores no result
// and records no failure (one analyze audit event, no duplicate OCR
// entries, the run is done); the job list shows the job once, done.
func TestScaleStaleWorker(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	bucket := s3test.NewBucketURL(t)
	dir := t.TempDir()
	long := scaleClip(t, dir, 5)
	backend := []string{"--db", dsn, "--blobs", bucket}
	srv := startServer(t, filepath.Join(dir, "api"), append(backend, "--no-workers")...)
	id, code, _ := srv.uploadFile(t, long)
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("upload: HTTP %d", code)
	}
	db, err := postgres.Open(ctx, dsn, nil)
	must(t, err)
	defer db.Close()
	type row struct {
		id    int64
		state string
		token string
	}
	// ocrRows: the asset's OCR job rows, oldest first.
	ocrRows := func() []row {
		rows, err := db.StdDB().QueryContext(ctx, `SELECT id, state::text, coalesce(metadata->>'lease_token', '') FROM river_job
			WHERE kind = 'glasshouse_analyze' AND args->>'asset' = $1 AND args->>'kind' = 'ocr' ORDER BY id`, id)
		must(t, err)
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			must(t, rows.Scan(&r.id, &r.state, &r.token))
			out = append(out, r)
		}
		must(t, rows.Err())
		return out
	}
	// waitRunning waits for an OCR row running under a lease other than
	// the one given (a River worker stamps its lease right after fetching).
	waitRunning := func(what, not string) row {
		t.Helper()
		deadline := time.Now().Add(4 * time.Minute)
		for time.Now().Before(deadline) {
			for _, r := range ocrRows() {
				if r.state == "running" && r.token != "" && r.token != not {
					return r
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: no OCR job running; rows %+v", what, ocrRows())
		return row{}
	}

	w1 := startWorker(t, append(backend, "--data", filepath.Join(dir, "w1"), "--lease", "2s", "--workers", "4")...)
	first := waitRunning("w1", "")
	w1.signal(t, syscall.SIGSTOP)
	// w2's lease (20 s) outlasts its own pause below; it requeues w1's
	// expired job within lease/3 + 2 s.
	w2 := startWorker(t, append(backend, "--data", filepath.Join(dir, "w2"), "--lease", "20s", "--workers", "4")...)
	second := waitRunning("w2", first.token)
	w2.signal(t, syscall.SIGSTOP)
	w1.signal(t, syscall.SIGCONT)
	// w1 notices (its heartbeat, or the fenced result write) and returns.
	jobTag := fmt.Sprintf("job=%d", first.id)
	deadline := time.Now().Add(time.Minute)
	for len(w1.log.lines(jobTag, "lease lost")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("w1 never reported its lost lease on job %d", first.id)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The stale worker's return must leave w2's run alone: it is still
	// running under w2's lease (River's completer runs right after Work;
	// give it the same chance the race had).
	time.Sleep(time.Second)
	for _, r := range ocrRows() {
		if r.id == second.id && (r.state != "running" || r.token != second.token) {
			t.Errorf("after the stale worker returned, the job w2 runs is %s (token %q, want %q)", r.state, r.token, second.token)
		}
	}
	w2.signal(t, syscall.SIGCONT)
	final := srv.waitJobs(t, id, 6*time.Minute)
	nocr := 0
	for _, j := range final {
		if j.State != "done" {
			t.Errorf("job %s ended %s (%s)", j.Kind, j.State, j.LastError)
		}
		if j.Kind == "ocr" {
			nocr++
			if j.Attempts != 2 {
				t.Errorf("OCR job ran %d times, want 2 (w1's lost run and w2's)", j.Attempts)
			}
		}
	}
	if nocr != 1 {
		t.Errorf("job list shows %d OCR jobs, want 1", nocr)
	}
	rows := ocrRows()
	if len(rows) != 2 || rows[0].id != first.id || rows[0].state != "cancelled" || rows[1].id != second.id || rows[1].state != "completed" {
		t.Errorf("OCR job rows %+v: want w1's row %d cancelled and w2's row %d completed", rows, first.id, second.id)
	}
	var supersededBy int64
	must(t, db.StdDB().QueryRowContext(ctx, `SELECT coalesce((metadata->>'superseded_by')::bigint, 0) FROM river_job WHERE id = $1`, first.id).Scan(&supersededBy))
	if supersededBy != second.id {
		t.Errorf("w1's row names %d as its successor, want %d", supersededBy, second.id)
	}
	var evs []struct {
		Action string          `json:"action"`
		Detail json.RawMessage `json:"detail"`
	}
	srv.getJSON(t, "/api/audit?limit=10000", &evs)
	n := 0
	for _, e := range evs {
		if e.Action == "analyze" && strings.Contains(string(e.Detail), `"analyzer":"ocr"`) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d analyze events for OCR, want 1 (results written once)", n)
	}
	var ins struct {
		OCR []struct {
			Text    string `json:"text"`
			StartMS int64  `json:"start_ms"`
		} `json:"ocr"`
	}
	srv.getJSON(t, "/api/assets/"+id+"/insights", &ins)
	seen := map[string]bool{}
	for _, o := range ins.OCR {
		k := fmt.Sprint(o.Text, o.StartMS)
		if seen[k] {
			t.Errorf("OCR entry %q at %d stored twice", o.Text, o.StartMS)
		}
		seen[k] = true
	}
	if len(ins.OCR) == 0 {
		t.Error("no OCR result stored")
	}
	as, err := db.GetAsset(ctx, glasshouse.DefaultTenant, glasshouse.AssetID(id))
	must(t, err)
	for _, r := range as.Runs {
		if r.Name == "ocr" && (r.State != glasshouse.JobDone || r.Error != "") {
			t.Errorf("OCR run recorded as %s (%s), want done", r.State, r.Error)
		}
	}
}

// TestScaleOutage stops PostgreSQL, then the S3 server, under a running
// `serve` (API + workers): requests answer 503 "unavailable" meanwhile,
// and after each comes back uploads and analyses resume; nothing
// acknowledged before is lost.
func TestScaleOutage(t *testing.T) {
	pg, err := pgtest.Start()
	if err != nil {
		t.Skipf("PostgreSQL cannot be started: %v", err)
	}
	defer pg.Stop()
	s3, err := s3test.Start()
	if err != nil {
		t.Skipf("S3 server cannot be started: %v", err)
	}
	defer s3.Stop()
	s3test.SetEnv(t)
	ctx := context.Background()
	dsn, err := pg.NewDatabase(ctx)
	must(t, err)
	bucket, err := s3.NewBucket(ctx)
	must(t, err)
	dir := t.TempDir()
	clip := scaleClip(t, dir, 0)
	srv := startServer(t, filepath.Join(dir, "api"), "--db", dsn, "--blobs", bucket, "--lease", "3s")
	first, code, _ := srv.uploadFile(t, clip)
	if code != http.StatusCreated {
		t.Fatalf("upload: HTTP %d", code)
	}

	// PostgreSQL down.
	must(t, pg.Pause())
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if st := srv.getJSON(t, "/api/assets", &e); st != http.StatusServiceUnavailable || e.Error.Code != "unavailable" {
		t.Errorf("list with the database down: HTTP %d %+v, want 503 unavailable", st, e)
	}
	time.Sleep(3 * time.Second) // workers keep trying meanwhile
	must(t, pg.Resume())
	srv.waitJobs(t, first, 5*time.Minute)

	// S3 down: an upload is refused as unavailable, nothing is recorded.
	s3.Pause()
	other := filepath.Join(dir, "other.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", other)
	if _, code, ecode := srv.uploadFile(t, other); code != http.StatusServiceUnavailable || ecode != "unavailable" {
		t.Errorf("upload with S3 down: HTTP %d %q, want 503 unavailable", code, ecode)
	}
	must(t, s3.Resume())
	second, code, _ := srv.uploadFile(t, other)
	if code != http.StatusCreated {
		t.Fatalf("upload after S3 is back: HTTP %d", code)
	}
	for _, id := range []string{first, second} {
		for _, j := range srv.waitJobs(t, id, 5*time.Minute) {
			if j.State != "done" {
				t.Errorf("asset %s job %s ended %s (%s)", id, j.Kind, j.State, j.LastError)
			}
		}
	}
	var page struct {
		Assets []struct {
			ID string `json:"id"`
		} `json:"assets"`
	}
	srv.getJSON(t, "/api/assets", &page)
	if len(page.Assets) != 2 {
		t.Errorf("%d assets listed after the outages, want 2", len(page.Assets))
	}
	if _, _, code := runCLI(t, "audit", "verify", "--db", dsn); code != 0 {
		t.Errorf("audit verify after the outages: exit %d", code)
	}
}
