// A ReadableStream over bytes already in memory (Blob.stream(), a Response's body getter).
import { streams } from './polyfill';

export function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  const { ReadableStream } = streams();
  return new ReadableStream<Uint8Array>({
    type: 'bytes',
    start(controller: any) {
      if (bytes.length) controller.enqueue(bytes.slice());
      controller.close();
    },
  }) as unknown as ReadableStream<Uint8Array>;
}
