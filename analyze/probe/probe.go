// Package probe is the analyzer that reads container metadata (duration,
// streams, size, rotation, creation time) with ffprobe.
package probe

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// Analyzer runs ffprobe on an asset. It accepts every kind.
type Analyzer struct {
	limits media.Limits

	once    sync.Once
	version string // "ffprobe 5.1.9-0+deb12u1"
}

var _ glasshouse.Analyzer = (*Analyzer)(nil)

// New returns the probe analyzer; external processes run under l.
func New(l media.Limits) *Analyzer { return &Analyzer{limits: l} }

// Name implements glasshouse.Analyzer.
func (a *Analyzer) Name() string { return "probe" }

// Version implements glasshouse.Analyzer.
func (a *Analyzer) Version() string { return "1" }

// Accepts implements glasshouse.Analyzer: images, audio and video.
func (a *Analyzer) Accepts(kind glasshouse.MediaKind) bool {
	return kind == glasshouse.KindImage || kind == glasshouse.KindAudio || kind == glasshouse.KindVideo
}

// Model returns "ffprobe <version>", read from `ffprobe -version` on first use.
func (a *Analyzer) Model(ctx context.Context) string {
	a.once.Do(func() {
		out, err := media.Run(ctx, a.limits, "ffprobe", "-version")
		a.version = "ffprobe"
		if err == nil {
			if v := parseVersion(string(out)); v != "" {
				a.version = "ffprobe " + v
			}
		}
	})
	return a.version
}

// parseVersion reads "5.1.9-0+deb12u1" from "ffprobe version 5.1.9-0+deb12u1 Copyright ...".
func parseVersion(out string) string {
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "version" {
			return f[i+1]
		}
	}
	return ""
}

// Analyze implements glasshouse.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in glasshouse.Input) (*glasshouse.Result, error) {
	start := time.Now()
	if in.Path == "" {
		return nil, glasshouse.Errorf("probe.Analyze", glasshouse.ErrInvalid, "no media path")
	}
	pi, err := media.Probe(ctx, a.limits, in.Path)
	if err != nil {
		return nil, fmt.Errorf("probe.Analyze: %w", err)
	}
	if in.Progress != nil {
		in.Progress(1)
	}
	res := &glasshouse.Result{
		Run: glasshouse.AnalyzerRun{
			Name:       a.Name(),
			Version:    a.Version(),
			State:      glasshouse.JobDone,
			Model:      a.Model(ctx),
			Started:    start,
			DurationMS: time.Since(start).Milliseconds(),
		},
		Insights: glasshouse.Insights{Probe: pi},
	}
	if in.Asset != nil {
		res.Asset, res.Tenant = in.Asset.ID, in.Asset.Tenant
	}
	return res, nil
}
