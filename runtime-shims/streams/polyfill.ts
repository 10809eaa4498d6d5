// WHATWG Streams come from web-streams-polyfill (a port of the reference implementation, tested
// against the web-platform-tests). It is plain JavaScript and runs in a bare isolate; it is
// evaluated the first time a stream is needed (see internal/lazy.ts).
import { lazy } from '../internal/lazy';

declare const require: (id: string) => any;
export type StreamsModule = typeof import('web-streams-polyfill');

export const streams: () => StreamsModule = lazy(() => require('web-streams-polyfill'));

/** true when the stream was read from or cancelled (Fetch's "disturbed") */
export function isDisturbed(stream: ReadableStream): boolean {
  return (stream as any)._disturbed === true;
}

export function isReadableStream(value: unknown): value is ReadableStream {
  if (value === null || typeof value !== 'object') return false;
  return value instanceof streams().ReadableStream;
}
