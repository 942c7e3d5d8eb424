package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The writer connection does not checkpoint the WAL itself
// (wal_autocheckpoint(0)): copying WAL pages back into the database file
// in the middle of an Append made appends a third slower. A goroutine
// checkpoints instead, on its own connection, every checkpointEvery: in
// WAL mode a checkpoint runs beside the writer, so appends never wait for
// it. PASSIVE checkpoints never wait for readers. The WAL starts over only
// when an append begins after a checkpoint copied all of it, which a
// writer that never pauses does not allow: its frames keep coming while
// the copy runs, and the WAL grew by gigabytes in a long bulk load. So
// once the WAL passes walFramesCap pages, the checkpointer holds the
// writer's lock for one more PASSIVE checkpoint of what is left (a second
// of appends at most); the next append then starts the WAL over. Should
// readers still hold old frames, the next checkpoint is a RESTART, which
// waits for them. Close stops the goroutine and truncates the WAL.

// checkpointEvery is how often the WAL is copied into the database file.
var checkpointEvery = time.Second

// walFramesCap is the WAL size, in pages, above which the checkpointer
// pauses the writer to let the WAL start over.
const walFramesCap = 1 << 16

// checkpointer runs the background checkpoints of one database.
type checkpointer struct {
	conn     *sql.DB      // one connection, used only for checkpoints
	pause    sync.Locker  // the writer's lock: held, appends wait for a catch-up checkpoint
	cap      atomic.Int64 // walFramesCap, or less in tests
	stop     chan struct{}
	done     sync.WaitGroup
	runs     atomic.Int64 // checkpoints done, for tests
	catchUps atomic.Int64 // checkpoints that paused the writer, for tests
	err      atomic.Value // the last checkpoint's error (error), if any
}

// startCheckpointer opens the checkpoint connection with dsn and starts
// the loop; pause is the lock every write of this process holds.
func startCheckpointer(path, dsn string, pause sync.Locker) (*checkpointer, error) {
	conn, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint connection to %s: %w", path, err)
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(0)
	conn.SetConnMaxIdleTime(0)
	c := &checkpointer{conn: conn, pause: pause, stop: make(chan struct{})}
	c.cap.Store(walFramesCap)
	c.done.Add(1)
	go c.loop()
	return c, nil
}

func (c *checkpointer) loop() {
	defer c.done.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	mode := "PASSIVE"
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		log, _, err := c.checkpoint(mode)
		if err != nil {
			c.err.Store(err)
			continue
		}
		mode = "PASSIVE"
		if log > c.cap.Load() {
			// The writer outran the copies: pause it for one more, after
			// which the next append starts the WAL over.
			c.pause.Lock()
			var copied int64
			log, copied, err = c.checkpoint("PASSIVE")
			c.pause.Unlock()
			if err != nil {
				c.err.Store(err)
				continue
			}
			c.catchUps.Add(1)
			if copied < log { // readers hold old frames: wait for them next time
				mode = "RESTART"
			}
		}
	}
}

// checkpoint runs one checkpoint in mode and returns the WAL's size and
// how much of it is now in the database file, in pages.
func (c *checkpointer) checkpoint(mode string) (log, copied int64, err error) {
	var busy int64
	err = c.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &copied)
	if err != nil {
		return 0, 0, fmt.Errorf("checkpoint (%s): %w", mode, err)
	}
	c.runs.Add(1)
	return log, copied, nil
}

// close stops the loop and closes its connection.
func (c *checkpointer) close() error {
	close(c.stop)
	c.done.Wait()
	return c.conn.Close()
}
