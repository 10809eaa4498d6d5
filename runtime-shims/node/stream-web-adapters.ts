// Readable.fromWeb/toWeb and Writable.fromWeb/toWeb: bridges between Node streams and the
// platform's Web streams, which Workers code uses to hand a Node stream to a Response or read a
// request body the Node way. readable-stream declares them but leaves their bodies to Node
// internals it does not ship; these follow Node's behaviour (backpressure both ways, errors and
// cancellation propagated).
type NodeReadable = any;
type NodeWritable = any;

const toBytes = (chunk: unknown): Uint8Array =>
  typeof chunk === 'string' ? new TextEncoder().encode(chunk) : (chunk as Uint8Array);

export function readableFromWeb(
  Readable: any,
  stream: ReadableStream,
  options: Record<string, unknown> = {},
): NodeReadable {
  if (!(stream instanceof ReadableStream))
    throw new TypeError('The "readableStream" argument must be a ReadableStream');
  const reader = stream.getReader();
  let reading = false;
  return new Readable({
    ...options,
    read(this: NodeReadable) {
      if (reading) return;
      reading = true;
      reader.read().then(
        ({ done, value }) => {
          reading = false;
          if (done) this.push(null);
          else this.push(value);
        },
        (error) => this.destroy(error),
      );
    },
    destroy(error: unknown, callback: (error?: unknown) => void) {
      reader.cancel(error ?? undefined).then(() => callback(error), callback);
    },
  });
}

export function readableToWeb(readable: NodeReadable): ReadableStream<Uint8Array> {
  let closed = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      readable.pause();
      readable.on('data', (chunk: unknown) => {
        controller.enqueue(toBytes(chunk));
        if ((controller.desiredSize ?? 1) <= 0) readable.pause();
      });
      readable.once('end', () => {
        if (!closed) controller.close();
        closed = true;
      });
      readable.once('error', (error: unknown) => {
        if (!closed) controller.error(error);
        closed = true;
      });
    },
    pull() {
      readable.resume();
    },
    cancel(reason) {
      closed = true;
      readable.destroy(reason);
    },
  });
}

export function writableFromWeb(
  Writable: any,
  stream: WritableStream,
  options: Record<string, unknown> = {},
): NodeWritable {
  if (!(stream instanceof WritableStream))
    throw new TypeError('The "writableStream" argument must be a WritableStream');
  const writer = stream.getWriter();
  return new Writable({
    ...options,
    write(chunk: unknown, _encoding: string, callback: (error?: unknown) => void) {
      writer.write(toBytes(chunk)).then(() => callback(), callback);
    },
    final(callback: (error?: unknown) => void) {
      writer.close().then(() => callback(), callback);
    },
    destroy(error: unknown, callback: (error?: unknown) => void) {
      writer.abort(error ?? undefined).then(() => callback(error), callback);
    },
  });
}

export function writableToWeb(writable: NodeWritable): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write(chunk) {
      return new Promise<void>((resolve, reject) => {
        writable.write(chunk, (error?: unknown) => (error ? reject(error) : resolve()));
      });
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        writable.end((error?: unknown) => (error ? reject(error) : resolve()));
      });
    },
    abort(reason) {
      writable.destroy(reason);
    },
  });
}
