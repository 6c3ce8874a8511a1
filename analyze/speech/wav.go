package speech

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// The analyzer's WAV files are what ffmpeg writes for
// -ac 1 -ar 16000 -c:a pcm_s16le: 16 kHz, mono, 16-bit little endian.
const (
	sampleRate     = 16000
	bytesPerSample = 2
	frameSamples   = sampleRate / 100 // 10 ms energy frames
)

// wavData locates the PCM samples in a WAV file.
type wavData struct {
	offset   int64 // byte offset of the first sample
	size     int64 // bytes of sample data
	channels int
	rate     int
	bits     int
}

// check reports whether d is 16 kHz mono s16le.
func (d wavData) check() error {
	if d.channels != 1 || d.rate != sampleRate || d.bits != 16 {
		return fmt.Errorf("wav is %d ch %d Hz %d bit, want 1 ch 16000 Hz 16 bit", d.channels, d.rate, d.bits)
	}
	return nil
}

// wavDuration returns the length in seconds of the PCM WAV file f.
func wavDuration(f io.ReadSeeker) (float64, error) {
	d, err := readWAVHeader(f)
	if err != nil {
		return 0, err
	}
	bps := d.rate * d.channels * d.bits / 8
	if bps <= 0 {
		return 0, errors.New("bad wav format")
	}
	return float64(d.size) / float64(bps), nil
}

// readWAVHeader walks the RIFF chunks of f up to "data".
func readWAVHeader(f io.ReadSeeker) (wavData, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return wavData{}, fmt.Errorf("read wav header: %w", err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return wavData{}, errors.New("not a RIFF/WAVE file")
	}
	pos := int64(12)
	var d wavData
	fmtOK := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(f, ch[:]); err != nil {
			return wavData{}, fmt.Errorf("read wav chunk: %w", err)
		}
		pos += 8
		id := string(ch[0:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			b := make([]byte, size)
			if _, err := io.ReadFull(f, b); err != nil {
				return wavData{}, fmt.Errorf("read wav fmt: %w", err)
			}
			if len(b) < 16 {
				return wavData{}, errors.New("short wav fmt chunk")
			}
			d.channels = int(binary.LittleEndian.Uint16(b[2:4]))
			d.rate = int(binary.LittleEndian.Uint32(b[4:8]))
			d.bits = int(binary.LittleEndian.Uint16(b[14:16]))
			fmtOK = true
			pos += size
			if size%2 == 1 {
				if _, err := f.Seek(1, io.SeekCurrent); err != nil {
					return wavData{}, err
				}
				pos++
			}
		case "data":
			if !fmtOK {
				return wavData{}, errors.New("wav data before fmt")
			}
			end, err := f.Seek(0, io.SeekEnd)
			if err != nil {
				return wavData{}, err
			}
			// ffmpeg writing to a pipe or a huge file may leave the size
			// unset; trust the file length then.
			if size == 0 || size == 0xffffffff || pos+size > end {
				size = end - pos
			}
			size -= size % bytesPerSample
			d.offset, d.size = pos, size
			return d, nil
		default:
			if _, err := f.Seek(size+size%2, io.SeekCurrent); err != nil {
				return wavData{}, err
			}
			pos += size + size%2
		}
	}
}

