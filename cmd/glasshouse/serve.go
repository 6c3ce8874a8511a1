package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/httpapi"
)

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "[flags]")
	var b backendFlags
	b.register(fs)
	addr := fs.String("addr", envOr("GLASSHOUSE_ADDR", "127.0.0.1:8080"), "listen address for the API and web UI")
	workers := fs.Int("workers", 1, "analysis jobs run at once (each analyzer uses every core inside)")
	noWorkers := fs.Bool("no-workers", false, "serve the API and UI only; run `glasshouse worker` elsewhere")
	maxUpload := fs.Int64("max-upload", 64<<30, "largest upload accepted, in bytes")
	lease := fs.Duration("lease", 2*time.Minute, "job lease; a job whose worker stops heart-beating is re-run after this")
	secure := fs.Bool("secure-cookies", true, "mark the session cookie Secure (HTTPS only; browsers also accept it from http://localhost and 127.0.0.1); set false only to reach the server over plain HTTP from another host")
	idle := fs.Duration("session-idle", 2*time.Hour, "sign a browser out after this long without a request")
	maxAge := fs.Duration("session-max", 12*time.Hour, "sign a browser out this long after sign-in, however busy")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg := b.config()
	cfg.Logger = e.log
	cfg.Workers = *workers
	cfg.Lease = *lease
	cfg.MaxUploadBytes = *maxUpload
	cfg.Auth.IdleTimeout, cfg.Auth.MaxSessionAge = *idle, *maxAge
	set := buildAnalyzers(e.log, b)
	defer set.close()
	cfg.Analyzers, cfg.Derived, cfg.Unavailable = set.analyzers, set.derived, set.unavailable
	cfg.SoleWorker = !*noWorkers && isEmbedded(cfg)
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := bootstrapAdmin(ctx, e, a); err != nil {
		return err
	}
	for _, u := range set.unavailable {
		e.log.Warn("analyzer disabled", "analyzer", u.Name, "problem", u.Model.Problem)
	}

	h := httpapi.New(a, httpapi.Options{Logger: e.log, MaxUploadBytes: *maxUpload, Version: app.Version,
		UploadDir: filepath.Join(a.Config().DataDir, "uploads"),
		Accounts:  a.Auth(), SecureCookies: *secure})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	e.log.Info("glasshouse serving", "url", "http://"+ln.Addr().String()+"/", "data", a.Config().DataDir, "blobs", a.Config().BlobsURL, "db", a.Config().DBURL)
	fmt.Fprintf(e.stdout, "glasshouse listening on http://%s/\n", ln.Addr())

	var wg sync.WaitGroup
	wctx, cancelWorkers := context.WithCancel(ctx)
	defer cancelWorkers()
	if !*noWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Run(wctx); err != nil {
				e.log.Error("workers stopped", "err", err)
			}
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			cancelWorkers()
			wg.Wait()
			return fmt.Errorf("http: %w", err)
		}
	}
	e.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	cancelWorkers()
	wg.Wait()
	return nil
}

func isEmbedded(cfg app.Config) bool {
	return cfg.DBURL == "" || len(cfg.DBURL) >= 7 && cfg.DBURL[:7] == "sqlite:"
}

func cmdVersion(ctx context.Context, e *env, args []string) error {
	fmt.Fprintln(e.stdout, "glasshouse", app.Version)
	return nil
}
