package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/vision"
	"github.com/glasshouse/glasshouse/app"
)

// backendFlags are the flags that choose where data lives.
type backendFlags struct {
	data, blobs, db, models string
	speechURL, speechModel  string
	tenant                  string
}

func (b *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.data, "data", envOr("GLASSHOUSE_DATA", "glasshouse-data"), "data folder of the embedded default (blobs + SQLite)")
	fs.StringVar(&b.blobs, "blobs", os.Getenv("GLASSHOUSE_BLOBS"), "blob store URL (default file://<data>/blobs; s3://bucket?endpoint=... for S3)")
	fs.StringVar(&b.db, "db", os.Getenv("GLASSHOUSE_DB"), "database URL (default sqlite://<data>/glasshouse.db)")
	fs.StringVar(&b.speechURL, "speech-url", os.Getenv("GLASSHOUSE_SPEECH_URL"), "use a remote OpenAI-compatible speech server (base URL serving /v1/audio/transcriptions) instead of the built-in pocketsphinx; API key from $GLASSHOUSE_SPEECH_API_KEY")
	fs.StringVar(&b.speechModel, "speech-model", envOr("GLASSHOUSE_SPEECH_MODEL", "whisper-1"), "model name sent to the remote speech server")
	fs.StringVar(&b.tenant, "tenant", envOr("GLASSHOUSE_TENANT", string(glasshouse.DefaultTenant)), "tenant the command acts in (as the local actor cli:$USER)")
	fs.StringVar(&b.models, "models", envOr("GLASSHOUSE_MODELS", defaultModels()), "folder of provisioned models (make models)")
}

// actor is the local command-line user acting in --tenant.
func (b *backendFlags) actor() glasshouse.Actor {
	return glasshouse.Actor{Tenant: glasshouse.TenantID(b.tenant), User: cliUser()}
}

func (b *backendFlags) config() app.Config {
	return app.Config{DataDir: b.data, BlobsURL: b.blobs, DBURL: b.db}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// defaultModels finds the models folder: ./.models (a checkout), else next
// to the binary.
func defaultModels() string {
	if st, err := os.Stat(".models"); err == nil && st.IsDir() {
		return ".models"
	}
	if exe, err := os.Executable(); err == nil {
		for _, p := range []string{filepath.Join(filepath.Dir(exe), ".models"), filepath.Join(filepath.Dir(exe), "..", ".models")} {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				return p
			}
		}
	}
	return vision.DefaultModelsDir()
}

func newFlagSet(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: glasshouse %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitError{code: 0}
		}
		return exitError{code: 2}
	}
	return nil
}

func fmtDur(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	h := int(d.Hours())
	m := int(d.Minutes()) % 60
	s := d.Seconds() - float64(h*3600+m*60)
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%04.1f", h, m, s)
	}
	return fmt.Sprintf("%d:%04.1f", m, s)
}
