// Package queuetest is the conformance suite for glasshouse.Queue backends.
// Jobs belong to assets, so the backend under test is a catalog and a queue
// at once (as both embedded and PostgreSQL backends are).
package queuetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Backend is a catalog that is also the job queue.
type Backend interface {
	glasshouse.Catalog
	glasshouse.Queue
}

// Run runs the suite; newBackend must return an empty backend for each call.
// The suite uses real time: leases of a few hundred milliseconds are left to
// expire.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"EnqueueIdempotent", testEnqueueIdempotent},
		{"EnqueueUnknownAsset", testEnqueueUnknownAsset},
		{"CreateAssetEnqueues", testCreateAssetEnqueues},
		{"CreateAssetAtomic", testCreateAssetAtomic},
		{"Claim", testClaim},
		{"ClaimRunAfter", testClaimRunAfter},
		{"ClaimExclusive", testClaimExclusive},
		{"LeaseExpiry", testLeaseExpiry},
		{"Extend", testExtend},
		{"StaleToken", testStaleToken},
		{"Progress", testProgress},
		{"NackBackoff", testNackBackoff},
		{"RetriesThenFailed", testRetriesThenFailed},
		{"ExpiredLastAttempt", testExpiredLastAttempt},
		{"JobsListing", testJobsListing},
		{"DeleteAssetRemovesJobs", testDeleteAssetRemovesJobs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

func ref(s string) glasshouse.Ref {
	sum := sha256.Sum256([]byte(s))
	return glasshouse.RefFromSum(sum[:])
}

func newID() glasshouse.AssetID {
	var b [16]byte
	rand.Read(b[:])
	return glasshouse.AssetID(hex.EncodeToString(b[:]))
}

func asset(tenant glasshouse.TenantID) *glasshouse.Asset {
	id := newID()
	return &glasshouse.Asset{ID: id, Tenant: tenant, Name: string(id) + ".mp4", MediaType: "video/mp4", Kind: glasshouse.KindVideo, Size: 1, Hash: ref(string(id))}
}

func upload(tenant glasshouse.TenantID, id glasshouse.AssetID) glasshouse.AuditEvent {
	return glasshouse.NewEvent(glasshouse.Actor{Tenant: tenant, User: "tester"}, "upload", string(id), nil)
}

// newAsset creates an asset with jobs of the given kinds (version "1").
func newAsset(t *testing.T, b Backend, tenant glasshouse.TenantID, kinds ...string) *glasshouse.Asset {
	t.Helper()
	a := asset(tenant)
	var jobs []glasshouse.Job
	for _, k := range kinds {
		jobs = append(jobs, glasshouse.Job{Asset: a.ID, Tenant: tenant, Kind: k, Version: "1"})
	}
	if err := b.CreateAsset(context.Background(), a, jobs, upload(tenant, a.ID)); err != nil {
		t.Fatalf("CreateAsset: %v", err)
	}
	return a
}

func jobs(t *testing.T, b Backend, tenant glasshouse.TenantID, id glasshouse.AssetID) []glasshouse.Job {
	t.Helper()
	js, err := b.Jobs(context.Background(), tenant, id)
	if err != nil {
		t.Fatalf("Jobs: %v", err)
	}
	return js
}

func job(t *testing.T, b Backend, tenant glasshouse.TenantID, id int64) glasshouse.Job {
	t.Helper()
	for _, j := range jobs(t, b, tenant, "") {
		if j.ID == id {
			return j
		}
	}
	t.Fatalf("job %d not listed", id)
	return glasshouse.Job{}
}

func claim(t *testing.T, b Backend, kinds []string, max int, lease time.Duration) []*glasshouse.Lease {
	t.Helper()
	ls, err := b.Claim(context.Background(), kinds, max, lease)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return ls
}

func claimOne(t *testing.T, b Backend, kind string, lease time.Duration) *glasshouse.Lease {
	t.Helper()
	ls := claim(t, b, []string{kind}, 10, lease)
	if len(ls) != 1 {
		t.Fatalf("claimed %d %s jobs, want 1", len(ls), kind)
	}
	return ls[0]
}

func conflict(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, glasshouse.ErrConflict) {
		t.Fatalf("%s: want ErrConflict, got %v", what, err)
	}
}

