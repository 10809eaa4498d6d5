// A streamed body the isolate hands over (a Response body, a fetch() request body) as chunks the
// host reads: either an isolate stream the host pulls (a sink id), or a host source the isolate
// passed back untouched ({ source }), which the host then reads itself.
import type { HostBody } from '../../bridge/ops';
import type { RequestRun } from '../run';
import { passThrough } from './pass-through';
import type { IsolateSinks, BodyHooks } from './sinks';
import type { HostSources } from './sources';

export type { BodyHooks };

/** a body the host must read chunk by chunk (not null, text or bytes, which arrive whole) */
export type StreamedBody = number | { source: number };

export function isStreamed(body: HostBody): body is StreamedBody {
  return typeof body === 'number' || isPassThrough(body);
}

function isPassThrough(body: HostBody): body is { source: number } {
  return (
    body !== null &&
    typeof body === 'object' &&
    !(body instanceof Uint8Array) &&
    typeof (body as { source?: unknown }).source === 'number'
  );
}

export class BodyStreams {
  readonly #sources: HostSources;
  readonly #sinks: IsolateSinks;

  constructor(sources: HostSources, sinks: IsolateSinks) {
    this.#sources = sources;
    this.#sinks = sinks;
  }

  /** `body` of `run` as chunks, at most `limit` bytes; null when it was a host source already read or closed */
  open(run: RequestRun, body: StreamedBody, limit: number, hooks: BodyHooks): AsyncIterable<Uint8Array> | null {
    if (typeof body === 'number') return this.#sinks.body(run, body, limit, hooks);
    const source = this.#sources.take(body.source);
    return source ? passThrough(run, source, limit, hooks) : null;
  }
}
