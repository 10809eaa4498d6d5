// What the tests with real node:cluster workers share: waiting for a worker's next message of
// one `type` (the test's own messages beside the channel's), failing when the worker exits first.
import type { Worker } from 'node:cluster';

export function nextMessage<T>(worker: Worker, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: unknown }) => {
      if (message?.type !== type) return;
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      resolve(message as T);
    };
    const onExit = (code: number) => reject(new Error(`worker exited (${code}) before sending ${type}`));
    worker.on('message', onMessage);
    worker.on('exit', onExit);
  });
}
