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
	for i := range 40 {
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
		t.Fatalf("database file is %d bytes after 40,000 events, %d before: the WAL was not copied into it", after, before)
	}
	// A WAL that starts over keeps its size: appending as much again must
	// not grow it by as much once the first part was checkpointed.
	for i := 40; i < 80; i++ {
		mustAppend(t, db, genEvents(uint64(i+1), 1000, benchStart.Add(time.Duration(i)*time.Minute), time.Minute, benchWorld))
		if i%20 == 0 {
			time.Sleep(checkpointEvery + 100*time.Millisecond) // let a checkpoint run now and then
		}
	}
	if wal := size(db.path + "-wal"); wal > 2*walMax {
		t.Fatalf("WAL grew to %d bytes (%d after the first half): it never starts over", wal, walMax)
	}
}
