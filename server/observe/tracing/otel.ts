// Tracing with the OpenTelemetry SDK, loaded only when tracing is on (./open.ts requires this file
// then). Spans are exported over OTLP/HTTP by the official exporter, which reads the standard
// OTEL_EXPORTER_OTLP_* variables (endpoint, headers, timeout...); sampling is OTEL_TRACES_SAMPLER
// (and _ARG) when set, else parent-based on islet's `tracing.sampleRatio`. Finished spans go
// through the SDK's BatchSpanProcessor: a bounded queue exported in the background, so a slow or
// absent collector never slows serving; spans that do not fit, or whose export failed, are
// counted (islet_trace_spans_dropped_total) through the processor's own self-observability
// counter rather than by reading its internals.
import os from 'node:os';
import {
  type Attributes,
  type Context,
  type Counter,
  type Meter,
  type MeterProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  createNoopMeter,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { ChildSpan, RequestSpanStart, ServerTrace, SpanAttributes, Tracing } from './types';
import { trustedPeers } from './trusted-peers';

export interface OtelOptions {
  sampleRatio: number;
  trustedPeers: readonly string[];
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMs: number;
  /** the process environment (OTEL_TRACES_SAMPLER decides sampling when set) */
  env: NodeJS.ProcessEnv;
  version: string;
  /** spans lost: the queue was full, or their export failed */
  onDropped(reason: 'queue_full' | 'export_failed', count: number): void;
  /** tests: export somewhere else than OTLP/HTTP */
  exporter?: SpanExporter;
}

const propagator = new W3CTraceContextPropagator();
const kinds = { server: SpanKind.SERVER, internal: SpanKind.INTERNAL, consumer: SpanKind.CONSUMER } as const;

/** The BatchSpanProcessor's count of processed spans, read for the ones it dropped or failed to export. */
function droppedCounter(onDropped: OtelOptions['onDropped']): MeterProvider {
  const noop = createNoopMeter();
  const counter: Counter = {
    add(value, attributes) {
      const error = attributes?.['error.type'];
      if (error === undefined) return;
      onDropped(error === 'queue_full' ? 'queue_full' : 'export_failed', value);
    },
  };
  const meter: Meter = Object.create(noop);
  meter.createCounter = (name, options) =>
    name === 'otel.sdk.processor.span.processed' ? counter : noop.createCounter(name, options);
  return { getMeter: () => meter };
}

function clean(attributes: SpanAttributes | undefined): Attributes | undefined {
  if (!attributes) return undefined;
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}

export function openOtel(options: OtelOptions): Tracing {
  const env = options.env;
  const sampler = env.OTEL_TRACES_SAMPLER
    ? undefined // the SDK reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG itself
    : new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) });
  const resource = defaultResource().merge(
    resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || 'islet',
      [ATTR_SERVICE_VERSION]: options.version,
      'service.instance.id': `${os.hostname()}:${process.pid}`,
    }),
  );
  const processor = new BatchSpanProcessor(options.exporter ?? new OTLPTraceExporter(), {
    maxQueueSize: options.maxQueueSize,
    maxExportBatchSize: Math.min(options.maxExportBatchSize, options.maxQueueSize),
    scheduledDelayMillis: options.scheduledDelayMs,
    selfObsMeterProvider: droppedCounter(options.onDropped),
  } as ConstructorParameters<typeof BatchSpanProcessor>[1]);
  const provider = new BasicTracerProvider({ resource, sampler, spanProcessors: [processor] });
  const tracer = provider.getTracer('islet', options.version);
  const trusted = trustedPeers(options.trustedPeers);
  // hrtime (monotonic, ns) -> epoch ns, fixed once: span start times come from the request's hrtime
  const epochOffsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  const hrTime = (ns: bigint): [number, number] => {
    const epoch = ns + epochOffsetNs;
    return [Number(epoch / 1_000_000_000n), Number(epoch % 1_000_000_000n)];
  };

  const childOf: ChildMaker = (parent) => (name, kind, attributes) => {
    const spanKind = kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL;
    const span = tracer.startSpan(name, { kind: spanKind, attributes: clean(attributes) }, parent);
    return childSpan(span, childOf);
  };

  return {
    startRequest(start: RequestSpanStart): ServerTrace {
      let parent = ROOT_CONTEXT;
      if (start.traceparent) {
        const carrier = { traceparent: start.traceparent, tracestate: start.tracestate };
        parent = propagator.extract(ROOT_CONTEXT, carrier, {
          get: (c, key) => c[key as keyof typeof c],
          keys: (c) => Object.keys(c),
        });
      }
      const span = tracer.startSpan(
        start.name,
        {
          kind: kinds[start.kind ?? 'server'],
          startTime: hrTime(start.startedNs),
          attributes: clean(start.attributes),
        },
        parent,
      );
      let ended = false;
      return {
        child: childOf(trace.setSpan(ROOT_CONTEXT, span)),
        finish(attributes, error) {
          if (ended) return;
          ended = true;
          if (span.isRecording()) {
            const values = clean(attributes);
            if (values) span.setAttributes(values);
            if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
          }
          span.end();
        },
      };
    },
    trusts: (address) => trusted(address),
    flush: () => provider.forceFlush(),
    close: () => provider.shutdown(),
  };
}

type ChildMaker = (parent: Context) => ChildSpan['child'];

function childSpan(span: Span, childOf: ChildMaker): ChildSpan {
  const carrier: Record<string, string> = {};
  const context = trace.setSpan(ROOT_CONTEXT, span);
  propagator.inject(context, carrier, {
    set: (c, key, value) => {
      c[key] = value;
    },
  });
  let ended = false;
  return {
    child: childOf(context),
    traceparent: carrier.traceparent ?? '',
    tracestate: carrier.tracestate,
    end(attributes, error) {
      if (ended) return;
      ended = true;
      if (span.isRecording()) {
        const values = clean(attributes);
        if (values) span.setAttributes(values);
        if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      }
      span.end();
    },
  };
}
