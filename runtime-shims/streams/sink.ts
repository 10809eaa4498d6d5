// Isolate streams read by the host (a streamed Response body, a fetch() request body). The host
// enters `pullSink(id)` when it wants the next chunk and receives it through the 'chunk' host
// call: one chunk per pull, so a slow client slows the producer instead of filling memory.
import { host } from '../internal/bridge';
import {
  SafeMap,
  MapPrototypeGet,
  MapPrototypeSet,
  MapPrototypeDelete,
  PromisePrototypeThen,
  SafeUint8Array,
  ArrayBufferIsView,
  SafeArrayBuffer,
} from '../internal/primordials';
import { describeError } from '../internal/report';
import { utf8Encode } from '../encoding/utf8';

const sinks = new SafeMap<number, ReadableStreamDefaultReader<unknown>>();
let nextId = 1;

export function registerSink(stream: ReadableStream<unknown>): number {
  const id = nextId++;
  MapPrototypeSet(sinks, id, stream.getReader());
  return id;
}

function toBytes(chunk: unknown): Uint8Array | null {
  if (chunk instanceof SafeUint8Array) return chunk;
  if (ArrayBufferIsView(chunk)) {
    const v = chunk as ArrayBufferView;
    return new SafeUint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  if (chunk instanceof SafeArrayBuffer) return new SafeUint8Array(chunk);
  if (typeof chunk === 'string') return utf8Encode(chunk);
  return null;
}

/** host entry: read the next chunk of sink `id` and send it with host('chunk', id, done, bytes, error) */
export function pullSink(id: number): void {
  const reader = MapPrototypeGet(sinks, id);
  if (!reader) {
    host('chunk', id, true, null, 'the stream is gone');
    return;
  }
  let read: Promise<ReadableStreamReadResult<unknown>>;
  try {
    read = reader.read();
  } catch (error) {
    MapPrototypeDelete(sinks, id);
    host('chunk', id, true, null, describeError(error));
    return;
  }
  PromisePrototypeThen(
    read,
    (result) => {
      if (result.done) {
        MapPrototypeDelete(sinks, id);
        host('chunk', id, true, null, null);
        return;
      }
      const bytes = toBytes(result.value);
      if (!bytes) {
        MapPrototypeDelete(sinks, id);
        reader.cancel(new TypeError('body chunks must be Uint8Array')).catch(() => {});
        host(
          'chunk',
          id,
          true,
          null,
          'TypeError: a body stream produced a chunk that is not a ' + 'Uint8Array, ArrayBuffer or string',
        );
        return;
      }
      host('chunk', id, false, bytes, null);
    },
    (error) => {
      MapPrototypeDelete(sinks, id);
      host('chunk', id, true, null, describeError(error));
    },
  );
}

/** host entry: the host no longer wants sink `id` (client went away, request cut) */
export function cancelSink(id: number, reason: string): void {
  const reader = MapPrototypeGet(sinks, id);
  if (!reader) return;
  MapPrototypeDelete(sinks, id);
  PromisePrototypeThen(reader.cancel(new Error(reason)), undefined, () => {});
}
