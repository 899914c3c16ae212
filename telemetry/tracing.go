package telemetry

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// TracingOptions configures SetupTracing.
type TracingOptions struct {
	// ServiceName and Version describe this process in the resource; the
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES variables still win.
	ServiceName, Version string
	// Exporter, when set, receives the spans instead of the OTLP exporter
	// the environment configures (tests use an in-process receiver), and
	// is used even without the environment variables.
	Exporter sdktrace.SpanExporter
	// Sync exports each span as it ends instead of in batches (tests).
	Sync bool
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// SetupTracing returns, when OTLP is configured by the standard OTEL_*
// variables (or an Exporter is given), a tracer provider exporting to it and
// a shutdown function that flushes what is buffered; otherwise a nil
// provider: tracing is off. Nothing global is changed — the provider is
// handed to the parts that trace, so that several servers in one process
// (tests) do not share one.
func SetupTracing(ctx context.Context, opts TracingOptions) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	noop := func(context.Context) error { return nil }
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	exporter := opts.Exporter
	if exporter == nil {
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return nil, noop, nil
		}
		exporter, err = otlptracehttp.New(ctx)
		if err != nil {
			return nil, noop, fmt.Errorf("telemetry: OTLP exporter: %w", err)
		}
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(opts.ServiceName), semconv.ServiceVersion(opts.Version)))
	if err != nil {
		return nil, noop, fmt.Errorf("telemetry: resource: %w", err)
	}
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	processor := sdktrace.NewBatchSpanProcessor(exporter)
	if opts.Sync {
		processor = sdktrace.NewSimpleSpanProcessor(exporter)
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(processor), sdktrace.WithResource(res))
	return provider, provider.Shutdown, nil
}
