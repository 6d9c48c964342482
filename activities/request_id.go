package activities

import (
	"context"

	"go.uber.org/zap"

	"github.com/signoff/signoff/logging"
)

// log is the activities' logger for one activity call: it names the request id the step carries
// (R-OPS-4), so an activity's log line is found from the API call that caused it.
func (a *Activities) log(ctx context.Context) *zap.Logger {
	l := a.Log
	if l == nil {
		l = zap.NewNop()
	}
	if id := logging.RequestID(ctx); id != "" {
		l = l.With(zap.String("request_id", id))
	}
	return l
}
