// crypto.DigestStream (Workers): a WritableStream whose `digest` promise resolves with the hash
// of everything written once it is closed. Chunks are collected and hashed at close by
// crypto.subtle.digest (the host's native hashing; MD5 in the isolate), so the stream holds
// what was written until then, within the isolate's memory limit. Not part of the bootstrap: a
// built-in module (islet:digest-stream) evaluated before the code of a deployment that names
// DigestStream (server/tenants/builtins.ts), written against the platform's globals.
const { WritableStream, TextEncoder, crypto } = globalThis;
const subtle = crypto.subtle;
const digestOf = subtle.digest;

function bytesOf(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') return new TextEncoder().encode(chunk);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk.slice(0));
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength).slice();
  throw new TypeError('DigestStream: a chunk must be an ArrayBuffer, a typed array, a DataView or a string');
}

export class DigestStream extends WritableStream<BufferSource> {
  #digest: Promise<ArrayBuffer>;
  constructor(algorithm: AlgorithmIdentifier) {
    if (arguments.length === 0)
      throw new TypeError("Failed to construct 'DigestStream': 1 argument required, but only 0 present.");
    const chunks: Uint8Array[] = [];
    let total = 0;
    let settle!: { resolve(v: ArrayBuffer): void; reject(e: unknown): void };
    const digest = new Promise<ArrayBuffer>((resolve, reject) => (settle = { resolve, reject }));
    super({
      write(chunk) {
        const bytes = bytesOf(chunk);
        chunks[chunks.length] = bytes;
        total += bytes.byteLength;
      },
      close() {
        const all = new Uint8Array(total);
        let at = 0;
        for (const chunk of chunks) {
          all.set(chunk, at);
          at += chunk.byteLength;
        }
        Reflect.apply(digestOf, subtle, [algorithm, all]).then(settle.resolve, settle.reject);
      },
      abort(reason) {
        settle.reject(reason);
      },
    });
    digest.catch(() => {}); // an aborted stream nobody asked the digest of
    this.#digest = digest;
  }
  get digest(): Promise<ArrayBuffer> {
    return this.#digest;
  }
}

Object.defineProperty(crypto, 'DigestStream', {
  value: DigestStream,
  writable: true,
  configurable: true,
  enumerable: false,
});
Object.defineProperty(DigestStream.prototype, Symbol.toStringTag, { value: 'DigestStream', configurable: true });
