package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
)

type ingestResult struct {
	Path      string            `json:"path"`
	Asset     *glasshouse.Asset `json:"asset,omitempty"`
	Duplicate bool              `json:"duplicate,omitempty"`
	Error     *errorBody        `json:"error,omitempty"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type ingestFile struct {
	path string
	size int64
	err  error
}

func cmdIngest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "ingest", "[flags] PATH...")
	var b backendFlags
	b.register(fs)
	server := fs.String("server", os.Getenv("GLASSHOUSE_SERVER"), "URL of a running glasshouse server (default: write straight into --data)")
	token := fs.String("token", "", "API token for --server (default $GLASSHOUSE_TOKEN; create one with `glasshouse token create`)")
	collection := fs.String("collection", "", "collection to put the files in")
	asJSON := fs.Bool("json", false, "print one JSON object per file instead of a table")
	analyze := fs.Bool("analyze", false, "with --data: also run the analyzers now, before returning")
	noProgress := fs.Bool("no-progress", false, "do not draw the progress bar")
	var lim limitFlags
	lim.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitError{code: 2, msg: "no files or folders given"}
	}
	files := collectFiles(fs.Args())
	var total int64
	for _, f := range files {
		total += f.size
	}

	var upload func(ctx context.Context, f ingestFile, r io.Reader) ingestResult
	var a *app.App
	if *server != "" {
		client := &http.Client{}
		base := strings.TrimRight(*server, "/")
		tok := *token
		if tok == "" {
			tok = os.Getenv("GLASSHOUSE_TOKEN")
		}
		if tok == "" {
			return exitError{code: 2, msg: "--server needs an API token: --token or $GLASSHOUSE_TOKEN (glasshouse token create)"}
		}
		upload = func(ctx context.Context, f ingestFile, r io.Reader) ingestResult {
			return uploadHTTP(ctx, client, base, tok, f, r, *collection)
		}
	} else {
		cfg := b.config()
		cfg.Logger = e.log
		lim.apply(&cfg)
		var set *analyzerSet
		if *analyze {
			set = buildAnalyzers(e.log, b)
			defer set.close()
			cfg.Analyzers, cfg.Derived = set.analyzers, set.derived
		} else {
			// Queue jobs for every analyzer known here; `serve` runs them.
			set = buildAnalyzers(e.log, b)
			defer set.close()
			cfg.Analyzers = set.analyzers
		}
		var err error
		a, err = app.Open(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		actor := b.actor()
		upload = func(ctx context.Context, f ingestFile, r io.Reader) ingestResult {
			as, dup, err := a.Ingest(ctx, actor, filepath.Base(f.path), *collection, r)
			if err != nil {
				return ingestResult{Path: f.path, Error: &errorBody{Code: glasshouse.ErrorCode(err), Message: err.Error()}}
			}
			return ingestResult{Path: f.path, Asset: as, Duplicate: dup}
		}
	}

	progOut := io.Writer(e.stderr)
	if *noProgress || !isTerminal(e.stderr) {
		progOut = io.Discard
	}
	p := mpb.NewWithContext(ctx, mpb.WithOutput(progOut), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	done := 0
	bar := p.AddBar(total,
		mpb.PrependDecorators(
			decor.Any(func(decor.Statistics) string { return fmt.Sprintf("%d/%d files", done, len(files)) }, decor.WCSyncSpaceR),
			decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WCSyncSpace),
		),
		mpb.AppendDecorators(
			decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30, decor.WCSyncSpace),
			decor.OnComplete(decor.EwmaETA(decor.ET_STYLE_GO, 30, decor.WCSyncSpace), " done"),
		),
	)
	var results []ingestResult
	failed := 0
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		var res ingestResult
		if f.err != nil {
			res = ingestResult{Path: f.path, Error: &errorBody{Code: glasshouse.ErrorCode(f.err), Message: f.err.Error()}}
		} else if fh, err := os.Open(f.path); err != nil {
			res = ingestResult{Path: f.path, Error: &errorBody{Code: "unreadable", Message: fmt.Sprintf("cannot read %s: %v", f.path, errors.Unwrap(err))}}
		} else {
			start := time.Now()
			_ = start
			res = upload(ctx, f, progressFile{File: fh, r: bar.ProxyReader(fh)})
			fh.Close()
		}
		done++
		if res.Error != nil {
			failed++
		}
		results = append(results, res)
		if *asJSON {
			b, _ := json.Marshal(res)
			p.Write(append(b, '\n')) //nolint:errcheck
			if progOut == io.Discard {
				e.stdout.Write(append(b, '\n'))
			}
		} else {
			line := formatResult(res)
			if progOut == io.Discard {
				fmt.Fprintln(e.stdout, line)
			} else {
				fmt.Fprintln(p, line)
			}
		}
	}
	bar.SetTotal(-1, true)
	bar.Abort(false) // no-op once complete; releases Wait when files were skipped
	p.Wait()
	if *analyze && a != nil {
		fmt.Fprintln(e.stderr, "analyzing...")
		if err := a.RunPending(ctx); err != nil {
			return err
		}
	}
	if !*asJSON {
		fmt.Fprintf(e.stdout, "%d stored, %d rejected\n", len(results)-failed, failed)
	}
	if failed > 0 {
		return exitError{code: 1}
	}
	return nil
}

func formatResult(r ingestResult) string {
	switch {
	case r.Error != nil:
		return fmt.Sprintf("rejected   %s: %s (%s)", r.Path, r.Error.Message, r.Error.Code)
	case r.Duplicate:
		return fmt.Sprintf("duplicate  %s  %s (already stored)", r.Asset.ID, r.Path)
	default:
		dur := ""
		if r.Asset.Probe != nil && r.Asset.Probe.DurationMS > 0 {
			dur = " " + fmtDur(r.Asset.Probe.DurationMS)
		}
		return fmt.Sprintf("stored     %s  %s  %s %s%s", r.Asset.ID, r.Path, r.Asset.MediaType, humanBytes(r.Asset.Size), dur)
	}
}

// collectFiles expands folders recursively, in a stable order. Unreadable
// entries are kept with their error so they are reported, not skipped.
func collectFiles(args []string) []ingestFile {
	var out []ingestFile
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			out = append(out, ingestFile{path: arg, err: glasshouse.Errorf("ingest", glasshouse.ErrNotExist, "cannot read %s: %v", arg, unwrapPathErr(err))})
			continue
		}
		if !st.IsDir() {
			out = append(out, ingestFile{path: arg, size: st.Size()})
			continue
		}
		var sub []ingestFile
		_ = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				sub = append(sub, ingestFile{path: p, err: glasshouse.Errorf("ingest", glasshouse.ErrInvalid, "cannot read %s: %v", p, unwrapPathErr(err))})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				sub = append(sub, ingestFile{path: p, err: err})
				return nil
			}
			sub = append(sub, ingestFile{path: p, size: info.Size()})
			return nil
		})
		sort.Slice(sub, func(i, j int) bool { return sub[i].path < sub[j].path })
		out = append(out, sub...)
	}
	return out
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func uploadHTTP(ctx context.Context, c *http.Client, base, token string, f ingestFile, r io.Reader, collection string) ingestResult {
	q := url.Values{"name": {filepath.Base(f.path)}}
	if collection != "" {
		q.Set("collection", collection)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/assets?"+q.Encode(), r)
	if err != nil {
		return ingestResult{Path: f.path, Error: &errorBody{Code: "invalid", Message: err.Error()}}
	}
	req.ContentLength = f.size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return ingestResult{Path: f.path, Error: &errorBody{Code: "unavailable", Message: fmt.Sprintf("upload to %s: %v", base, err)}}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var eb struct {
			Error errorBody `json:"error"`
		}
		if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
			return ingestResult{Path: f.path, Error: &eb.Error}
		}
		return ingestResult{Path: f.path, Error: &errorBody{Code: "http_" + fmt.Sprint(resp.StatusCode), Message: strings.TrimSpace(string(body))}}
	}
	var out struct {
		glasshouse.Asset
		Duplicate bool `json:"duplicate"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return ingestResult{Path: f.path, Error: &errorBody{Code: "internal", Message: "bad server reply: " + err.Error()}}
	}
	as := out.Asset
	return ingestResult{Path: f.path, Asset: &as, Duplicate: out.Duplicate}
}

func cliUser() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// progressFile reads through the progress bar but keeps the file's ReadAt,
// Seek and Stat, so that an S3 blob store can upload it straight from the
// file (parts in parallel under the final key, see blobstore/s3file.go)
// rather than as a stream. The bar counts the sequential (hashing) read.
type progressFile struct {
	*os.File
	r io.Reader
}

func (p progressFile) Read(b []byte) (int, error) { return p.r.Read(b) }
