package main

import (
	"context"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/faces"
	"github.com/glasshouse/glasshouse/analyze/keywords"
	"github.com/glasshouse/glasshouse/analyze/labels"
	"github.com/glasshouse/glasshouse/analyze/ocr"
	"github.com/glasshouse/glasshouse/analyze/probe"
	"github.com/glasshouse/glasshouse/analyze/shots"
	"github.com/glasshouse/glasshouse/analyze/speech"
	"github.com/glasshouse/glasshouse/analyze/vision"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/redact"
)

type analyzerSet struct {
	analyzers   []glasshouse.Analyzer
	derived     []glasshouse.Analyzer
	unavailable []glasshouse.AnalyzerStatus
	closers     []func()
	// redactor renders redacted copies; nil when the face model is missing.
	redactor app.Redactor
}

func (s *analyzerSet) close() {
	for _, c := range s.closers {
		c()
	}
}

func (s *analyzerSet) disable(name, version string, problem string) {
	s.unavailable = append(s.unavailable, glasshouse.AnalyzerStatus{Name: name, Version: version, Model: glasshouse.ModelInfo{Name: name, Available: false, Problem: problem}})
}

// add keeps an analyzer whose model is available; one without is listed as
// disabled with the reason, and the others still run.
func (s *analyzerSet) add(an glasshouse.Analyzer) {
	if m, ok := an.(interface{ Model() glasshouse.ModelInfo }); ok {
		if mi := m.Model(); !mi.Available {
			s.unavailable = append(s.unavailable, glasshouse.AnalyzerStatus{Name: an.Name(), Version: an.Version(), Model: mi})
			return
		}
	}
	s.analyzers = append(s.analyzers, an)
}

// buildAnalyzers sets up every analyzer that can run here.
func buildAnalyzers(log *slog.Logger, b backendFlags) *analyzerSet {
	modelsDir := b.models
	s := &analyzerSet{}
	lim := media.Limits{Timeout: 30 * time.Minute, MaxBytes: 4 << 30}
	s.add(probe.New(media.Limits{Timeout: 2 * time.Minute, MaxBytes: 2 << 30}))
	s.add(shots.New(lim, shots.Options{}))
	spCfg := speech.Config{Logger: log}
	if b.speechURL != "" {
		spCfg.Engine, spCfg.URL, spCfg.Model, spCfg.APIKey = speech.EngineOpenAI, b.speechURL, b.speechModel, os.Getenv("GLASSHOUSE_SPEECH_API_KEY")
	}
	if sp, err := speech.New(spCfg); err != nil {
		s.disable("speech", "", err.Error())
	} else {
		s.add(sp)
	}
	if o, err := ocr.New(ocr.Config{}); err != nil {
		s.disable("ocr", "", err.Error())
	} else {
		s.add(o)
	}
	abs, _ := filepath.Abs(modelsDir)
	rt, err := vision.Open(abs)
	if err != nil {
		s.disable("labels", "", "ONNX models not provisioned in "+abs+" (run `make models`): "+err.Error())
		s.disable("faces", "", "ONNX models not provisioned in "+abs+" (run `make models`): "+err.Error())
	} else {
		s.closers = append(s.closers, func() { rt.Close() })
		if l, err := labels.New(rt, labels.Config{}); err != nil {
			s.disable("labels", "", err.Error())
		} else {
			s.add(l)
		}
		if f, err := faces.New(rt, faces.Config{}); err != nil {
			s.disable("faces", "", err.Error())
		} else {
			s.add(f)
			s.redactor = newRedactor(rt, log)
		}
	}
	s.derived = append(s.derived, keywords.New())
	return s
}

// newRedactor builds the renderer of redacted copies on its own faces
// detector, with a low score floor (plans choose the threshold, 0.6 by
// default) so that doubtful faces are covered and listed for review. nil
// when the face model is unavailable.
func newRedactor(rt *vision.Runtime, log *slog.Logger) app.Redactor {
	f, err := faces.New(rt, faces.Config{Threshold: 0.5, NoTiles: true, Logger: log})
	if err != nil || !f.Model().Available {
		return nil
	}
	return redact.NewRenderer(redact.Config{
		Detector: faceDetector(f),
		Models:   []redact.Model{{Name: faces.ModelName, SHA256: f.Model().SHA256, Version: faces.Version, Source: f.Model().Source}},
		Limits:   media.Limits{Timeout: 4 * time.Hour, MaxBytes: 4 << 30},
		Software: []string{"glasshouse " + app.Version, ffmpegVersion()},
		Logger:   log,
	})
}

// faceDetector adapts the faces analyzer to redact.Detector.
func faceDetector(f *faces.Analyzer) redact.Detector {
	return redact.DetectorFunc(func(ctx context.Context, img image.Image) ([]redact.Detection, error) {
		dets, err := f.DetectImage(ctx, img)
		out := make([]redact.Detection, len(dets))
		for i, d := range dets {
			out[i] = redact.Detection{Box: d.Box, Score: d.Score}
		}
		return out, err
	})
}

// ffmpegVersion is the first line of `ffmpeg -version`, for manifests.
func ffmpegVersion() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := media.Run(ctx, media.Limits{Timeout: 10 * time.Second, MaxBytes: 1 << 30}, "ffmpeg", "-hide_banner", "-version")
	if err != nil {
		return "ffmpeg (version unknown)"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
