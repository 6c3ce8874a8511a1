// Command searchbench measures the SQLite FTS5 search index on synthetic
// segments: build time, size on disk, memory, and query latency per query
// shape next to a plain FTS5 baseline on the same rows.
//
//	go run ./bench/searchbench -n 1000000 -seed 1
//
// Text is drawn from a Zipf distribution over a 50,000-word synthetic
// vocabulary; segments are spread over n/50 assets, 4 tenants, 10
// collections per tenant, and the segment kinds in realistic proportions.
// Queries run as the largest tenant.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
	"github.com/glasshouse/glasshouse/search/sqlitefts"
	"github.com/glasshouse/glasshouse/sqlite"
)

func main() {
	var (
		n        = flag.Int("n", 100000, "segments to index")
		seed     = flag.Int64("seed", 1, "random seed")
		queries  = flag.Int("queries", 200, "queries per shape")
		dbPath   = flag.String("db", "", "database file (default: a temporary file, removed at the end)")
		reuse    = flag.Bool("reuse", false, "use the index already in -db instead of building it")
		optimize = flag.Bool("optimize", true, "merge the FTS5 index after building")
		batch    = flag.Int("batch", 5000, "segments per transaction while building")
		backend  = flag.String("backend", "sqlite", "sqlite, or postgres: also build the same segments into the PostgreSQL tsvector index (a throwaway cluster) and print its latencies next to the embedded index's")
		only     = flag.String("shape", "", "run only the query shapes whose name contains this")
		bound    = flag.Int("bound", 0, "candidate bound of the index (0: sqlitefts.DefaultBound)")
		cpuprof  = flag.String("cpuprofile", "", "write a CPU profile of the queries to this file")
		mmap     = flag.Int64("mmap", sqlite.MmapSize, "PRAGMA mmap_size, as glasshouse serve sets it")
		cache    = flag.Int64("cache", sqlite.CacheSize, "PRAGMA cache_size, as glasshouse serve sets it")
		slow     = flag.Duration("slow", 0, "print the queries that take more CPU time than this")
	)
	flag.Parse()
	cfg = config{only: *only, bound: *bound, cpuprofile: *cpuprof, mmap: *mmap, cache: *cache, slow: *slow}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	pgBackend = *backend == "postgres"
	if err := run(context.Background(), log, *n, *seed, *queries, *dbPath, *reuse, *optimize, *batch); err != nil {
		log.Error("searchbench", "err", err)
		os.Exit(1)
	}
}

// corpus generates the synthetic data deterministically.
type corpus struct {
	r      *rand.Rand
	zipf   *rand.Zipf
	vocab  []string
	labels []string
	n      int
	assets int
}

var labelNames = []string{
	"person", "dog", "cat", "car", "truck", "bus", "bicycle", "motorcycle", "boat", "airplane", "train",
	"traffic light", "stop sign", "bench", "bird", "horse", "sheep", "cow", "backpack", "umbrella",
	"handbag", "bottle", "cup", "chair", "couch", "potted plant", "bed", "dining table", "tv", "laptop",
	"cell phone", "book", "clock", "fire hydrant", "building", "tree", "sky", "road", "water", "crowd",
}

func newCorpus(seed int64, n int) *corpus {
	r := rand.New(rand.NewSource(seed))
	c := &corpus{r: r, n: n, labels: labelNames, assets: max(1, n/50)}
	cons := []string{"b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "st", "tr", "ch", "sh", "pl"}
	vows := []string{"a", "e", "i", "o", "u", "ai", "ea", "ou", "io"}
	seen := map[string]bool{}
	for len(c.vocab) < 50000 {
		var b strings.Builder
		for range 1 + r.Intn(4) {
			b.WriteString(cons[r.Intn(len(cons))])
			b.WriteString(vows[r.Intn(len(vows))])
		}
		if r.Intn(3) == 0 {
			b.WriteString(cons[r.Intn(len(cons))])
		}
		w := b.String()
		if len(w) < 2 || seen[w] {
			continue
		}
		seen[w] = true
		c.vocab = append(c.vocab, w)
	}
	// Word rank k has probability proportional to 1/(k+2.7)^1.07, close to
	// the distribution of English text.
	c.zipf = rand.NewZipf(r, 1.07, 2.7, uint64(len(c.vocab)-1))
	return c
}

func (c *corpus) words(k int) string {
	ws := make([]string, k)
	for i := range ws {
		ws[i] = c.vocab[c.zipf.Uint64()]
	}
	return strings.Join(ws, " ")
}

// segment returns segment i; segments of one asset are contiguous, as an
// ingest writes them.
func (c *corpus) segment(i int) glasshouse.Segment {
	ai := int(int64(i) * int64(c.assets) / int64(c.n))
	ar := rand.New(rand.NewSource(int64(ai)*7919 + 1))
	tenant := 0 // 70% of the assets belong to t0
	if x := ar.Intn(10); x >= 7 {
		tenant = x - 6
	}
	kinds := []glasshouse.MediaKind{glasshouse.KindVideo, glasshouse.KindVideo, glasshouse.KindAudio, glasshouse.KindImage}
	s := glasshouse.Segment{
		Asset:      glasshouse.AssetID(fmt.Sprintf("asset-%07d", ai)),
		Tenant:     glasshouse.TenantID(fmt.Sprintf("t%d", tenant)),
		Collection: fmt.Sprintf("c%d", ar.Intn(10)),
		MediaKind:  kinds[ar.Intn(len(kinds))],
		Created:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(ar.Intn(600*24)) * time.Hour),
		StartMS:    int64(c.r.Intn(3600_000)),
	}
	switch x := c.r.Intn(100); {
	case x < 60:
		s.Kind, s.Source, s.Text = glasshouse.SegSpeech, "speech", c.words(8+c.r.Intn(23))
		s.Confidence = 0.5 + c.r.Float64()/2
	case x < 80:
		s.Kind, s.Source, s.Text = glasshouse.SegText, "ocr", c.words(2+c.r.Intn(7))
		s.Confidence = 0.4 + c.r.Float64()*0.6
	case x < 95:
		s.Kind, s.Source, s.Text = glasshouse.SegLabel, "labels", c.labels[c.r.Intn(len(c.labels))]
		s.Confidence = 0.3 + c.r.Float64()*0.7
	default:
		s.Kind, s.Source, s.Text = glasshouse.SegKeyword, "keywords", c.words(1+c.r.Intn(2))
		s.Confidence = c.r.Float64()
	}
	s.EndMS = s.StartMS + int64(1000+c.r.Intn(9000))
	return s
}

