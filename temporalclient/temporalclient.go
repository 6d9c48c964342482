// Package temporalclient is the one way Signoff's processes reach Temporal (signoff api, worker,
// dev, setup, the test harness and make cluster): the connection comes from config.Temporal, which
// reads the TOML profiles and TEMPORAL_* variables as the `temporal` CLI and every Temporal SDK do,
// and Signoff's own settings (gRPC compression, logger, metrics handler, interceptors) go on top.
// Setup registers the namespace and the search attributes on a cluster (`signoff setup`).
package temporalclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/logging"
)

// Extras are the client settings of Signoff's own that a process adds on top of the profile.
type Extras struct {
	// MetricsHandler receives the SDK's metrics; nil keeps the SDK's no-op handler.
	MetricsHandler client.MetricsHandler
	// Interceptors wrap every client call (and the workers built on the client).
	Interceptors []interceptor.ClientInterceptor
}

// Options are the client options of cfg: the profile of cfg.Temporal (API key, TLS, headers), dialing
// cfg.TemporalAddress in cfg.TemporalNamespace, with gRPC compression per TEMPORAL_GRPC_COMPRESSION,
// log as the SDK's logger, the request id's context propagator (R-OPS-4) and extra on top. It logs a warning for each older variable name in use,
// and fails with the name of the setting when a certificate cannot be read.
func Options(cfg config.Config, log *zap.Logger, extra Extras) (client.Options, error) {
	for _, old := range cfg.Temporal.AliasesUsed {
		log.Warn("an older Temporal variable name is in use; rename it to the standard name",
			zap.String("variable", old), zap.String("standard_name", config.TemporalAliases[old]))
	}
	opts, err := cfg.Temporal.ClientOptions()
	if err != nil {
		return client.Options{}, err
	}
	opts.HostPort, opts.Namespace = cfg.TemporalAddress, cfg.TemporalNamespace
	if opts.ConnectionOptions.GrpcCompression, err = config.TemporalCompressionOption(cfg.TemporalCompression, opts.HostPort); err != nil {
		return client.Options{}, err
	}
	opts.Logger = logging.NewTemporalLogger(log.Named("temporal"))
	// The API call's request id follows its workflow starts, Updates and Signals (R-OPS-4).
	opts.ContextPropagators = append(opts.ContextPropagators, logging.RequestIDPropagator())
	opts.MetricsHandler = extra.MetricsHandler
	opts.Interceptors = append(opts.Interceptors, extra.Interceptors...)
	return opts, nil
}

// Dial connects to Temporal with Options, retrying for up to wait while the frontend does not answer
// (so processes may start before Temporal). A configuration error, and credentials the frontend
// refuses, fail at once.
func Dial(ctx context.Context, cfg config.Config, log *zap.Logger, extra Extras, wait time.Duration) (client.Client, error) {
	opts, err := Options(cfg, log, extra)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for deadline := time.Now().Add(wait); ; {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if refused(err) || !time.Now().Before(deadline) {
			break
		}
		log.Warn("temporal not reachable yet", zap.String("address", opts.HostPort), zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil, fmt.Errorf("temporal at %s (namespace %s): %w", opts.HostPort, opts.Namespace, lastErr)
}

// refused reports whether the frontend answered and refused the client (a wrong or expired API key,
// a certificate it does not accept): retrying cannot help.
func refused(err error) bool {
	switch serviceerror.ToStatus(err).Code() {
	case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument:
		return true
	}
	return false
}

// SetupResult says what Setup changed.
type SetupResult struct {
	// NamespaceRegistered is true when the namespace was missing and Setup registered it.
	NamespaceRegistered bool
	// AttributesAdded are the search attributes Setup added; the others were there already.
	AttributesAdded []string
}

// Setup makes namespace ready for Signoff on the cluster c reaches: it registers the namespace with
// retention when it is missing, and adds each of the Keyword search attributes attrs that is
// missing. Running it again changes nothing. An attribute that exists with another type is an error.
func Setup(ctx context.Context, c client.Client, namespace string, retention time.Duration, attrs []string) (SetupResult, error) {
	var res SetupResult
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	var notFound *serviceerror.NamespaceNotFound
	switch {
	case errors.As(err, &notFound):
		_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: namespace, WorkflowExecutionRetentionPeriod: durationpb.New(retention),
			Description: "Signoff (registered by signoff setup)",
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return res, fmt.Errorf("register namespace %s: %w%s", namespace, err, cloudHint(err, namespace, attrs))
		}
		res.NamespaceRegistered = err == nil
	case err != nil:
		return res, fmt.Errorf("describe namespace %s: %w", namespace, err)
	}

	var have map[string]enums.IndexedValueType
	err = untilNamespaceKnown(ctx, func() error {
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		have = resp.GetCustomAttributes()
		return err
	})
	if err != nil {
		return res, fmt.Errorf("list search attributes of %s: %w%s", namespace, err, cloudHint(err, namespace, attrs))
	}
	var missing []string
	for _, name := range attrs {
		t, ok := have[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case t != enums.INDEXED_VALUE_TYPE_KEYWORD:
			return res, fmt.Errorf("search attribute %s of namespace %s has type %s; Signoff needs Keyword", name, namespace, t)
		}
	}
	// One call per attribute: a cluster answers AlreadyExists for the whole request when any of it
	// exists, which a concurrent setup may have just added.
	for _, name := range missing {
		err = untilNamespaceKnown(ctx, func() error {
			_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
				SearchAttributes: map[string]enums.IndexedValueType{name: enums.INDEXED_VALUE_TYPE_KEYWORD}, Namespace: namespace})
			return err
		})
		var exists *serviceerror.AlreadyExists
		switch {
		case err == nil:
			res.AttributesAdded = append(res.AttributesAdded, name)
		case !errors.As(err, &exists):
			return res, fmt.Errorf("add search attribute %s to %s: %w%s", name, namespace, err, cloudHint(err, namespace, attrs))
		}
	}
	return res, nil
}

// untilNamespaceKnown runs call until it does not fail with "namespace not found", for up to a
// minute: a namespace just registered reaches every frontend's cache within seconds.
func untilNamespaceKnown(ctx context.Context, call func() error) error {
	for deadline := time.Now().Add(time.Minute); ; {
		err := call()
		var nf *serviceerror.NotFound
		var nsnf *serviceerror.NamespaceNotFound
		if err == nil || !(errors.As(err, &nf) || errors.As(err, &nsnf)) || !time.Now().Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// cloudHint adds what to do when the cluster refuses the operator calls, as Temporal Cloud may for
// an API key without the account-level role: create the namespace and attributes with tcld.
func cloudHint(err error, namespace string, attrs []string) string {
	var denied *serviceerror.PermissionDenied
	var unimpl *serviceerror.Unimplemented
	if !errors.As(err, &denied) && !errors.As(err, &unimpl) {
		return ""
	}
	hint := fmt.Sprintf(" (on Temporal Cloud, create the namespace in the Cloud UI or with `tcld namespace create`, then "+
		"`tcld namespace search-attributes add -n %s", namespace)
	for _, a := range attrs {
		hint += " --sa " + a + "=Keyword"
	}
	return hint + "`)"
}
