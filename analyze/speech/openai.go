package speech

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// openAI posts audio to an OpenAI-compatible transcription endpoint
// (POST {URL}/v1/audio/transcriptions, multipart, verbose_json with word and
// segment timestamps), as served by whisper.cpp's server, faster-whisper
// servers and OpenAI itself.
type openAI struct {
	cfg       *Config
	endpoint  string
	modelName string
	client    *http.Client
}

func newOpenAI(cfg *Config) (*openAI, error) {
	const op = "speech.New"
	if cfg.URL == "" {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "engine %q needs a URL", EngineOpenAI)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "bad transcription server URL %q", cfg.URL)
	}
	e := &openAI{cfg: cfg, endpoint: strings.TrimRight(cfg.URL, "/") + "/v1/audio/transcriptions", modelName: cfg.Model, client: cfg.HTTPClient}
	if e.modelName == "" {
		e.modelName = "whisper-1"
	}
	if e.client == nil {
		t := cfg.RequestTimeout
		if t <= 0 {
			t = 5 * time.Minute
		}
		e.client = &http.Client{Timeout: t}
	}
	return e, nil
}

func (e *openAI) model() glasshouse.ModelInfo {
	u, _ := url.Parse(e.endpoint)
	host := ""
	if u != nil {
		host = u.Host
	}
	return glasshouse.ModelInfo{
		Name:      "openai-compatible " + e.modelName + " at " + host,
		Path:      e.endpoint,
		Source:    "remote server (model checksum unknown)",
		Available: true,
	}
}

// verboseJSON is the response_format=verbose_json body.
type verboseJSON struct {
	Text     string  `json:"text"`
	Duration float64 `json:"duration"`
	Segments []struct {
		Start        float64  `json:"start"`
		End          float64  `json:"end"`
		Text         string   `json:"text"`
		AvgLogprob   *float64 `json:"avg_logprob"`
		NoSpeechProb float64  `json:"no_speech_prob"`
	} `json:"segments"`
	Words []struct {
		Word        string   `json:"word"`
		Start       float64  `json:"start"`
		End         float64  `json:"end"`
		Probability *float64 `json:"probability"` // not in OpenAI's API; some servers add it
	} `json:"words"`
}

func (e *openAI) transcribe(ctx context.Context, wav string) (chunkResult, error) {
	body, ctype, err := e.form(wav)
	if err != nil {
		return chunkResult{}, fmt.Errorf("openai: build request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, body)
	if err != nil {
		return chunkResult{}, fmt.Errorf("openai: %w", err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	if e.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.cfg.APIKey)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return chunkResult{}, fmt.Errorf("openai: POST %s: %w", e.endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return chunkResult{}, fmt.Errorf("openai: read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		return chunkResult{}, fmt.Errorf("openai: POST %s: HTTP %d: %s", e.endpoint, resp.StatusCode, msg)
	}
	var v verboseJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return chunkResult{}, fmt.Errorf("openai: decode verbose_json response: %w", err)
	}
	return mapVerbose(&v), nil
}

func (e *openAI) form(wav string) (io.Reader, string, error) {
	f, err := os.Open(wav)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", filepath.Base(wav))
	if err != nil {
		return nil, "", err
	}
	if _, err := io.Copy(fw, f); err != nil {
		return nil, "", err
	}
	for _, kv := range [][2]string{
		{"model", e.modelName},
		{"response_format", "verbose_json"},
		{"timestamp_granularities[]", "word"},
		{"timestamp_granularities[]", "segment"},
	} {
		if err := mw.WriteField(kv[0], kv[1]); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return &buf, mw.FormDataContentType(), nil
}

// mapVerbose turns a verbose_json response into segments with words.
// Segment confidence is exp(avg_logprob) (the mean token probability); a
// word's confidence is its "probability" if the server sends one, else its
// segment's confidence. Words are given to the segment that holds their
// midpoint. Without segments the words are grouped by pauses later; with
// neither, the text becomes one segment over the whole chunk.
func mapVerbose(v *verboseJSON) chunkResult {
	ms := func(s float64) int64 { return int64(math.Round(s * 1000)) }
	var words []glasshouse.Word
	for _, w := range v.Words {
		t := strings.TrimSpace(w.Word)
		if t == "" {
			continue
		}
		c := math.NaN()
		if w.Probability != nil {
			c = clamp01(*w.Probability)
		}
		words = append(words, glasshouse.Word{Text: t, StartMS: ms(w.Start), EndMS: ms(w.End), Confidence: c})
	}
	if len(v.Segments) == 0 {
		if len(words) == 0 && strings.TrimSpace(v.Text) != "" {
			return chunkResult{Segments: []glasshouse.TranscriptSegment{{
				StartMS: 0, EndMS: ms(v.Duration), Text: strings.TrimSpace(v.Text),
			}}}
		}
		for i := range words {
			if math.IsNaN(words[i].Confidence) {
				words[i].Confidence = 0
			}
		}
		return chunkResult{Words: words}
	}
	segs := make([]glasshouse.TranscriptSegment, 0, len(v.Segments))
	for _, s := range v.Segments {
		conf := 0.0
		if s.AvgLogprob != nil {
			conf = clamp01(math.Exp(*s.AvgLogprob))
		}
		segs = append(segs, glasshouse.TranscriptSegment{
			StartMS: ms(s.Start), EndMS: ms(s.End), Text: strings.TrimSpace(s.Text), Confidence: conf,
		})
	}
	for _, w := range words {
		mid := (w.StartMS + w.EndMS) / 2
		best := -1
		for i, s := range segs {
			if mid >= s.StartMS && mid <= s.EndMS {
				best = i
				break
			}
		}
		if best < 0 { // outside every segment: the nearest one
			var bestD int64 = math.MaxInt64
			for i, s := range segs {
				d := min(abs64(mid-s.StartMS), abs64(mid-s.EndMS))
				if d < bestD {
					best, bestD = i, d
				}
			}
		}
		if math.IsNaN(w.Confidence) {
			w.Confidence = segs[best].Confidence
		}
		segs[best].Words = append(segs[best].Words, w)
	}
	return chunkResult{Segments: segs}
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
