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
	"syscall"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/internal/pgtest"
	"github.com/glasshouse/glasshouse/internal/s3test"
)

// worker is a `glasshouse worker` process.
type worker struct{ cmd *exec.Cmd }

func startWorker(t *testing.T, args ...string) *worker {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"worker"}, args...)...)
	cmd.Stdout = &testLogWriter{t: t}
	cmd.Stderr = &testLogWriter{t: t}
	must(t, cmd.Start())
	w := &worker{cmd: cmd}
	t.Cleanup(w.kill)
	return w
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
