package media

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/glasshouse/glasshouse"
)

// ExtractAudio writes one audio stream of path to outWav as a 16 kHz mono
// 16-bit PCM WAV file, the input speech engines expect. streamIndex is the
// stream's index in the container (Stream.Index); a negative index takes
// the first audio stream. A stream that is not audio, or does not exist,
// is ErrInvalid.
func ExtractAudio(ctx context.Context, l Limits, path string, streamIndex int, outWav string) error {
	const op = "media.ExtractAudio"
	if err := statInput(path); err != nil {
		return openErr(op, path, err)
	}
	spec := "0:a:0"
	if streamIndex >= 0 {
		spec = "0:" + strconv.Itoa(streamIndex)
	}
	_, err := Run(ctx, l, "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y",
		"-i", fileArg(path), "-map", spec, "-vn", "-sn", "-dn",
		"-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-f", "wav", fileArg(outWav))
	if err != nil {
		_ = os.Remove(outWav)
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		msg := err.Error()
		if strings.Contains(msg, "matches no streams") || strings.Contains(msg, "does not contain any stream") {
			return glasshouse.E(op, glasshouse.ErrInvalid, err, fmt.Sprintf("stream %s is not an audio stream", spec))
		}
		return glasshouse.E(op, glasshouse.ErrCorrupt, err, fmt.Sprintf("cannot decode audio stream %s", spec))
	}
	return nil
}
