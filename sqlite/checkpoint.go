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
// it. PASSIVE checkpoints never wait for readers; should the WAL grow past
// walFramesCap all the same (readers always busy), the next checkpoint is
// a RESTART, which waits for them so the WAL starts over. Close stops the
// goroutine and truncates the WAL.

// checkpointEvery is how often the WAL is copied into the database file.
var checkpointEvery = time.Second

// walFramesCap is the WAL size, in pages, above which a checkpoint waits
// for readers (RESTART) rather than copying only what it can (PASSIVE).
const walFramesCap = 1 << 16

// checkpointer runs the background checkpoints of one database.
type checkpointer struct {
	conn *sql.DB // one connection, used only for checkpoints
	stop chan struct{}
	done sync.WaitGroup
	runs atomic.Int64 // checkpoints done, for tests
	err  atomic.Value // the last checkpoint's error (error), if any
}

// startCheckpointer opens the checkpoint connection with dsn and starts
// the loop.
func startCheckpointer(path, dsn string) (*checkpointer, error) {
	conn, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint connection to %s: %w", path, err)
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(0)
	conn.SetConnMaxIdleTime(0)
	c := &checkpointer{conn: conn, stop: make(chan struct{})}
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
		var busy, log, copied int64
		err := c.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &copied)
		if err != nil {
			c.err.Store(fmt.Errorf("checkpoint (%s): %w", mode, err))
			continue
		}
		c.runs.Add(1)
		mode = "PASSIVE"
		if log > walFramesCap && copied < log {
			mode = "RESTART"
		}
	}
}

// close stops the loop and closes its connection.
func (c *checkpointer) close() error {
	close(c.stop)
	c.done.Wait()
	return c.conn.Close()
}
