// Package otlptest is an in-process OTLP/HTTP trace receiver for tests and
// benchmarks: it decodes the protobuf export requests an OpenTelemetry
// exporter sends to /v1/traces and keeps their spans for assertions.
package otlptest