func testEnqueueIdempotent(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "default")
	j := glasshouse.Job{Asset: a.ID, Tenant: "default", Kind: "ocr", Version: "1"}
	if err := b.Enqueue(ctx, j, j); err != nil {
		t.Fatal(err)
	}
	if err := b.Enqueue(ctx, j); err != nil {
		t.Fatal(err)
	}
	if js := jobs(t, b, "default", a.ID); len(js) != 1 {
		t.Fatalf("%d jobs after enqueueing one job three times", len(js))
	}
	// Done jobs are not re-added either.
	l := claimOne(t, b, "ocr", time.Hour)
	if err := b.Ack(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := b.Enqueue(ctx, j); err != nil {
		t.Fatal(err)
	}
	if js := jobs(t, b, "default", a.ID); len(js) != 1 || js[0].State != glasshouse.JobDone {
		t.Fatalf("re-enqueue of a done job: %+v", js)
	}
	// A new analyzer version is a new job.
	j.Version = "2"
	if err := b.Enqueue(ctx, j); err != nil {
		t.Fatal(err)
	}
	js := jobs(t, b, "default", a.ID)
	if len(js) != 2 || js[0].Version != "2" || js[1].Version != "1" {
		t.Fatalf("after version 2: %+v (want newest first)", js)
	}
	n := js[0]
	if n.State != glasshouse.JobQueued || n.Attempts != 0 || n.MaxAttempts != 3 || n.Tenant != "default" || n.Asset != a.ID ||
		n.Kind != "ocr" || n.Created.IsZero() || n.RunAfter.IsZero() || n.ID == 0 {
		t.Fatalf("new job fields: %+v", n)
	}
}

func testEnqueueUnknownAsset(t *testing.T, b Backend) {
	ctx := context.Background()
	err := b.Enqueue(ctx, glasshouse.Job{Asset: newID(), Tenant: "default", Kind: "ocr", Version: "1"})
	if !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("job for an unknown asset: want ErrNotExist, got %v", err)
	}
	a := newAsset(t, b, "default")
	err = b.Enqueue(ctx, glasshouse.Job{Asset: a.ID, Tenant: "acme", Kind: "ocr", Version: "1"})
	if !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("job for another tenant's asset: want ErrNotExist, got %v", err)
	}
	if js := jobs(t, b, "acme", ""); len(js) != 0 {
		t.Fatalf("jobs %+v", js)
	}
}

func testCreateAssetEnqueues(t *testing.T, b Backend) {
	a := newAsset(t, b, "default", "probe", "ocr", "speech")
	js := jobs(t, b, "default", a.ID)
	if len(js) != 3 {
		t.Fatalf("%d jobs, want 3", len(js))
	}
	for _, j := range js {
		if j.State != glasshouse.JobQueued || j.Asset != a.ID {
			t.Fatalf("job %+v", j)
		}
	}
}

func testCreateAssetAtomic(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "default", "ocr")
	// Same id again, with other jobs: fails, and its jobs are not added.
	dup := asset("default")
	dup.ID = a.ID
	err := b.CreateAsset(ctx, dup, []glasshouse.Job{{Asset: a.ID, Tenant: "default", Kind: "speech", Version: "1"}}, upload("default", a.ID))
	if !errors.Is(err, glasshouse.ErrExist) {
		t.Fatalf("duplicate CreateAsset: want ErrExist, got %v", err)
	}
	if js := jobs(t, b, "default", a.ID); len(js) != 1 || js[0].Kind != "ocr" {
		t.Fatalf("a failed CreateAsset left jobs: %+v", js)
	}
	// A failure after the jobs are written (the audit event is invalid)
	// rolls them back too.
	c := asset("default")
	err = b.CreateAsset(ctx, c, []glasshouse.Job{{Asset: c.ID, Tenant: "default", Kind: "ocr", Version: "1"}}, glasshouse.AuditEvent{Tenant: "default"})
	if err == nil {
		t.Fatal("CreateAsset with an event without action succeeded")
	}
	if js := jobs(t, b, "default", c.ID); len(js) != 0 {
		t.Fatalf("a failed CreateAsset left jobs: %+v", js)
	}
	if ls := claim(t, b, nil, 10, time.Hour); len(ls) != 1 || ls[0].Job.Asset != a.ID {
		t.Fatalf("claimable jobs after failed creates: %d", len(ls))
	}
}

