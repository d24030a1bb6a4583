// Package telemetry builds the replica's OpenTelemetry providers: metrics
// served for Prometheus to scrape and, when an OTLP endpoint is set, traces
// and metrics pushed over OTLP/HTTP. With neither, every provider is a no-op
// and nothing is recorded. domain.go holds the waiting room's own metrics.
package telemetry

import (
	"context"
	"errors"
	"net/http"
	"strings"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// ServiceName is the service.name the replica reports unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
const ServiceName = "waitroom"

// Config says where telemetry goes. The zero value records nothing.
type Config struct {
	// Prometheus keeps the metrics for Handler to serve.
	Prometheus bool
	// OTLPEndpoint, when set, is the base URL of an OTLP/HTTP receiver
	// (OTEL_EXPORTER_OTLP_ENDPOINT): traces go to /v1/traces and metrics
	// to /v1/metrics under it. The exporters read the other standard
	// OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression)
	// themselves.
	OTLPEndpoint string
}

// Telemetry is one replica's providers. Each replica has its own, so
// several in one process (tests) do not mix their figures.
type Telemetry struct {
	Meters     metric.MeterProvider
	Tracers    trace.TracerProvider
	Propagator propagation.TextMapPropagator
	handler    http.Handler
	shutdown   []func(context.Context) error
}

// New builds the providers cfg asks for.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	t := &Telemetry{
		Meters:     metricnoop.NewMeterProvider(),
		Tracers:    tracenoop.NewTracerProvider(),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	if !cfg.Prometheus && cfg.OTLPEndpoint == "" {
		return t, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(ServiceName)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, err
	}
	var readers []sdkmetric.Option
	if cfg.Prometheus {
		reg := promclient.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, err
		}
		readers = append(readers, sdkmetric.WithReader(exp))
		t.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	if base := strings.TrimRight(cfg.OTLPEndpoint, "/"); base != "" {
		mexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(base+"/v1/metrics"))
		if err != nil {
			return nil, err
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp)))
		texp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(base+"/v1/traces"))
		if err != nil {
			return nil, err
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(texp), sdktrace.WithResource(res))
		t.Tracers = tp
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}
	mp := sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(res))...)
	t.Meters = mp
	t.shutdown = append(t.shutdown, mp.Shutdown)
	return t, nil
}

// Recording says whether metrics are recorded at all: when not, the
// replica installs no hooks, so metrics cost nothing.
func (t *Telemetry) Recording() bool { return len(t.shutdown) > 0 }

// Tracing says whether spans are exported.
func (t *Telemetry) Tracing() bool {
	_, noop := t.Tracers.(tracenoop.TracerProvider)
	return !noop
}

// Handler serves the metrics in Prometheus's text format; nil unless
// Config.Prometheus.
func (t *Telemetry) Handler() http.Handler { return t.handler }

// Shutdown flushes what the OTLP exporters hold and stops them.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.shutdown) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdown[i](ctx))
	}
	t.shutdown = nil
	return errors.Join(errs...)
}
