package speech

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// fakeWhisper is a protocol conformance stand-in for an OpenAI-compatible
// transcription server (no real Whisper server can be installed here). It
// checks the request the way such a server parses it and answers with a
// canned verbose_json body whose times are relative to the uploaded file.
type fakeWhisper struct {
	t     *testing.T
	mu    sync.Mutex
	calls int
	sizes []int64
}

func (f *fakeWhisper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer sekrit" {
		http.Error(w, `{"error":{"message":"Incorrect API key provided"}}`, http.StatusUnauthorized)
		return
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if got := r.MultipartForm.Value["model"]; len(got) != 1 || got[0] != "large-v3" {
		http.Error(w, "bad model field", http.StatusBadRequest)
		return
	}
	if got := r.MultipartForm.Value["response_format"]; len(got) != 1 || got[0] != "verbose_json" {
		http.Error(w, "bad response_format", http.StatusBadRequest)
		return
	}
	if got := strings.Join(r.MultipartForm.Value["timestamp_granularities[]"], ","); got != "word,segment" {
		http.Error(w, "bad timestamp_granularities[]: "+got, http.StatusBadRequest)
		return
	}
	fh := r.MultipartForm.File["file"]
	if len(fh) != 1 {
		http.Error(w, "no file", http.StatusBadRequest)
		return
	}
	file, _ := fh[0].Open()
	head := make([]byte, 12)
	_, _ = io.ReadFull(file, head)
	file.Close()
	if string(head[:4]) != "RIFF" || string(head[8:12]) != "WAVE" {
		http.Error(w, "file is not a WAV", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls++
	f.sizes = append(f.sizes, fh[0].Size)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{
  "task": "transcribe", "language": "english", "duration": 3.0,
  "text": "Go forward. Ten meters!",
  "segments": [
    {"id": 0, "seek": 0, "start": 0.0, "end": 1.2, "text": " Go forward.", "tokens": [1, 2], "temperature": 0.0, "avg_logprob": -0.1, "compression_ratio": 1.0, "no_speech_prob": 0.01},
    {"id": 1, "seek": 0, "start": 1.5, "end": 2.5, "text": " Ten meters!", "tokens": [3, 4], "temperature": 0.0, "avg_logprob": -0.5, "compression_ratio": 1.0, "no_speech_prob": 0.01}
  ],
  "words": [
    {"word": "Go", "start": 0.0, "end": 0.4},
    {"word": "forward.", "start": 0.5, "end": 1.2},
    {"word": "Ten", "start": 1.5, "end": 1.9, "probability": 0.8},
    {"word": "meters!", "start": 2.0, "end": 2.5}
  ]
}`)
}

func TestOpenAIProtocol(t *testing.T) {
	fw := &fakeWhisper{t: t}
	srv := httptest.NewServer(fw)
	defer srv.Close()
	a, err := New(Config{Engine: EngineOpenAI, URL: srv.URL + "/", APIKey: "sekrit", Model: "large-v3"})
	if err != nil {
		t.Fatal(err)
	}
	if m := a.Model(); !m.Available || !strings.Contains(m.Name, "large-v3") {
		t.Errorf("model %+v", m)
	}
	// 3 s of tone: one request with the whole track.
	p := filepath.Join(t.TempDir(), "tone.wav")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", p)
	res := analyze(t, a, p, nil)
	segs := res.Insights.Transcript
	if fw.calls != 1 || len(segs) != 2 {
		t.Fatalf("calls %d, segments %+v", fw.calls, segs)
	}
	if segs[0].Text != "Go forward." || segs[0].StartMS != 0 || segs[0].EndMS != 1200 || len(segs[0].Words) != 2 {
		t.Errorf("segment 0 %+v", segs[0])
	}
	if c := segs[0].Confidence; c < 0.90 || c > 0.91 { // exp(-0.1)
		t.Errorf("segment 0 confidence %v, want exp(-0.1)", c)
	}
	w := segs[1].Words
	if len(w) != 2 || w[0].Text != "Ten" || w[0].Confidence != 0.8 || w[1].StartMS != 2000 || w[1].EndMS != 2500 {
		t.Errorf("segment 1 words %+v", w)
	}
	if c := w[1].Confidence; c < 0.60 || c > 0.61 { // segment's exp(-0.5)
		t.Errorf("word without probability: confidence %v, want its segment's", c)
	}
	if segs[0].Track != 0 {
		t.Errorf("track %d", segs[0].Track)
	}
}

// TestOpenAIChunkOffsets: long audio is sent in chunks and the server's
// chunk-relative times are moved onto the track's timeline.
func TestOpenAIChunkOffsets(t *testing.T) {
	fw := &fakeWhisper{t: t}
	srv := httptest.NewServer(fw)
	defer srv.Close()
	a, err := New(Config{Engine: EngineOpenAI, URL: srv.URL, APIKey: "sekrit", Model: "large-v3", ChunkSec: 10, MinChunkSec: 5, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tone.wav")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=440:duration=25", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", p)
	res := analyze(t, a, p, nil)
	if fw.calls < 3 {
		t.Fatalf("25 s in chunks of at most 10 s: %d requests", fw.calls)
	}
	segs := res.Insights.Transcript
	if len(segs) != 2*fw.calls {
		t.Fatalf("%d segments for %d chunks", len(segs), fw.calls)
	}
	// Every chunk's first segment starts at the chunk's offset; offsets
	// increase and the chunks cover the file.
	var prev int64 = -1
	var total int64
	for i := 0; i < len(segs); i += 2 {
		if segs[i].StartMS <= prev || segs[i].Words[0].StartMS != segs[i].StartMS || segs[i+1].Words[1].EndMS != segs[i].StartMS+2500 {
			t.Errorf("chunk %d segments %+v %+v", i/2, segs[i], segs[i+1])
		}
		prev = segs[i].StartMS
	}
	for _, s := range fw.sizes {
		total += s - 44
	}
	if total != 25*16000*2 {
		t.Errorf("chunks hold %d bytes of samples, want %d", total, 25*16000*2)
	}
}

func TestOpenAIErrors(t *testing.T) {
	fw := &fakeWhisper{t: t}
	srv := httptest.NewServer(fw)
	defer srv.Close()
	p := filepath.Join(t.TempDir(), "tone.wav")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", p)
	in := glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindAudio}, Path: p, WorkDir: t.TempDir()}

	// Wrong key: the HTTP status and the server's message come through.
	a, _ := New(Config{Engine: EngineOpenAI, URL: srv.URL, APIKey: "wrong", Model: "large-v3"})
	_, err := a.Analyze(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "Incorrect API key") {
		t.Errorf("401: %v", err)
	}
	if !errors.Is(err, glasshouse.ErrUnavailable) {
		t.Errorf("401 should be ErrUnavailable: %v", err)
	}

	// Garbage body.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<html>proxy error</html>")
	}))
	defer bad.Close()
	a, _ = New(Config{Engine: EngineOpenAI, URL: bad.URL})
	if _, err := a.Analyze(context.Background(), in); err == nil || !strings.Contains(err.Error(), "decode verbose_json") {
		t.Errorf("garbage body: %v", err)
	}

	// A server that never answers hits the request timeout.
	stop := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(stop)
	a, _ = New(Config{Engine: EngineOpenAI, URL: slow.URL, RequestTimeout: 200 * time.Millisecond})
	if _, err := a.Analyze(context.Background(), in); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("slow server: %v", err)
	}

	// Server down.
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	a, _ = New(Config{Engine: EngineOpenAI, URL: url})
	if _, err := a.Analyze(context.Background(), in); err == nil || !strings.Contains(err.Error(), "POST") {
		t.Errorf("server down: %v", err)
	}
}

func TestMapVerboseWithoutSegments(t *testing.T) {
	var v verboseJSON
	if err := json.Unmarshal([]byte(`{"text":"hello there","duration":2.0}`), &v); err != nil {
		t.Fatal(err)
	}
	r := mapVerbose(&v)
	if len(r.Segments) != 1 || r.Segments[0].Text != "hello there" || r.Segments[0].EndMS != 2000 {
		t.Errorf("text only: %+v", r)
	}
	if err := json.Unmarshal([]byte(`{"text":"a b","words":[{"word":" hello","start":0.1,"end":0.4},{"word":"there","start":0.5,"end":0.9}]}`), &v); err != nil {
		t.Fatal(err)
	}
	r = mapVerbose(&v)
	if len(r.Segments) != 0 || len(r.Words) != 2 || r.Words[0].Text != "hello" || r.Words[1].StartMS != 500 {
		t.Errorf("words only: %+v", r)
	}
}