type shape struct {
	name     string
	queries  []string // glasshouse queries
	baseline []string // plain FTS5 MATCH expressions
}

func (c *corpus) shapes(k int, samples []string) []shape {
	r := rand.New(rand.NewSource(99))
	pick := func(lo, hi int) string { return c.vocab[lo+r.Intn(hi-lo)] }
	q := func(s string) string { return `"` + s + `"` }
	// The baseline searches the text column, as the index does.
	col := func(s string) string { return "text : (" + s + ")" }
	var sh []shape
	add := func(name string, gen func() (string, string)) {
		s := shape{name: name}
		for range k {
			a, b := gen()
			s.queries = append(s.queries, a)
			s.baseline = append(s.baseline, b)
		}
		sh = append(sh, s)
	}
	add("common word", func() (string, string) { w := pick(10, 100); return w, col(q(w)) })
	add("rare word", func() (string, string) { w := pick(5000, 40000); return w, col(q(w)) })
	add("two words", func() (string, string) {
		a, b := pick(20, 300), pick(20, 300)
		return a + " " + b, col(q(a) + " AND " + q(b))
	})
	add("phrase", func() (string, string) {
		ws := strings.Fields(samples[r.Intn(len(samples))])
		i := r.Intn(len(ws) - 1)
		p := ws[i] + " " + ws[i+1]
		return q(p), col(q(p))
	})
	add("prefix", func() (string, string) {
		w := pick(100, 2000)
		for len(w) < 4 {
			w = pick(100, 2000)
		}
		p := w[:3+r.Intn(2)]
		return p + "*", col(q(p) + " *")
	})
	add("filtered", func() (string, string) {
		w := pick(50, 1000)
		return fmt.Sprintf("in:speech collection:c%d %s", r.Intn(10), w), col(q(w))
	})
	add("combined", func() (string, string) {
		w := pick(50, 1000)
		l := c.labels[r.Intn(len(c.labels))]
		return fmt.Sprintf("label:%s AND in:text %s", q(l), w), col(q(w))
	})
	return sh
}

// config holds the flags that tune a run.
type config struct {
	only       string
	bound      int
	cpuprofile string
	mmap       int64
	cache      int64
	slow       time.Duration
}

var cfg config

