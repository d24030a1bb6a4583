package telemetry

import (
	"context"
	"sort"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// counterSource is a total some part of the replica keeps, reported as an
// observable counter.
type counterSource struct {
	inst  metric.Int64ObservableCounter
	attrs metric.ObserveOption
	read  func() int64
}

// observe registers the instruments read at collection: the per-event
// series and the Sources.
func (d *Domain) observe(m metric.Meter, src Sources) error {
	var insts []metric.Observable
	counters := map[string]metric.Int64ObservableCounter{}
	counter := func(name, unit, desc string) (metric.Int64ObservableCounter, error) {
		if c, ok := counters[name]; ok {
			return c, nil
		}
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			return nil, err
		}
		counters[name] = c
		insts = append(insts, c)
		return c, nil
	}
	gauge := func(name, unit, desc string) (metric.Int64ObservableGauge, error) {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err == nil {
			insts = append(insts, g)
		}
		return g, err
	}

	perKind := make([]metric.Int64ObservableCounter, len(eventKinds))
	for i, k := range eventKinds {
		c, err := counter(k.name, "{session}", k.desc+" Per live event.")
		if err != nil {
			return err
		}
		perKind[i] = c
	}
	queueLen, err := gauge("waitroom.queue.length", "{session}", "Sessions waiting in a live event's queue, at the processor's last pass.")
	if err != nil {
		return err
	}
	inCheckout, err := gauge("waitroom.queue.in_checkout", "{session}", "Admitted sessions holding a live event's checkout slots, at the processor's last pass.")
	if err != nil {
		return err
	}
	var openStreams metric.Int64ObservableGauge
	if src.OpenStreams != nil {
		if openStreams, err = gauge("waitroom.streams.open", "{stream}", "Position streams open on this replica."); err != nil {
			return err
		}
	}
	var backlog metric.Int64ObservableGauge
	if src.KafkaBacklog != nil {
		if backlog, err = gauge("waitroom.kafka.outbox.backlog", "{record}", "Outbox entries waiting to be relayed to Kafka, at the relay's last count."); err != nil {
			return err
		}
	}
	sources, err := d.counterSources(src, counter)
	if err != nil {
		return err
	}

	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		d.mu.Lock()
		for _, e := range d.events {
			for i, k := range eventKinds {
				o.ObserveInt64(perKind[i], e.counts[k.kind], e.attrs)
			}
			if e.figures {
				o.ObserveInt64(queueLen, e.queueLen, e.attrs)
				o.ObserveInt64(inCheckout, e.inCheckout, e.attrs)
			}
		}
		d.mu.Unlock()
		if openStreams != nil {
			o.ObserveInt64(openStreams, src.OpenStreams())
		}
		if backlog != nil {
			o.ObserveInt64(backlog, src.KafkaBacklog())
		}
		for _, s := range sources {
			o.ObserveInt64(s.inst, s.read(), s.attrs)
		}
		return nil
	}, insts...)
	return err
}

const storeErrorsDesc = "Failed store calls, by component: request, processor, stream (the fan-out's reads)."

func component(c string) attribute.Set { return attribute.NewSet(attribute.String("component", c)) }

// counterSources makes the observable counters of the totals src reads.
func (d *Domain) counterSources(src Sources, counter func(name, unit, desc string) (metric.Int64ObservableCounter, error)) ([]counterSource, error) {
	var out []counterSource
	add := func(name, unit, desc string, attrs attribute.Set, read func() int64) error {
		if read == nil {
			return nil
		}
		c, err := counter(name, unit, desc)
		if err != nil {
			return err
		}
		out = append(out, counterSource{c, metric.WithAttributeSet(attrs), read})
		return nil
	}
	none := *attribute.EmptySet()
	kinds := make([]string, 0, len(src.Refusals))
	for k := range src.Refusals {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if err := add("waitroom.limit.refusals", "{refusal}", "Calls, streams and connections the limits refused or ended, by kind.",
			attribute.NewSet(attribute.String("kind", k)), src.Refusals[k]); err != nil {
			return nil, err
		}
	}
	steps := []struct {
		name, unit, desc string
		attrs            attribute.Set
		read             func() int64
	}{
		{"waitroom.stream.coalesced", "{message}", "States a stream skipped because a newer one replaced them before they were written.", none, src.Coalesced},
		{"waitroom.store.errors", "{error}", storeErrorsDesc, component("request"), d.requestErrors.Load},
		{"waitroom.store.errors", "{error}", storeErrorsDesc, component("processor"), d.processorErrors.Load},
		{"waitroom.store.errors", "{error}", storeErrorsDesc, component("stream"), src.StreamStoreErrors},
		{"waitroom.kafka.relayed", "{record}", "Outbox entries the broker acknowledged and the relay removed.", none, src.KafkaRelayed},
		{"waitroom.kafka.relay.failures", "{failure}", "Failed produce attempts and failed outbox calls of the relay.", none, src.KafkaFailures},
	}
	for _, s := range steps {
		if err := add(s.name, s.unit, s.desc, s.attrs, s.read); err != nil {
			return nil, err
		}
	}
	return out, nil
}
