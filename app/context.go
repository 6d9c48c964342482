package app

import (
	"context"

	"go.uber.org/zap"

	"github.com/signoff/signoff/workflows"
)

type loggerKey struct{}

// WithLogger returns ctx carrying l, the logger of one request (with its request id), so what a use
// case logs names the request that caused it.
func WithLogger(ctx context.Context, l *zap.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// logger is the logger ctx carries (the request's, with its request id), else the App's base logger,
// else a no-op one.
func (a *App) logger(ctx context.Context) *zap.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*zap.Logger); ok {
		return l
	}
	if a.Log != nil {
		return a.Log
	}
	return zap.NewNop()
}

// WithRequestID returns ctx carrying id, the request id of the API call being served (X-Request-ID):
// the workflows it starts, updates or signals record it, and their activities log it (R-OPS-4).
func WithRequestID(ctx context.Context, id string) context.Context {
	return workflows.WithRequestID(ctx, id)
}
