package main

import (
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

// TestPushCapsLabels checks that allot push sends a local log's over-long
// names capped as the server stores them, instead of records the server
// refuses.
func TestPushCapsLabels(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1<<20)
	r := usageRecord(allot.Event{ID: "claude-code:" + long, ServedModel: long, RequestedModel: long, Task: long, Session: long, App: long, Provider: long})
	for field, v := range map[string]string{"id": r.ID, "model": r.Model, "requested_model": r.RequestedModel, "task": r.Task, "session": r.Session, "app": r.App, "provider": r.Provider} {
		if len(v) > allot.MaxLabelBytes {
			t.Errorf("%s of %d bytes sent; the server refuses over %d", field, len(v), allot.MaxLabelBytes)
		}
	}
}
