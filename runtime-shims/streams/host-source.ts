// Bytes that live on the host (an incoming request body, a fetch() response body) seen from the
// isolate. Each read is one host operation that pulls one chunk, so nothing is transferred
// before the function asks for it and the host's own stream keeps its backpressure.
import { host, hostAsync } from '../internal/bridge';
import { streams } from './polyfill';
import { concatBytes, append, SafeUint8Array } from '../internal/primordials';

/** the next chunk, or null at the end */
export function readHostChunk(sourceId: number): Promise<Uint8Array | null> {
  return hostAsync('read', sourceId).promise;
}

export function cancelHostSource(sourceId: number): void {
  host('cancelSource', sourceId);
}

export async function readAllHost(sourceId: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const chunk = await readHostChunk(sourceId);
    if (chunk === null) break;
    append(chunks, chunk);
    total += chunk.length;
  }
  return chunks.length === 0 ? new SafeUint8Array(0) : concatBytes(chunks, total);
}

export function hostSourceStream(sourceId: number): ReadableStream<Uint8Array> {
  const { ReadableStream } = streams();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller: any) {
        const chunk = await readHostChunk(sourceId);
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel() {
        cancelHostSource(sourceId);
      },
    },
    { highWaterMark: 0 },
  ) as unknown as ReadableStream<Uint8Array>;
}
