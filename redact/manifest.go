package redact

import (
	"time"

	"github.com/glasshouse/glasshouse"
)

// ManifestVersion is the version of the manifest format.
const ManifestVersion = 1

// Manifest records what a render removed, where and when, with which models
// and settings. It is stored with the render and downloadable.
type Manifest struct {
	Format  int       `json:"format"`
	Render  string    `json:"render"`
	Created time.Time `json:"created"`
	Source  FileRef   `json:"source"`
	Output  FileRef   `json:"output"`
	// Note says in words what kind of processing this was.
	Note     string   `json:"note"`
	Settings Settings `json:"settings"`
	Models   []Model  `json:"models"`
	Software []string `json:"software"` // glasshouse and ffmpeg versions
	Encoder  []string `json:"encoder,omitempty"`
	// Faces are the face tracks covered: when, and the box at each
	// detection (normalised), before padding.
	Faces []FaceTrack `json:"faces"`
	// Regions are the static regions applied (text, manual, adjusted faces).
	Regions []Region `json:"regions"`
	// Skipped are faces left visible because a person turned them off.
	Skipped      []Region   `json:"skipped,omitempty"`
	Audio        []AudioCut `json:"audio"`
	AudioRemoved bool       `json:"audio_removed,omitempty"`
	Frames       int        `json:"frames"`
	Detected     int        `json:"frames_detected"` // frames the detector ran on
	Coverage     Coverage   `json:"coverage"`
}

// FileRef names an asset and its content hash.
type FileRef struct {
	Asset glasshouse.AssetID `json:"asset,omitempty"`
	Name  string             `json:"name,omitempty"`
	Hash  glasshouse.Ref     `json:"hash,omitempty"`
	Size  int64              `json:"size,omitempty"`
}

// Model is a model used by the render.
type Model struct {
	Name    string `json:"name"`
	SHA256  string `json:"sha256"`
	Version string `json:"version"` // version of the code that runs it
	Source  string `json:"source,omitempty"`
}

// FaceTrack is one face followed through the video (geometry only).
type FaceTrack struct {
	ID       int                   `json:"id"`
	StartMS  int64                 `json:"start_ms"`
	EndMS    int64                 `json:"end_ms"`
	MinScore float64               `json:"min_score"`
	MaxScore float64               `json:"max_score"`
	Boxes    []glasshouse.TimedBox `json:"boxes"` // at each detection
}

// Coverage lists frames a person should look at before publishing.
type Coverage struct {
	// LowConfidence: frames where a covered face scored below
	// Settings.ReviewBelow.
	LowConfidence []FrameNote `json:"low_confidence"`
	// Missed: frames where a followed face was expected (seen at the
	// detections before) but the detector did not find it; its last box was
	// kept, grown, over those frames.
	Missed []FrameNote `json:"missed"`
}

// FrameNote is one frame to check.
type FrameNote struct {
	Frame  int            `json:"frame"`
	TimeMS int64          `json:"time_ms"`
	Track  int            `json:"track"`
	Score  float64        `json:"score,omitempty"`
	Box    glasshouse.Box `json:"box"`
}
