// What serving code sees of tracing: a handle per request (its server span) that makes child
// spans for the request's subrequests, binding operations and service calls. These types load
// no OpenTelemetry code: with tracing off there is no handle at all (`trace` is undefined on the
// request), so the serving path pays one property read per place that could trace.

/** A span's attributes: OpenTelemetry's semantic conventions where one fits, `islet.*` otherwise. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** One child span (a fetch, a KV get...); a service call's is also the trace of the callee's request. */
export interface ChildSpan extends RequestTrace {
  /** the W3C traceparent naming this span as the parent, for the outbound request it stands for */
  readonly traceparent: string;
  readonly tracestate: string | undefined;
  /** ends it; `error`: what failed (the span gets an error status) */
  end(attributes?: SpanAttributes, error?: string): void;
}

/** The trace of one request (or cron run) as the sandbox's parts see it. */
export interface RequestTrace {
  /** a child span of the request's span; `client`: a call to another service */
  child(name: string, kind: 'client' | 'internal', attributes: SpanAttributes): ChildSpan;
}

/** The server span of a request, ended once with what the request cost. */
export interface ServerTrace extends RequestTrace {
  /** ends it (later calls do nothing); `error`: why the request failed */
  finish(attributes: SpanAttributes, error?: string): void;
}

export interface RequestSpanStart {
  /** span name */
  name: string;
  /** process.hrtime.bigint() when the request arrived */
  startedNs: bigint;
  /** the caller's traceparent/tracestate, already checked to come from a trusted peer */
  traceparent?: string;
  tracestate?: string;
  /** a scheduled run or a service call: no HTTP server side */
  kind?: 'server' | 'internal' | 'consumer';
  attributes: SpanAttributes;
}

export interface Tracing {
  /** a new request span (root, or the child of a trusted caller's span) */
  startRequest(start: RequestSpanStart): ServerTrace;
  /** whether a peer's traceparent is trusted */
  trusts(address: string | undefined): boolean;
  /** exports what is queued (tests, shutdown) */
  flush(): Promise<void>;
  close(): Promise<void>;
}
