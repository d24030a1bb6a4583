package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"

	"github.com/waitroom/waitroom/internal/telemetry"
)

// startTelemetry builds the metrics and trace providers and the waiting
// room's own metrics. With MetricsAddr off and no OTLPEndpoint nothing is
// recorded: s.domain stays nil and no hook is installed anywhere.
func (s *Server) startTelemetry(ctx context.Context) error {
	tel, err := telemetry.New(ctx, telemetry.Config{
		Prometheus:   s.cfg.MetricsAddr != MetricsOff,
		OTLPEndpoint: s.cfg.OTLPEndpoint,
	})
	if err != nil {
		return fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	s.tel = tel
	s.closers = append(s.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			s.log.Warn("Flushing telemetry failed", "error", err)
		}
	})
	if !tel.Recording() {
		return nil
	}
	s.domain, err = telemetry.NewDomain(tel.Meters, s.metricSources())
	return err
}

// metricSources are the figures the replica already keeps (also shown by
// /debug/stats), read at each collection; the fields they read are set by
// the time the metrics listener serves.
func (s *Server) metricSources() telemetry.Sources {
	src := telemetry.Sources{
		OpenStreams:       func() int64 { return s.svc.OpenStreams() },
		Coalesced:         func() int64 { return s.hub.Coalesced() },
		StreamStoreErrors: func() int64 { return s.hub.StoreErrors() },
		Refusals: map[string]func() int64{
			"joins_per_ip":          func() int64 { return s.joinLimit.Refused() },
			"streams_per_session":   func() int64 { return s.streamLimit.Refused().PerSession },
			"streams_per_ip":        func() int64 { return s.streamLimit.Refused().PerIP },
			"streams_max":           func() int64 { return s.streamLimit.Refused().Max },
			"stream_write_timeouts": func() int64 { return s.streamLimit.Refused().WriteTimeouts },
			"conns_per_ip":          func() int64 { return s.conns.Refused() },
			"h2_reset_floods":       func() int64 { return s.h2guard.Floods() },
		},
	}
	if s.cfg.KafkaEnabled() {
		src.KafkaBacklog = func() int64 { return s.relay.Stats().Backlog }
		src.KafkaRelayed = func() int64 { return int64(s.relay.Stats().Relayed) }
		src.KafkaFailures = func() int64 { return int64(s.relay.Stats().Failures) }
	}
	return src
}

// rpcInterceptors instrument every RPC: OpenTelemetry's RPC metrics and
// spans (otelconnect), and the calls that failed in the store.
func (s *Server) rpcInterceptors() ([]connect.Interceptor, error) {
	if s.domain == nil {
		return nil, nil
	}
	opts := []otelconnect.Option{
		otelconnect.WithMeterProvider(s.tel.Meters),
		otelconnect.WithTracerProvider(s.tel.Tracers),
		otelconnect.WithPropagator(s.tel.Propagator),
	}
	if !s.tel.Tracing() {
		opts = append(opts, otelconnect.WithoutTracing())
	}
	otel, err := otelconnect.NewInterceptor(opts...)
	if err != nil {
		return nil, err
	}
	return []connect.Interceptor{otel, s.domain.StoreErrors()}, nil
}

// kafkaHooks are the Kafka clients' metrics and spans (franz-go's kotel).
func (s *Server) kafkaHooks() []kgo.Opt {
	if s.domain == nil {
		return nil
	}
	opts := []kotel.Opt{kotel.WithMeter(kotel.NewMeter(kotel.MeterProvider(s.tel.Meters)))}
	if s.tel.Tracing() {
		opts = append(opts, kotel.WithTracer(kotel.NewTracer(
			kotel.TracerProvider(s.tel.Tracers), kotel.TracerPropagator(s.tel.Propagator))))
	}
	return []kgo.Opt{kgo.WithHooks(kotel.NewKotel(opts...).Hooks()...)}
}

// listenMetrics binds MetricsAddr unless it is off.
func (s *Server) listenMetrics() error {
	if s.tel.Handler() == nil {
		return nil
	}
	var err error
	if s.metricsLn, err = net.Listen("tcp", s.cfg.MetricsAddr); err != nil {
		return fmt.Errorf("METRICS_ADDR=%q: %w", s.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.tel.Handler())
	s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// MetricsAddr is the metrics listener's bound address, or nil when
// MetricsAddr is off.
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsLn == nil {
		return nil
	}
	return s.metricsLn.Addr()
}

// relayed is the relay's lag hook; nil when no metric is recorded.
func (s *Server) relayed() func(time.Time) {
	if s.domain == nil {
		return nil
	}
	return s.domain.Relayed
}