// frameEnergies returns the mean square sample value of each 10 ms frame.
func frameEnergies(f io.ReadSeeker, d wavData) ([]float64, error) {
	if _, err := f.Seek(d.offset, io.SeekStart); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(io.LimitReader(f, d.size), 1<<16)
	n := int(d.size / (bytesPerSample * frameSamples))
	out := make([]float64, 0, n+1)
	buf := make([]byte, bytesPerSample*frameSamples)
	for {
		k, err := io.ReadFull(br, buf)
		if k >= bytesPerSample {
			var sum float64
			m := k / bytesPerSample
			for i := 0; i < m; i++ {
				s := float64(int16(binary.LittleEndian.Uint16(buf[2*i:])))
				sum += s * s
			}
			out = append(out, sum/float64(m))
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// planCuts chooses the frames (10 ms units) at which to cut audio of
// len(energy) frames so that no piece is longer than maxFrames, and the
// audio is cut into about `parts` pieces when each stays at least
// minFrames long. Each cut is placed at the middle of the quietest
// window of quietFrames within the last third of the allowed span, so
// that cuts fall in pauses between words where there are any.
func planCuts(energy []float64, maxFrames, minFrames, parts int) []int {
	total := len(energy)
	if maxFrames <= 0 || total <= maxFrames && (parts <= 1 || total < 2*minFrames) {
		return nil
	}
	target := maxFrames
	if parts > 1 {
		per := (total + parts - 1) / parts
		if per < minFrames {
			per = minFrames
		}
		if per < target {
			target = per
		}
	}
	const quietFrames = 30 // 300 ms
	// prefix sums for window energy
	pre := make([]float64, total+1)
	for i, e := range energy {
		pre[i+1] = pre[i] + e
	}
	var cuts []int
	start := 0
	for total-start > target {
		if total-start < target+minFrames && total-start <= maxFrames {
			break // the tail would be a sliver: leave it on the last piece
		}
		lo := start + target*2/3
		hi := start + target
		if hi > total-quietFrames {
			hi = total - quietFrames
		}
		best, bestE := hi, math.Inf(1)
		for c := lo; c <= hi; c++ {
			a, b := c-quietFrames/2, c+quietFrames/2
			if a < 0 || b > total {
				continue
			}
			if e := pre[b] - pre[a]; e <= bestE {
				best, bestE = c, e
			}
		}
		if best <= start {
			best = start + target
		}
		cuts = append(cuts, best)
		start = best
	}
	return cuts
}

// chunk is one piece of a track, written as its own WAV file.
type chunk struct {
	path     string
	offsetMS int64
}

// cut splits wav into chunks per the analyzer's settings, writing pieces
// next to prefix. Audio that needs no cut is returned as one chunk, the
// file itself.
func (a *Analyzer) cut(wav, prefix string) ([]chunk, error) {
	f, err := os.Open(wav)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := readWAVHeader(f)
	if err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	maxFrames := int(a.cfg.ChunkSec * 100)
	minFrames := int(a.cfg.MinChunkSec * 100)
	totalFrames := int(d.size / (bytesPerSample * frameSamples))
	if totalFrames <= maxFrames && (a.cfg.Concurrency <= 1 || totalFrames < 2*minFrames) {
		return []chunk{{path: wav}}, nil
	}
	energy, err := frameEnergies(f, d)
	if err != nil {
		return nil, err
	}
	cuts := planCuts(energy, maxFrames, minFrames, a.cfg.Concurrency)
	if len(cuts) == 0 {
		return []chunk{{path: wav}}, nil
	}
	bounds := append([]int{0}, cuts...)
	var out []chunk
	for i, startFrame := range bounds {
		off := d.offset + int64(startFrame)*bytesPerSample*frameSamples
		end := d.offset + d.size
		if i+1 < len(bounds) {
			end = d.offset + int64(bounds[i+1])*bytesPerSample*frameSamples
		}
		p := prefix + "-" + strconv.Itoa(i) + ".wav"
		if err := writeWAV(p, io.NewSectionReader(f, off, end-off), end-off); err != nil {
			return nil, err
		}
		out = append(out, chunk{path: p, offsetMS: int64(startFrame) * 10})
	}
	return out, nil
}

// writeWAV writes a 16 kHz mono s16le WAV file of n sample bytes from r.
func writeWAV(path string, r io.Reader, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+n))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], 1) // mono
	binary.LittleEndian.PutUint32(h[24:], sampleRate)
	binary.LittleEndian.PutUint32(h[28:], sampleRate*bytesPerSample)
	binary.LittleEndian.PutUint16(h[32:], bytesPerSample)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(n))
	bw := bufio.NewWriterSize(f, 1<<16)
	if _, err := bw.Write(h[:]); err != nil {
		f.Close()
		return err
	}
	if _, err := io.CopyN(bw, r, n); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
