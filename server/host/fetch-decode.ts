// Content decoding as fetch() does it (undici's fetch, Fetch's "handle content codings"): a body
// whose Content-Encoding lists only codings Node can decode (gzip, deflate, br, zstd where Node
// has it; at most five) reaches the isolate decoded, and the response then loses its
// Content-Encoding and Content-Length headers (./fetch.ts). Decoders are lenient with a truncated
// end (sync flush), as browsers are.
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';

const zstd = (zlib as { createZstdDecompress?: () => Transform }).createZstdDecompress;
const flush = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };

/** the codings of a Content-Encoding value, when every one can be decoded here; else null */
export function decodableCodings(contentEncoding: string | null | undefined): string[] | null {
  if (!contentEncoding) return null;
  const codings = contentEncoding
    .toLowerCase()
    .split(',')
    .map((c) => c.trim());
  if (codings.length > 5) return null;
  for (const c of codings) {
    if (c !== 'gzip' && c !== 'x-gzip' && c !== 'deflate' && c !== 'br' && !(c === 'zstd' && zstd)) return null;
  }
  return codings;
}

/** deflate is meant to be zlib-wrapped, but servers send raw deflate too: the first byte tells */
class InflateEither extends Transform {
  #inner: Transform | null = null;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#inner === null) {
      if (chunk.length === 0) {
        done();
        return;
      }
      this.#inner = (chunk[0]! & 0x0f) === 0x08 ? zlib.createInflate(flush) : zlib.createInflateRaw(flush);
      this.#inner.on('data', (data: Buffer) => this.push(data));
      this.#inner.on('error', (error) => this.destroy(error));
    }
    this.#inner.write(chunk, done);
  }
  override _flush(done: TransformCallback): void {
    if (this.#inner === null) {
      done();
      return;
    }
    this.#inner.once('end', () => done());
    this.#inner.end();
  }
}

function decoderFor(coding: string): Transform {
  if (coding === 'gzip' || coding === 'x-gzip') return zlib.createGunzip(flush);
  if (coding === 'deflate') return new InflateEither();
  if (coding === 'br') {
    const brotli = zlib.constants.BROTLI_OPERATION_FLUSH;
    return zlib.createBrotliDecompress({ flush: brotli, finishFlush: brotli });
  }
  return zstd!();
}

/** `body` decoded (codings applied last first); errors of any stage end the returned stream */
export function decodeBody(body: Readable, codings: string[]): Readable {
  const stages = [...codings].reverse().map(decoderFor);
  return pipeline([body, ...stages], () => {}) as unknown as Readable;
}
