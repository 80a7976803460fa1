package session

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// BenchmarkJournalAppend measures one append with its fsync, and reports
// the 99th percentile as p99-ns.
func BenchmarkJournalAppend(b *testing.B) {
	j, err := CreateJournal(filepath.Join(b.TempDir(), "bench.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	data := []byte(`{"item":"diagnosis-4","text":"two writes of shift 1196 within 559ms, by rota-admin and ben.moreau"}`)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := j.Append(Event{Time: time.Now().UTC(), Actor: System, Type: TypeNoted, Data: data}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, k int) bool { return lat[i] < lat[k] })
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkReplay100k reads and folds a journal of 100,000 events, as
// resume and report do; the target is under one second.
func BenchmarkReplay100k(b *testing.B) {
	rb := testRB(b)
	path := filepath.Join(b.TempDir(), "big.jsonl")
	writeBigJournal(b, path, 100_000)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		events, _, err := ReadEvents(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if st := Fold(rb, events); st.LastSeq != 100_000 {
			b.Fatalf("folded %d events", st.LastSeq)
		}
	}
}

// writeBigJournal writes an incident of n events: ticks, notes, probe runs
// and action output, in the proportions of a busy incident.
func writeBigJournal(b *testing.B, path string, n int) {
	j, err := CreateJournal(path)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	// Appending with fsync 100,000 times would take minutes; the
	// benchmark measures reading, so write through a journal whose file
	// syncs only at the end.
	t0 := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	add := func(typ string, data string) {
		e := Event{Time: t0.Add(time.Duration(j.seq) * time.Millisecond), Actor: alice, Type: typ, Data: []byte(data)}
		j.seq++
		e.Seq, e.Prev = j.seq, j.last
		line, err := seal(&e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := j.f.Write(append(line, '\n')); err != nil {
			b.Fatal(err)
		}
		j.last = e.Hash
	}
	add(TypeOpened, `{"id":"inc-bench","runbook":"test","title":"Test runbook"}`)
	for i := 1; j.seq < int64(n); i++ {
		switch i % 5 {
		case 0:
			add(TypeTicked, `{"item":"symptoms-1","checked":true}`)
		case 1:
			add(TypeNoted, fmt.Sprintf(`{"item":"diagnosis-1","text":"note %d"}`, i))
		case 2:
			add(TypeProbeStarted, fmt.Sprintf(`{"run":"probe-%d","probe":"test-ok","item":"diagnosis-1"}`, i))
		case 3:
			add(TypeProbeFinished, fmt.Sprintf(`{"run":"probe-%d","result":{"id":"test-ok","status":"ok","summary":"fine","findings":[],"evidence":{"columns":["c"],"rows":[["1"],["2"]]},"started_at":"2026-01-01T03:00:00Z","duration_ms":3}}`, i-1))
		case 4:
			add(TypeNoted, `{"text":"incident-wide note"}`)
		}
	}
	if err := j.f.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkVerify100k checks a journal of 100,000 events, as resume does
// before it appends.
func BenchmarkVerify100k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.jsonl")
	writeBigJournal(b, path, 100_000)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := Verify(bytes.NewReader(data))
		if err != nil || !v.OK() || v.Events != 100_000 {
			b.Fatalf("%d events, %v, %v", v.Events, v.Problems, err)
		}
	}
}
