package sqlite

import (
	"os"
	"testing"
	"time"
)

// The writer never checkpoints, yet appended events reach the database
// file while it is open, and the WAL starts over instead of growing with
// every append.
func TestBackgroundCheckpointCopiesTheWALIntoTheFile(t *testing.T) {
	db := openTest(t)
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size(db.path)
	runs := db.ckpt.runs.Load()
	var walMax int64
	for i := range 12 {
		mustAppend(t, db, genEvents(uint64(i+1), 1000, benchStart.Add(time.Duration(i)*time.Minute), time.Minute, benchWorld))
		walMax = max(walMax, size(db.path+"-wal"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.ckpt.runs.Load() < runs+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err, _ := db.ckpt.err.Load().(error); err != nil {
		t.Fatalf("background checkpoint: %v", err)
	}
	if db.ckpt.runs.Load() < runs+2 {
		t.Fatalf("no background checkpoint within 10 s (every %s)", checkpointEvery)
	}
	if after := size(db.path); after <= before {
		t.Fatalf("database file is %d bytes after 12,000 events, %d before: the WAL was not copied into it", after, before)
	}
	// A WAL that starts over keeps its size: appending as much again must
	// not grow it by as much once the first part was checkpointed.
	for i := 12; i < 24; i++ {
		mustAppend(t, db, genEvents(uint64(i+1), 1000, benchStart.Add(time.Duration(i)*time.Minute), time.Minute, benchWorld))
		if i%6 == 0 {
			time.Sleep(checkpointEvery + 100*time.Millisecond) // let a checkpoint run now and then
		}
	}
	if wal := size(db.path + "-wal"); wal > 2*walMax {
		t.Fatalf("WAL grew to %d bytes (%d after the first half): it never starts over", wal, walMax)
	}
}

// A writer that never pauses still lets the WAL start over: past its cap
// the checkpointer holds appends back for one catch-up checkpoint, after
// which the next append writes the WAL from its start again. Before, the
// WAL only ever grew under such a writer (by gigabytes in a long bulk
// load): a checkpoint beside it never caught up. Over eight checkpoints
// the WAL must stay near what a second of appends writes, well under what
// all of them wrote: how many appends a second brings depends on the
// machine's load, so the bound counts appends, not seconds.
func TestWALStartsOverUnderContinuousAppends(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	db.ckpt.cap.Store(256) // 1 MB: the WAL passes it within an append
	walSize := func() int64 {
		fi, err := os.Stat(db.path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// The file grows by what an append writes until the WAL starts over;
	// from then on its size is the largest it reached.
	var step, largest int64 // the most one append grew the file; its largest size
	i := 0
	for deadline := time.Now().Add(2 * time.Minute); db.ckpt.catchUps.Load() < 8 && time.Now().Before(deadline); i++ {
		before := walSize()
		mustAppend(t, db, genEvents(uint64(i+1), 1000, benchStart.Add(time.Duration(i)*time.Minute), time.Minute, benchWorld))
		size := walSize()
		step, largest = max(step, size-before), max(largest, size)
	}
	if err, _ := db.ckpt.err.Load().(error); err != nil {
		t.Fatalf("background checkpoint: %v", err)
	}
	if db.ckpt.catchUps.Load() < 8 {
		t.Fatalf("%d catch-up checkpoints in 2 minutes of appends; want 8", db.ckpt.catchUps.Load())
	}
	if step <= 0 || largest > int64(i)*step/3 {
		t.Fatalf("the WAL grew to %d bytes over %d appends of 1,000 events, up to %d bytes each: it does not start over", largest, i, step)
	}
}