func testClaim(t *testing.T, b Backend) {
	before := time.Now()
	a := newAsset(t, b, "default", "ocr", "speech", "labels")
	newAsset(t, b, "acme", "ocr")
	ls := claim(t, b, []string{"ocr"}, 10, time.Hour)
	if len(ls) != 2 {
		t.Fatalf("claimed %d ocr jobs, want 2 (one per tenant)", len(ls))
	}
	tokens := map[string]bool{}
	for _, l := range ls {
		j := l.Job
		if j.Kind != "ocr" || j.State != glasshouse.JobRunning || j.Attempts != 1 || l.Token == "" || tokens[l.Token] {
			t.Fatalf("lease %+v", l)
		}
		tokens[l.Token] = true
		if l.Expires.Before(before.Add(59*time.Minute)) || l.Expires.After(time.Now().Add(61*time.Minute)) {
			t.Fatalf("lease expires %v, want about an hour from now", l.Expires)
		}
	}
	if ls := claim(t, b, []string{"ocr"}, 10, time.Hour); len(ls) != 0 {
		t.Fatalf("claimed %d leased jobs again", len(ls))
	}
	ls = claim(t, b, []string{"speech", "labels"}, 1, time.Hour)
	if len(ls) != 1 {
		t.Fatalf("max 1 claimed %d", len(ls))
	}
	ls = append(ls, claim(t, b, []string{"speech", "labels", "nothing"}, 5, time.Hour)...)
	if len(ls) != 2 || ls[0].Job.Kind == ls[1].Job.Kind {
		t.Fatalf("claimed %+v", ls)
	}
	for _, j := range jobs(t, b, "default", a.ID) {
		if j.State != glasshouse.JobRunning || j.Attempts != 1 {
			t.Fatalf("job after claim %+v", j)
		}
	}
	if _, err := b.Claim(context.Background(), []string{"ocr"}, 1, 0); err == nil {
		t.Fatal("Claim with a zero lease succeeded")
	}
}

