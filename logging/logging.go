// Package logging builds the zap logger every process uses and adapts it to the Temporal SDK.
package logging

import (
	"fmt"

	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New builds a zap logger writing JSON (or console text) at the given level to stderr.
func New(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("logging: level %q: %w", level, err)
	}
	cfg := zap.NewProductionConfig()
	if format == "console" {
		cfg = zap.NewDevelopmentConfig()
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.Sampling = nil
	return cfg.Build()
}

// TemporalLogger adapts a zap logger to the Temporal SDK's log.Logger and log.WithLogger.
type TemporalLogger struct {
	s *zap.SugaredLogger
}

// NewTemporalLogger wraps l for the Temporal client and worker.
func NewTemporalLogger(l *zap.Logger) *TemporalLogger {
	return &TemporalLogger{s: l.WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

// Debug logs at debug level with key-value pairs.
func (t *TemporalLogger) Debug(msg string, kv ...interface{}) { t.s.Debugw(msg, kv...) }

// Info logs at info level with key-value pairs.
func (t *TemporalLogger) Info(msg string, kv ...interface{}) { t.s.Infow(msg, kv...) }

// Warn logs at warn level with key-value pairs.
func (t *TemporalLogger) Warn(msg string, kv ...interface{}) { t.s.Warnw(msg, kv...) }

// Error logs at error level with key-value pairs.
func (t *TemporalLogger) Error(msg string, kv ...interface{}) { t.s.Errorw(msg, kv...) }

// With returns a logger that adds kv to every entry.
func (t *TemporalLogger) With(kv ...interface{}) log.Logger {
	return &TemporalLogger{s: t.s.With(kv...)}
}

var (
	_ log.Logger     = (*TemporalLogger)(nil)
	_ log.WithLogger = (*TemporalLogger)(nil)
)
