package main

import (
	"log/slog"
	"os"
	"path/filepath"
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
	"github.com/glasshouse/glasshouse/media"
)

type analyzerSet struct {
	analyzers   []glasshouse.Analyzer
	derived     []glasshouse.Analyzer
	unavailable []glasshouse.AnalyzerStatus
	closers     []func()
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
		}
	}
	s.derived = append(s.derived, keywords.New())
	return s
}
