package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/gateway"
)

// liveTasks holds the gateway's task rules: the configured `tasks:` plus
// the fingerprint labels admins set with `allot tasks label`, which it
// re-reads from the database so a label applies to new calls within
// seconds, on every replica, without a restart.
type liveTasks struct {
	rules  *gateway.TaskRules
	store  settingStore
	logger *slog.Logger
	cur    atomic.Pointer[gateway.TaskRules]
	last   []byte // the labels setting cur was made from
}

// settingStore reads stored settings.
type settingStore interface {
	Setting(ctx context.Context, name string) ([]byte, error)
}

// newLiveTasks compiles rules and reads the current labels.
func newLiveTasks(ctx context.Context, rules allot.TaskRules, store settingStore, logger *slog.Logger) (*liveTasks, error) {
	compiled, err := gateway.CompileTaskRules(rules)
	if err != nil {
		return nil, fmt.Errorf("config tasks: %w", err)
	}
	l := &liveTasks{rules: compiled, store: store, logger: logger}
	l.cur.Store(compiled)
	if err := l.refresh(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// current returns the rules in force.
func (l *liveTasks) current() *gateway.TaskRules { return l.cur.Load() }

// refresh re-reads the labels and swaps the rules when they changed.
func (l *liveTasks) refresh(ctx context.Context) error {
	raw, err := l.store.Setting(ctx, allot.TaskLabelsSetting)
	if err != nil {
		return fmt.Errorf("read task labels: %w", err)
	}
	if l.last != nil && bytes.Equal(raw, l.last) {
		return nil
	}
	labels, err := parseTaskLabels(raw)
	if err != nil {
		return err
	}
	l.cur.Store(l.rules.WithLabels(labels))
	l.last = append([]byte{}, raw...)
	return nil
}

// run refreshes every interval until ctx ends; a failed read keeps the
// rules in force.
func (l *liveTasks) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.refresh(ctx); err != nil && ctx.Err() == nil {
				l.logger.Warn("task labels not refreshed; keeping the current ones", "err", err)
			}
		}
	}
}
