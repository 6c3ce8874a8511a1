package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/glasshouse/glasshouse/internal/pgtest"
	"github.com/glasshouse/glasshouse/internal/s3test"
)

// binary is built once per test run, for the tests that need a real process
// to kill.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "glasshouse-bin-*")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "glasshouse")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build glasshouse: %v\n%s", err, out)
		os.Exit(1)
	}
	code := pgtest.Main(m)
	s3test.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

func sharedTestdata(t *testing.T) string {
	t.Helper()
	p, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "testdata"))
	if _, err := os.Stat(p); err != nil {
		t.Skip("../shared/testdata not present")
	}
	return p
}

// runCLI runs the CLI in-process and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// makeBadAndGoodFiles writes media and bad input into dir.
func makeBadAndGoodFiles(t *testing.T, dir string) {
	t.Helper()
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10:duration=2", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", filepath.Join(dir, "clip.mp4"))
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", filepath.Join(dir, "still.png"))
	ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=300:duration=1", filepath.Join(dir, "tone.wav"))
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x480", "-frames:v", "1", filepath.Join(dir, "full.jpg"))
	full, err := os.ReadFile(filepath.Join(dir, "full.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "full.jpg"))
	must(t, os.WriteFile(filepath.Join(dir, "cut.jpg"), full[:len(full)/2], 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "empty.mp4"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "notes.mp4"), []byte("this is a text file pretending to be a video\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "bell\x07.wav"), []byte("RIFF"), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func parseIngestJSON(t *testing.T, out string) map[string]ingestResult {
	t.Helper()
	res := map[string]ingestResult{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r ingestResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		res[filepath.Base(r.Path)] = r
	}
	return res
}

func TestIngestGoodAndBad(t *testing.T) {
	dir := t.TempDir()
	makeBadAndGoodFiles(t, dir)
	data := filepath.Join(t.TempDir(), "data")
	out, stderr, code := runCLI(t, "ingest", "--data", data, "--json", "--collection", "tests", dir)
	if code != 1 {
		t.Fatalf("exit code %d, want 1 (some files rejected); stderr:\n%s", code, stderr)
	}
	res := parseIngestJSON(t, out)
	for _, name := range []string{"clip.mp4", "still.png", "tone.wav"} {
		r, ok := res[name]
		if !ok || r.Error != nil || r.Asset == nil {
			t.Errorf("%s: want stored, got %+v", name, r)
			continue
		}
		if r.Asset.Collection != "tests" || r.Asset.Probe == nil || !r.Asset.Hash.Valid() {
			t.Errorf("%s: incomplete asset %+v", name, r.Asset)
		}
	}
	if r := res["clip.mp4"]; r.Asset != nil {
		if r.Asset.Kind != "video" || r.Asset.Probe.Width != 320 || r.Asset.Probe.DurationMS < 1500 || r.Asset.Thumb == "" || r.Asset.Poster == "" {
			t.Errorf("clip.mp4 metadata: kind %s probe %+v thumb %q poster %q", r.Asset.Kind, r.Asset.Probe, r.Asset.Thumb, r.Asset.Poster)
		}
	}
	wantErr := map[string]string{"cut.jpg": "corrupt", "empty.mp4": "invalid", "notes.mp4": "unsupported_media", "bell\x07.wav": "invalid"}
	for name, code := range wantErr {
		r, ok := res[name]
		if !ok || r.Error == nil {
			t.Errorf("%s: want rejected with %s, got %+v", name, code, r)
			continue
		}
		if r.Error.Code != code {
			t.Errorf("%s: code %q, want %q (message %q)", name, r.Error.Code, code, r.Error.Message)
		}
		if !strings.Contains(r.Error.Message, strings.TrimSuffix(name, filepath.Ext(name))[:3]) {
			t.Errorf("%s: message %q does not name the file", name, r.Error.Message)
		}
	}
	// Rejected content leaves no blob behind; stored content is intact.
	checkBlobs(t, filepath.Join(data, "blobs"), -1)

	// Same content again: stored once.
	out2, _, code := runCLI(t, "ingest", "--data", data, "--json", "--collection", "tests", filepath.Join(dir, "still.png"))
	if code != 0 {
		t.Fatalf("re-ingest exit %d", code)
	}
	r2 := parseIngestJSON(t, out2)["still.png"]
	if !r2.Duplicate || r2.Asset == nil || r2.Asset.ID != res["still.png"].Asset.ID {
		t.Errorf("re-ingest: want duplicate of %v, got %+v", res["still.png"].Asset, r2)
	}
	// The audit chain verifies and holds the uploads.
	vout, verr, code := runCLI(t, "audit", "verify", "--data", data)
	if code != 0 || !strings.Contains(vout, "OK") {
		t.Fatalf("audit verify: code %d\n%s\n%s", code, vout, verr)
	}
}

func TestIngestSharedTestdata(t *testing.T) {
	td := sharedTestdata(t)
	data := filepath.Join(t.TempDir(), "data")
	out, _, code := runCLI(t, "ingest", "--data", data, "--json", td)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	res := parseIngestJSON(t, out)
	for _, name := range []string{"camera.png", "chelsea.png", "coffee.png", "page.png", "text.png", "001.wav", "005.wav", "goforward.wav", "briefing.mp4", "tree.avi"} {
		if r := res[name]; r.Asset == nil {
			t.Errorf("%s not stored: %+v", name, r.Error)
		}
	}
	if r := res["truncated.jpg"]; r.Error == nil || r.Error.Code != "corrupt" {
		t.Errorf("truncated.jpg: want corrupt, got %+v", r)
	}
	for _, name := range []string{"README.md", "briefing.truth.json", "goforward.txt", "cards.transcription"} {
		if r := res[name]; r.Error == nil || r.Error.Code != "unsupported_media" {
			t.Errorf("%s: want unsupported_media, got %+v", name, r)
		}
	}
	checkBlobs(t, filepath.Join(data, "blobs"), -1)
}

// checkBlobs asserts that every blob file under root/sha256 hashes to its
// name (nothing partial is visible) and, if want >= 0, that there are want.
func checkBlobs(t *testing.T, root string, want int) int {
	t.Helper()
	n := 0
	err := filepath.Walk(filepath.Join(root, "sha256"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasSuffix(p, ".attrs") {
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
			t.Errorf("blob %s holds content with hash %s: partial or corrupt blob visible", p, got)
		}
		n++
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if want >= 0 && n != want {
		t.Errorf("%d blobs stored, want %d", n, want)
	}
	return n
}

// server is a glasshouse serve process.
type server struct {
	cmd   *exec.Cmd
	url   string
	token string // an admin API token of tenant default
}

func startServer(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = &testLogWriter{t: t}
	must(t, cmd.Start())
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "glasshouse listening on ") {
				lines <- strings.TrimSuffix(strings.TrimPrefix(sc.Text(), "glasshouse listening on "), "/")
			}
		}
	}()
	select {
	case u := <-lines:
		s := &server{cmd: cmd, url: u}
		t.Cleanup(func() { s.kill() })
		// serve made the first admin; the CLI, on the same data folder,
		// gives the test a token for it.
		targs := []string{"token", "create", "--data", data, "--name", "e2e"}
		for i := 0; i+1 < len(extra); i++ {
			if extra[i] == "--db" || extra[i] == "--blobs" {
				targs = append(targs, extra[i], extra[i+1])
			}
		}
		out, stderr, code := runCLI(t, append(targs, "admin")...)
		if code != 0 {
			t.Fatalf("token create: %d %s", code, stderr)
		}
		s.token = strings.TrimSpace(out)
		return s
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not start")
	}
	return nil
}

func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
	}
}

