// Whether this process traces, decided once at start: on when config `tracing.enabled` is true
// or an OTLP endpoint is given in the standard variables (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); off when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none
// say so. Off, the OpenTelemetry SDK is never loaded and requests carry no trace handle.
import type { Config } from '../../config';
import type { Tracing } from './types';

export interface TracingOptions {
  env?: NodeJS.ProcessEnv;
  version?: string;
  onDropped?(reason: 'queue_full' | 'export_failed', count: number): void;
}

export function tracingWanted(config: Pick<Config, 'tracing'>, env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? '').toLowerCase() === 'none') return false;
  return config.tracing.enabled || !!env.OTEL_EXPORTER_OTLP_ENDPOINT || !!env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
}

/** The process's tracing, or null when it is off (nothing of OpenTelemetry's SDK is loaded then). */
export function openTracing(config: Pick<Config, 'tracing'> & Partial<Pick<Config, 'trustedProxies'>>, options: TracingOptions = {}): Tracing | null {
  const env = options.env ?? process.env;
  if (!tracingWanted(config, env)) return null;
  // loaded here only: a process that does not trace never pays for the SDK's modules
  const { openOtel } = require('./otel') as typeof import('./otel');
  const t = config.tracing;
  return openOtel({
    sampleRatio: t.sampleRatio,
    // the front proxies trusted with request.cf are trusted with the trace context too
    trustedPeers: [...t.trustedPeers, ...(config.trustedProxies ?? [])],
    maxQueueSize: t.maxQueueSize,
    maxExportBatchSize: t.maxExportBatchSize,
    scheduledDelayMs: t.scheduledDelayMs,
    env,
    version: options.version ?? 'unknown',
    onDropped: options.onDropped ?? (() => {}),
  });
}
