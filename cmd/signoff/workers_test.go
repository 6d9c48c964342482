package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeWorker is a runner that returns err after its delay, or nil when interrupted first.
type fakeWorker struct {
	after       time.Duration
	err         error
	interrupted chan struct{}
}

func (f *fakeWorker) Run(interrupt <-chan any) error {
	defer close(f.interrupted)
	if f.after > 0 {
		select {
		case <-time.After(f.after):
			return f.err
		case <-interrupt:
			return nil
		}
	}
	<-interrupt
	return nil
}

// A worker that stops on a fatal error ends the process's workers with that error (so `signoff
// worker` exits and its supervisor restarts it) and stops the others; a clean stop answers nil.
func TestWorkerGroup(t *testing.T) {
	t.Run("a fatal error stops the process", func(t *testing.T) {
		fatal := errors.New("namespace signoff is not found")
		a := &fakeWorker{after: 20 * time.Millisecond, err: fatal, interrupted: make(chan struct{})}
		b := &fakeWorker{interrupted: make(chan struct{})}
		g := startWorkers(a, b)
		select {
		case err := <-g.failed:
			require.ErrorIs(t, err, fatal)
		case <-time.After(5 * time.Second):
			t.Fatal("the fatal error never reached the group")
		}
		require.ErrorIs(t, g.stop(), fatal)
		<-b.interrupted
	})
	t.Run("a worker that returns nil by itself is a failure too", func(t *testing.T) {
		a := &fakeWorker{after: 10 * time.Millisecond, interrupted: make(chan struct{})}
		g := startWorkers(a)
		select {
		case err := <-g.failed:
			require.ErrorContains(t, err, "stopped by itself")
		case <-time.After(5 * time.Second):
			t.Fatal("the stop never reached the group")
		}
		require.Error(t, g.stop())
	})
	t.Run("a clean stop", func(t *testing.T) {
		a, b := &fakeWorker{interrupted: make(chan struct{})}, &fakeWorker{interrupted: make(chan struct{})}
		g := startWorkers(a, b)
		select {
		case err := <-g.failed:
			t.Fatalf("no worker failed, yet: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		require.NoError(t, g.stop())
		<-a.interrupted
		<-b.interrupted
	})
}