type testLogWriter struct{ t *testing.T }

func (w *testLogWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Logf("server: %s", strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (s *server) upload(t *testing.T, name string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, s.url+"/api/assets?name="+name, body)
	must(t, err)
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+s.token)
	return http.DefaultClient.Do(req)
}

func (s *server) getJSON(t *testing.T, path string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	if v != nil {
		must(t, json.NewDecoder(resp.Body).Decode(v))
	}
	return resp.StatusCode
}

// TestKill9DuringLargeUpload kills the server with SIGKILL while a large
// upload is streaming, restarts it, and checks that what was acknowledged is
// all there, nothing partial is visible, and the audit chain verifies.
func TestKill9DuringLargeUpload(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", filepath.Join(dir, "a.mp4"))
	srv := startServer(t, data)
	a, err := os.ReadFile(filepath.Join(dir, "a.mp4"))
	must(t, err)
	resp, err := srv.upload(t, "a.mp4", bytes.NewReader(a), int64(len(a)))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload a.mp4: %s", resp.Status)
	}

	// A large upload (random bytes, 2 GiB declared) killed part-way.
	const big = 2 << 30
	pr, pw := io.Pipe()
	sent := make(chan int64, 1)
	go func() {
		buf := make([]byte, 1<<20)
		var n int64
		for n < big {
			rand.Read(buf)
			m, err := pw.Write(buf)
			n += int64(m)
			if err != nil {
				break
			}
			if n == 200<<20 {
				sent <- n
			}
		}
		pw.Close()
	}()
	done := make(chan error, 1)
	go func() {
		resp, err := srv.upload(t, "big.mp4", pr, big)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("upload finished with %s", resp.Status)
		}
		done <- err
	}()
	select {
	case <-sent:
	case <-time.After(2 * time.Minute):
		t.Fatal("upload did not get going")
	}
	srv.kill()
	if err := <-done; err == nil {
		t.Fatal("upload of a killed server succeeded")
	}
	pr.CloseWithError(io.ErrClosedPipe)

	// Nothing partial is visible; the acknowledged asset survives.
	checkBlobs(t, filepath.Join(data, "blobs"), -1)
	srv2 := startServer(t, data)
	var page struct {
		Assets []struct {
			Name string `json:"name"`
			Hash string `json:"hash"`
		} `json:"assets"`
	}
	if code := srv2.getJSON(t, "/api/assets", &page); code != 200 {
		t.Fatalf("list after restart: %d", code)
	}
	if len(page.Assets) != 1 || page.Assets[0].Name != "a.mp4" {
		t.Fatalf("after restart: %+v, want only a.mp4", page.Assets)
	}
	// The restarted server still takes uploads, here from the CLI.
	ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=500:duration=1", filepath.Join(dir, "b.wav"))
	out, stderr, code := runCLI(t, "ingest", "--server", srv2.url, "--token", srv2.token, "--json", "--collection", "remote", filepath.Join(dir, "b.wav"), filepath.Join(dir, "missing.wav"))
	res := parseIngestJSON(t, out)
	if code != 1 || res["b.wav"].Asset == nil || res["b.wav"].Asset.Collection != "remote" || res["missing.wav"].Error == nil {
		t.Fatalf("ingest --server: code %d, %+v\n%s", code, res, stderr)
	}
	srv2.kill()
	vout, verr, code := runCLI(t, "audit", "verify", "--data", data)
	if code != 0 {
		t.Fatalf("audit verify after kill: %s %s", vout, verr)
	}
	checkBlobs(t, filepath.Join(data, "blobs"), -1)
}

