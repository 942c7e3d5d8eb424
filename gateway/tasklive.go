package gateway

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/allot-dev/allot"
)

// LiveTasks holds the gateway's task rules: the configured `tasks:` plus
// the fingerprint labels admins set with `allot tasks label`, which it
// re-reads from the database so a label applies to new calls within
// seconds, on every replica, without a restart. Its Current is what
// Options.Tasks wants.
type LiveTasks struct {
	rules  *TaskRules
	store  SettingReader
	logger *slog.Logger
	cur    atomic.Pointer[TaskRules]
	last   []byte // the labels setting cur was made from
}

// SettingReader reads stored settings (allot.Directory has it).
type SettingReader interface {
	Setting(ctx context.Context, name string) ([]byte, error)
}

// NewLiveTasks compiles rules and reads the current labels.
func NewLiveTasks(ctx context.Context, rules allot.TaskRules, store SettingReader, logger *slog.Logger) (*LiveTasks, error) {
	compiled, err := CompileTaskRules(rules)
	if err != nil {
		return nil, fmt.Errorf("config tasks: %w", err)
	}
	l := &LiveTasks{rules: compiled, store: store, logger: logger}
	l.cur.Store(compiled)
	if err := l.Refresh(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Current returns the rules in force.
func (l *LiveTasks) Current() *TaskRules { return l.cur.Load() }

// Refresh re-reads the labels and swaps the rules when they changed.
func (l *LiveTasks) Refresh(ctx context.Context) error {
	raw, err := l.store.Setting(ctx, allot.TaskLabelsSetting)
	if err != nil {
		return fmt.Errorf("read task labels: %w", err)
	}
	if l.last != nil && bytes.Equal(raw, l.last) {
		return nil
	}
	labels, err := allot.ParseTaskLabels(raw)
	if err != nil {
		return err
	}
	l.cur.Store(l.rules.WithLabels(labels))
	l.last = append([]byte{}, raw...)
	return nil
}

// Run refreshes every interval until ctx ends; a failed read keeps the
// rules in force.
func (l *LiveTasks) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Refresh(ctx); err != nil && ctx.Err() == nil {
				l.logger.Warn("task labels not refreshed; keeping the current ones", "err", err)
			}
		}
	}
}