func testClaimRunAfter(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "default")
	if err := b.Enqueue(ctx, glasshouse.Job{Asset: a.ID, Tenant: "default", Kind: "ocr", Version: "1", RunAfter: time.Now().Add(time.Hour)},
		glasshouse.Job{Asset: a.ID, Tenant: "default", Kind: "ocr", Version: "0", RunAfter: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	ls := claim(t, b, []string{"ocr"}, 10, time.Hour)
	if len(ls) != 1 || ls[0].Job.Version != "0" {
		t.Fatalf("claimed %+v, want only the due job", ls)
	}
}

func testClaimExclusive(t *testing.T, b Backend) {
	ctx := context.Background()
	const assets, kinds, workers = 10, 4, 8
	for range assets {
		newAsset(t, b, "default", "a", "b", "c", "d")
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var errs []error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			empty := 0
			for empty < 3 {
				ls, err := b.Claim(ctx, []string{"a", "b", "c", "d"}, 1+w%3, time.Hour)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if len(ls) == 0 {
					empty++
					continue
				}
				for _, l := range ls {
					mu.Lock()
					seen[l.Job.ID]++
					mu.Unlock()
					if err := b.Ack(ctx, l); err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("Ack job %d: %w", l.Job.ID, err))
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, first: %v", len(errs), errs[0])
	}
	if len(seen) != assets*kinds {
		t.Fatalf("claimed %d distinct jobs, want %d", len(seen), assets*kinds)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("job %d claimed %d times", id, n)
		}
	}
	for _, j := range jobs(t, b, "default", "") {
		if j.State != glasshouse.JobDone || j.Attempts != 1 {
			t.Errorf("job %+v", j)
		}
	}
}

// waitReclaim claims kind until a job comes back (its lease expired).
func waitReclaim(t *testing.T, b Backend, kind string, lease time.Duration) *glasshouse.Lease {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ls := claim(t, b, []string{kind}, 10, lease); len(ls) > 0 {
			if len(ls) != 1 {
				t.Fatalf("reclaimed %d jobs, want 1", len(ls))
			}
			return ls[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("expired lease was never reclaimed")
	return nil
}

func testLeaseExpiry(t *testing.T, b Backend) {
	ctx := context.Background()
	newAsset(t, b, "default", "ocr")
	first := claimOne(t, b, "ocr", 300*time.Millisecond)
	// The worker dies; after the lease expires another worker gets the job.
	second := waitReclaim(t, b, "ocr", time.Hour)
	if second.Job.ID != first.Job.ID || second.Job.Attempts != 2 || second.Token == first.Token || second.Job.State != glasshouse.JobRunning {
		t.Fatalf("reclaimed lease %+v after %+v", second, first)
	}
	if time.Now().Before(first.Expires) {
		t.Fatalf("job reclaimed before its lease expired at %v", first.Expires)
	}
	// The first worker wakes up: everything it does is refused.
	conflict(t, "Extend with a lost lease", b.Extend(ctx, first, time.Hour))
	conflict(t, "SetProgress with a lost lease", b.SetProgress(ctx, first, 0.5))
	conflict(t, "Ack with a lost lease", b.Ack(ctx, first))
	conflict(t, "Nack with a lost lease", b.Nack(ctx, first, 0, errors.New("late")))
	if j := job(t, b, "default", first.Job.ID); j.State != glasshouse.JobRunning || j.Attempts != 2 {
		t.Fatalf("job after stale calls %+v", j)
	}
	if err := b.Ack(ctx, second); err != nil {
		t.Fatal(err)
	}
	if j := job(t, b, "default", first.Job.ID); j.State != glasshouse.JobDone {
		t.Fatalf("job after Ack %+v", j)
	}
}

func testExtend(t *testing.T, b Backend) {
	ctx := context.Background()
	newAsset(t, b, "default", "ocr")
	l := claimOne(t, b, "ocr", 300*time.Millisecond)
	old := l.Expires
	if err := b.Extend(ctx, l, time.Hour); err != nil {
		t.Fatal(err)
	}
	if !l.Expires.After(old.Add(30 * time.Minute)) {
		t.Fatalf("Extend did not move Expires: %v -> %v", old, l.Expires)
	}
	time.Sleep(time.Until(old) + 300*time.Millisecond)
	if ls := claim(t, b, []string{"ocr"}, 10, time.Hour); len(ls) != 0 {
		t.Fatal("an extended lease was taken over")
	}
	if err := b.Ack(ctx, l); err != nil {
		t.Fatal(err)
	}
}

func testStaleToken(t *testing.T, b Backend) {
	ctx := context.Background()
	newAsset(t, b, "default", "ocr")
	l := claimOne(t, b, "ocr", time.Hour)
	forged := *l
	forged.Token = "not-the-token"
	conflict(t, "Ack with a wrong token", b.Ack(ctx, &forged))
	conflict(t, "Nack with a wrong token", b.Nack(ctx, &forged, 0, errors.New("x")))
	conflict(t, "Extend with a wrong token", b.Extend(ctx, &forged, time.Hour))
	conflict(t, "SetProgress with a wrong token", b.SetProgress(ctx, &forged, 0.1))
	if err := b.Ack(ctx, l); err != nil {
		t.Fatal(err)
	}
	conflict(t, "second Ack", b.Ack(ctx, l))
	conflict(t, "Nack after Ack", b.Nack(ctx, l, 0, errors.New("x")))
	if j := job(t, b, "default", l.Job.ID); j.State != glasshouse.JobDone {
		t.Fatalf("job %+v", j)
	}
}

func testProgress(t *testing.T, b Backend) {
	ctx := context.Background()
	newAsset(t, b, "default", "ocr")
	l := claimOne(t, b, "ocr", time.Hour)
	if err := b.SetProgress(ctx, l, 0.25); err != nil {
		t.Fatal(err)
	}
	if j := job(t, b, "default", l.Job.ID); j.Progress != 0.25 {
		t.Fatalf("progress %v, want 0.25", j.Progress)
	}
	if err := b.SetProgress(ctx, l, 7); err != nil {
		t.Fatal(err)
	}
	if j := job(t, b, "default", l.Job.ID); j.Progress != 1 {
		t.Fatalf("progress %v, want clamped to 1", j.Progress)
	}
}

func testNackBackoff(t *testing.T, b Backend) {
	ctx := context.Background()
	newAsset(t, b, "default", "ocr")
	l := claimOne(t, b, "ocr", time.Hour)
	if err := b.Nack(ctx, l, time.Hour, errors.New("tesseract crashed")); err != nil {
		t.Fatal(err)
	}
	j := job(t, b, "default", l.Job.ID)
	if j.State != glasshouse.JobQueued || j.Attempts != 1 || !strings.Contains(j.LastError, "tesseract crashed") {
		t.Fatalf("job after Nack %+v", j)
	}
	if j.RunAfter.Before(time.Now().Add(59 * time.Minute)) {
		t.Fatalf("RunAfter %v, want an hour from now", j.RunAfter)
	}
	if ls := claim(t, b, []string{"ocr"}, 10, time.Hour); len(ls) != 0 {
		t.Fatal("a job backing off was claimed")
	}
}

func testRetriesThenFailed(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "default", "ocr") // MaxAttempts 0: the default, 3
	for attempt := 1; attempt <= 3; attempt++ {
		l := claimOne(t, b, "ocr", time.Hour)
		if l.Job.Attempts != attempt {
			t.Fatalf("attempt %d: lease says %d", attempt, l.Job.Attempts)
		}
		if err := b.Nack(ctx, l, 0, fmt.Errorf("failure %d", attempt)); err != nil {
			t.Fatal(err)
		}
	}
	js := jobs(t, b, "default", a.ID)
	if len(js) != 1 || js[0].State != glasshouse.JobFailed || js[0].Attempts != 3 || !strings.Contains(js[0].LastError, "failure 3") {
		t.Fatalf("after 3 failures: %+v", js)
	}
	if ls := claim(t, b, []string{"ocr"}, 10, time.Hour); len(ls) != 0 {
		t.Fatal("a failed job was claimed")
	}
	// MaxAttempts 1: the first Nack fails the job.
	if err := b.Enqueue(ctx, glasshouse.Job{Asset: a.ID, Tenant: "default", Kind: "speech", Version: "1", MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	l := claimOne(t, b, "speech", time.Hour)
	if l.Job.MaxAttempts != 1 {
		t.Fatalf("lease %+v", l.Job)
	}
	if err := b.Nack(ctx, l, 0, errors.New("no")); err != nil {
		t.Fatal(err)
	}
	if j := job(t, b, "default", l.Job.ID); j.State != glasshouse.JobFailed {
		t.Fatalf("job %+v", j)
	}
}

// testExpiredLastAttempt: a job whose worker died on its last attempt is
// failed, not run again.
func testExpiredLastAttempt(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "default")
	if err := b.Enqueue(ctx, glasshouse.Job{Asset: a.ID, Tenant: "default", Kind: "ocr", Version: "1", MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	l := claimOne(t, b, "ocr", 200*time.Millisecond)
	time.Sleep(time.Until(l.Expires) + 200*time.Millisecond)
	if ls := claim(t, b, []string{"ocr"}, 10, time.Hour); len(ls) != 0 {
		t.Fatalf("a job with its attempts used up was claimed again: %+v", ls[0].Job)
	}
	if j := job(t, b, "default", l.Job.ID); j.State != glasshouse.JobFailed {
		t.Fatalf("job %+v, want failed", j)
	}
}

func testJobsListing(t *testing.T, b Backend) {
	a1 := newAsset(t, b, "default", "ocr", "speech")
	a2 := newAsset(t, b, "default", "labels")
	newAsset(t, b, "acme", "ocr")
	all := jobs(t, b, "default", "")
	if len(all) != 3 {
		t.Fatalf("%d jobs for default, want 3", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("jobs not newest first: %+v", all)
		}
	}
	if all[0].Asset != a2.ID {
		t.Fatalf("newest job is for %s, want %s", all[0].Asset, a2.ID)
	}
	for _, j := range all {
		if j.Tenant != "default" {
			t.Fatalf("listed another tenant's job %+v", j)
		}
	}
	if js := jobs(t, b, "default", a1.ID); len(js) != 2 {
		t.Fatalf("%d jobs for a1", len(js))
	}
	if js := jobs(t, b, "acme", a1.ID); len(js) != 0 {
		t.Fatalf("another tenant sees a1's jobs: %+v", js)
	}
	if js := jobs(t, b, "nobody", ""); js == nil || len(js) != 0 {
		t.Fatalf("unknown tenant: %#v", js)
	}
}

func testDeleteAssetRemovesJobs(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "default", "ocr", "speech")
	l := claimOne(t, b, "ocr", time.Hour)
	if _, err := b.DeleteAsset(ctx, "default", a.ID, glasshouse.NewEvent(glasshouse.System("default"), "delete", string(a.ID), nil)); err != nil {
		t.Fatal(err)
	}
	if js := jobs(t, b, "default", a.ID); len(js) != 0 {
		t.Fatalf("jobs of a deleted asset: %+v", js)
	}
	conflict(t, "Ack of a deleted asset's job", b.Ack(ctx, l))
	if ls := claim(t, b, nil, 10, time.Hour); len(ls) != 0 {
		t.Fatalf("claimed a deleted asset's job: %+v", ls[0].Job)
	}
}