func run(ctx context.Context, log *slog.Logger, n int, seed int64, nq int, dbPath string, reuse, optimize bool, batch int) error {
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "searchbench")
		if err != nil {
			return fmt.Errorf("temp dir: %w", err)
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "bench.db")
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=mmap_size("+fmt.Sprint(cfg.mmap)+")&_pragma=cache_size("+fmt.Sprint(cfg.cache)+")")
	if err != nil {
		return fmt.Errorf("open %s: %w", dbPath, err)
	}
	defer db.Close()
	x, err := sqlitefts.New(ctx, db)
	if err != nil {
		return err
	}
	x.SetBound(cfg.bound)
	c := newCorpus(seed, n)
	seedUsed = seed
	var samples []string
	fmt.Printf("searchbench: %d segments, %d assets, seed %d, %s/%s, %d CPUs\n", n, c.assets, seed, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if !reuse {
		start := time.Now()
		buf := make([]glasshouse.Segment, 0, batch)
		for i := range n {
			s := c.segment(i)
			if s.Kind == glasshouse.SegSpeech && len(samples) < 5000 && c.r.Intn(50) == 0 {
				samples = append(samples, s.Text)
			}
			buf = append(buf, s)
			if len(buf) == batch || i == n-1 {
				if err := x.Upsert(ctx, buf...); err != nil {
					return err
				}
				buf = buf[:0]
			}
			if (i+1)%200000 == 0 {
				log.Info("building", "segments", i+1, "elapsed", time.Since(start).Round(time.Second))
			}
		}
		build := time.Since(start)
		fmt.Printf("build:    %v (%.0f segments/s, batches of %d)\n", build.Round(time.Millisecond), float64(n)/build.Seconds(), batch)
		if optimize {
			start = time.Now()
			if err := x.Optimize(ctx); err != nil {
				return err
			}
			fmt.Printf("optimize: %v\n", time.Since(start).Round(time.Millisecond))
		}
	} else {
		for i := range n { // regenerate the phrase samples
			s := c.segment(i)
			if s.Kind == glasshouse.SegSpeech && len(samples) < 5000 && c.r.Intn(50) == 0 {
				samples = append(samples, s.Text)
			}
		}
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if fi, err := os.Stat(dbPath); err == nil {
		fmt.Printf("size:     %.1f MiB on disk (%.0f bytes/segment)\n", float64(fi.Size())/(1<<20), float64(fi.Size())/float64(n))
	}
	shapes := c.shapes(nq, samples)
	fmt.Printf("\nlatency over %d queries per shape, tenant t0 (70%% of assets), 20 asset groups per page:\n", nq)
	fmt.Printf("load average before queries: %s\n", loadavg())
	fmt.Printf("%-12s | %9s %9s %9s %7s %5s | %9s %9s %9s | %6s %6s | %8s %8s %8s %8s\n", "shape", "p50", "p99", "max", "assets", "est", "base p50", "base p99", "base max", "×p50", "×p99", "cpu p50", "cpu p99", "bcpu p50", "bcpu p99")
	fmt.Println(strings.Repeat("-", 150))
	baseQ, err := db.PrepareContext(ctx, "SELECT rowid FROM search_fts WHERE search_fts MATCH ? ORDER BY rank LIMIT 20")
	if err != nil {
		return fmt.Errorf("prepare baseline: %w", err)
	}
	defer baseQ.Close()
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	for _, s := range shapes {
		if !strings.Contains(s.name, cfg.only) {
			continue
		}
		var lat, blat, cpu, bcpu []time.Duration
		total, estimated := 0, 0
		for i, text := range s.queries {
			t0, c0 := time.Now(), cpuTime()
			h, err := x.Search(ctx, search.Query{Tenant: "t0", Text: text})
			if err != nil {
				return fmt.Errorf("%s %q: %w", s.name, text, err)
			}
			lat = append(lat, time.Since(t0))
			cpu = append(cpu, cpuTime()-c0)
			if cfg.slow > 0 && cpu[len(cpu)-1] > cfg.slow {
				fmt.Printf("  slow: %q %v CPU, %v wall, %d assets\n", text, cpu[len(cpu)-1], lat[len(lat)-1], h.Total)
			}
			total += h.Total
			if h.TotalEstimated {
				estimated++
			}

			t0, c0 = time.Now(), cpuTime()
			rows, err := baseQ.QueryContext(ctx, s.baseline[i])
			if err != nil {
				return fmt.Errorf("baseline %q: %w", s.baseline[i], err)
			}
			for rows.Next() {
			}
			rows.Close()
			blat = append(blat, time.Since(t0))
			bcpu = append(bcpu, cpuTime()-c0)
		}
		p := pct(lat)
		b := pct(blat)
		c, bc := pct(cpu), pct(bcpu)
		fmt.Printf("%-12s | %9s %9s %9s %7d %4d%% | %9s %9s %9s | %6.1f %6.1f | %8s %8s %8s %8s\n", s.name, ms(p[0]), ms(p[1]), ms(p[2]), total/len(s.queries), 100*estimated/len(s.queries),
			ms(b[0]), ms(b[1]), ms(b[2]), float64(p[0])/float64(b[0]), float64(p[1])/float64(b[1]), ms(c[0]), ms(c[1]), ms(bc[0]), ms(bc[1]))
	}
	if pgBackend {
		if err := runPostgres(ctx, log, c, n, batch, shapes, x); err != nil {
			return err
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf("\nGo heap: %.1f MiB in use, %.1f MiB from the OS; %s\n", float64(m.HeapAlloc)/(1<<20), float64(m.Sys)/(1<<20), rss())
	fmt.Printf("load average after queries: %s\n", loadavg())
	fmt.Println("assets = mean number of matching asset groups (Total); est = share of queries whose Total is a lower bound (TotalEstimated: more matches than the candidate bound)")
	fmt.Println("cpu = CPU time of the process per query (user+system, getrusage): what the query costs with a core to itself; on a shared machine the wall time adds the wait for a core")
	fmt.Println("base = SELECT rowid FROM search_fts WHERE search_fts MATCH 'text : (...)' ORDER BY rank LIMIT 20 (no tenant, no filters, no grouping, no snippets)")
	return nil
}

func pct(d []time.Duration) [3]time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return [3]time.Duration{at(0.50), at(0.99), s[len(s)-1]}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "RSS unknown"
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "VmHWM:") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, ", ") + " (VmHWM = peak RSS)"
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// cpuTime returns the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
