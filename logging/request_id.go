package logging

import (
	"context"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"
)

// RequestIDHeader is the Temporal header that carries the id of the API call that
// started, updated or signalled a workflow (R-OPS-4): the X-Request-ID of the HTTP log.
const RequestIDHeader = "signoff-request-id"

type requestIDKey struct{}

// WithRequestID returns ctx carrying id, the request id of the API call that is being served; the
// Temporal calls made with ctx carry it as a header (RequestIDPropagator).
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the request id ctx carries: the API call's, or in an activity the one its workflow
// step was started, updated or signalled with; "" when none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// workflowRequestID is the request id a workflow context carries ("" when none).
func workflowRequestID(ctx workflow.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestIDPropagator passes the request id from a client's context to the workflow (the start's on
// the run's context, an Update's or Signal's on its handler's), and from the workflow to its
// activities' contexts, where the activities' logs name it. Set it on the client and the worker
// (client.Options.ContextPropagators).
func RequestIDPropagator() workflow.ContextPropagator { return requestIDPropagator{} }

type requestIDPropagator struct{}

func (requestIDPropagator) inject(id string, w workflow.HeaderWriter) error {
	if id == "" {
		return nil
	}
	p, err := converter.GetDefaultDataConverter().ToPayload(id)
	if err != nil {
		return err
	}
	w.Set(RequestIDHeader, p)
	return nil
}

func (requestIDPropagator) extract(r workflow.HeaderReader) (string, error) {
	p, ok := r.Get(RequestIDHeader)
	if !ok {
		return "", nil
	}
	var id string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &id); err != nil {
		return "", err
	}
	return id, nil
}

func (p requestIDPropagator) Inject(ctx context.Context, w workflow.HeaderWriter) error {
	return p.inject(RequestID(ctx), w)
}

func (p requestIDPropagator) Extract(ctx context.Context, r workflow.HeaderReader) (context.Context, error) {
	id, err := p.extract(r)
	if err != nil || id == "" {
		return ctx, err
	}
	return WithRequestID(ctx, id), nil
}

func (p requestIDPropagator) InjectFromWorkflow(ctx workflow.Context, w workflow.HeaderWriter) error {
	return p.inject(workflowRequestID(ctx), w)
}

func (p requestIDPropagator) ExtractToWorkflow(ctx workflow.Context, r workflow.HeaderReader) (workflow.Context, error) {
	id, err := p.extract(r)
	if err != nil || id == "" {
		return ctx, err
	}
	return workflow.WithValue(ctx, requestIDKey{}, id), nil
}