// TestKill9MidJob kills the server while an analysis job runs, restarts
// it, and checks that the job is run again exactly once and its result is
// stored once.
func TestKill9MidJob(t *testing.T) {
	const font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
	if _, err := os.Stat(font); err != nil {
		t.Skip("fonts-dejavu-core not installed")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	dt := func(text string) string {
		return "drawtext=fontfile=" + font + ":text='" + text + "':fontsize=48:fontcolor=white:box=1:boxcolor=black@0.8:x=(w-tw)/2:y=h-120"
	}
	clip := filepath.Join(dir, "clip.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=4,"+dt("EVACUATION ROUTE NORTH"),
		"-f", "lavfi", "-i", "color=c=darkgreen:size=1280x720:rate=25:duration=4,"+dt("CITY COUNCIL MEETING"),
		"-f", "lavfi", "-i", "flite=text='the council will meet at noon to discuss the evacuation route':voice=slt",
		"-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v];[2:a]aresample=16000,apad,atrim=0:8[a]",
		"-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "8", clip)
	long := filepath.Join(dir, "long.mp4")
	ffmpeg(t, "-stream_loop", "5", "-i", clip, "-c", "copy", long)
	body, err := os.ReadFile(long)
	must(t, err)

	srv := startServer(t, data)
	resp, err := srv.upload(t, "long.mp4", bytes.NewReader(body), int64(len(body)))
	must(t, err)
	var as struct {
		ID string `json:"id"`
	}
	must(t, json.NewDecoder(resp.Body).Decode(&as))
	resp.Body.Close()

	type job struct {
		Kind     string `json:"kind"`
		State    string `json:"state"`
		Attempts int    `json:"attempts"`
	}
	jobs := func(s *server) []job {
		var js []job
		s.getJSON(t, "/api/assets/"+as.ID+"/jobs", &js)
		return js
	}
	// Wait for a slow job (OCR or speech) to be running, then kill.
	var killed string
	deadline := time.Now().Add(3 * time.Minute)
	for killed == "" && time.Now().Before(deadline) {
		for _, j := range jobs(srv) {
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
	time.Sleep(300 * time.Millisecond)
	srv.kill()

	srv2 := startServer(t, data)
	deadline = time.Now().Add(5 * time.Minute)
	var final []job
	for time.Now().Before(deadline) {
		final = jobs(srv2)
		busy := false
		for _, j := range final {
			if j.State == "queued" || j.State == "running" {
				busy = true
			}
		}
		if !busy {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, j := range final {
		if j.State != "done" {
			t.Errorf("job %s ended %s", j.Kind, j.State)
		}
		want := 1
		if j.Kind == killed {
			want = 2
		}
		if j.Attempts != want {
			t.Errorf("job %s ran %d times, want %d", j.Kind, j.Attempts, want)
		}
	}
	// The killed analyzer's result is stored once: one analyze event, and
	// no duplicated entries.
	var evs []struct {
		Action string          `json:"action"`
		Detail json.RawMessage `json:"detail"`
	}
	srv2.getJSON(t, "/api/audit?limit=10000", &evs)
	n := 0
	for _, e := range evs {
		if e.Action == "analyze" && strings.Contains(string(e.Detail), `"analyzer":"`+killed+`"`) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d analyze events for %s, want 1", n, killed)
	}
	var ins struct {
		OCR []struct {
			Text    string `json:"text"`
			StartMS int64  `json:"start_ms"`
		} `json:"ocr"`
		Transcript []struct {
			StartMS int64 `json:"start_ms"`
		} `json:"transcript"`
	}
	srv2.getJSON(t, "/api/assets/"+as.ID+"/insights", &ins)
	seen := map[string]bool{}
	for _, o := range ins.OCR {
		k := fmt.Sprint(o.Text, o.StartMS)
		if seen[k] {
			t.Errorf("OCR entry %q at %d stored twice", o.Text, o.StartMS)
		}
		seen[k] = true
	}
	for i := 1; i < len(ins.Transcript); i++ {
		if ins.Transcript[i].StartMS <= ins.Transcript[i-1].StartMS {
			t.Errorf("transcript segments repeat or go back in time at %d", i)
		}
	}
	if len(ins.OCR) == 0 || len(ins.Transcript) == 0 {
		t.Errorf("missing insights after restart: %d OCR, %d transcript", len(ins.OCR), len(ins.Transcript))
	}
}

// TestSeparateWorker runs the API with --no-workers and a `glasshouse
// worker` process on the same data folder: the worker runs the jobs.
func TestSeparateWorker(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	srv := startServer(t, data, "--no-workers")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", filepath.Join(dir, "p.png"))
	b, err := os.ReadFile(filepath.Join(dir, "p.png"))
	must(t, err)
	resp, err := srv.upload(t, "p.png", bytes.NewReader(b), int64(len(b)))
	must(t, err)
	var as struct {
		ID string `json:"id"`
	}
	must(t, json.NewDecoder(resp.Body).Decode(&as))
	resp.Body.Close()
	type job struct {
		Kind  string `json:"kind"`
		State string `json:"state"`
	}
	allDone := func() (bool, []job) {
		var js []job
		srv.getJSON(t, "/api/assets/"+as.ID+"/jobs", &js)
		for _, j := range js {
			if j.State != "done" {
				return false, js
			}
		}
		return len(js) > 0, js
	}
	time.Sleep(time.Second)
	if done, js := allDone(); done {
		t.Fatalf("jobs ran without a worker: %+v", js)
	}
	w := exec.Command(binary, "worker", "--data", data)
	w.Stderr = &testLogWriter{t: t}
	must(t, w.Start())
	defer func() { w.Process.Signal(syscall.SIGTERM); w.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if done, _ := allDone(); done {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, js := allDone()
	t.Fatalf("worker did not finish the jobs: %+v", js)
}

// TestAuditTamperCLI edits and deletes audit rows behind glasshouse's back
// and checks that `glasshouse audit verify` fails and names the event.
func TestAuditTamperCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=duration=1", filepath.Join(dir, "a.wav"))
	ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=600:duration=1", filepath.Join(dir, "b.wav"))
	if _, errOut, code := runCLI(t, "ingest", "--data", data, filepath.Join(dir, "a.wav"), filepath.Join(dir, "b.wav")); code != 0 {
		t.Fatalf("ingest: %s", errOut)
	}
	out, _, code := runCLI(t, "audit", "verify", "--data", data)
	if code != 0 || !strings.HasPrefix(out, "OK: 2 events") {
		t.Fatalf("verify before tampering: %d %q", code, out)
	}
	exp := filepath.Join(dir, "audit.jsonl")
	if _, errOut, code := runCLI(t, "audit", "export", "--data", data, "--out", exp); code != 0 || !strings.Contains(errOut, "chain head") {
		t.Fatalf("export: %d %s", code, errOut)
	}
	lines, _ := os.ReadFile(exp)
	if n := strings.Count(string(lines), "\n"); n != 2 {
		t.Fatalf("export has %d lines, want 2", n)
	}
	sqlite3 := func(stmt string) {
		t.Helper()
		db, err := sql.Open("sqlite", filepath.Join(data, "glasshouse.db"))
		must(t, err)
		defer db.Close()
		_, err = db.Exec(stmt)
		must(t, err)
	}
	sqlite3(`UPDATE gh_audit SET actor = 'someone-else' WHERE seq = 2`)
	out, _, code = runCLI(t, "audit", "verify", "--data", data)
	if code != 1 || !strings.Contains(out, "BROKEN at event 2") {
		t.Fatalf("edited row: %d %q", code, out)
	}
	sqlite3(`DELETE FROM gh_audit WHERE seq = 1`)
	out, _, code = runCLI(t, "audit", "verify", "--data", data)
	if code != 1 || !strings.Contains(out, "BROKEN at event 1") {
		t.Fatalf("deleted row: %d %q", code, out)
	}
}
