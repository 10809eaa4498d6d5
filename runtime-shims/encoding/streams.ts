// TextEncoderStream and TextDecoderStream: TransformStreams over the codecs (lazy with streams).
import { streams } from '../streams/polyfill';
import { utf8Encode } from './utf8';
import { TextDecoder } from './text-codec';
import { isBufferSource } from '../internal/primordials';

export function createEncodingStreams() {
  const { TransformStream } = streams();
  class TextEncoderStream {
    #transform: TransformStream<string, Uint8Array>;
    constructor() {
      let pendingHigh = '';
      this.#transform = new TransformStream<string, Uint8Array>({
        transform(chunk, controller) {
          let text = pendingHigh + String(chunk);
          pendingHigh = '';
          const last = text.charCodeAt(text.length - 1);
          // a chunk may end in the first half of a surrogate pair: keep it for the next chunk
          if (last >= 0xd800 && last <= 0xdbff) {
            pendingHigh = text.slice(-1);
            text = text.slice(0, -1);
          }
          if (text.length) controller.enqueue(utf8Encode(text));
        },
        flush(controller) {
          if (pendingHigh) controller.enqueue(new Uint8Array([0xef, 0xbf, 0xbd]));
        },
      }) as unknown as TransformStream<string, Uint8Array>;
    }
    get encoding() { return 'utf-8'; }
    get readable() { return this.#transform.readable; }
    get writable() { return this.#transform.writable; }
  }
  class TextDecoderStream {
    #transform: TransformStream<BufferSource, string>;
    #decoder: TextDecoder;
    constructor(label = 'utf-8', options?: { fatal?: boolean; ignoreBOM?: boolean }) {
      const decoder = (this.#decoder = new TextDecoder(label, options));
      this.#transform = new TransformStream<BufferSource, string>({
        transform(chunk, controller) {
          // a BufferSource, nothing else (decode() alone takes undefined and null as empty input)
          const shared = typeof SharedArrayBuffer === 'function' && chunk instanceof SharedArrayBuffer;
          if (!isBufferSource(chunk) && !shared) throw new TypeError('TextDecoderStream: chunks must be BufferSources');
          const text = decoder.decode(chunk, { stream: true });
          if (text) controller.enqueue(text);
        },
        flush(controller) {
          const text = decoder.decode();
          if (text) controller.enqueue(text);
        },
      }) as unknown as TransformStream<BufferSource, string>;
    }
    get encoding() { return this.#decoder.encoding; }
    get fatal() { return this.#decoder.fatal; }
    get ignoreBOM() { return this.#decoder.ignoreBOM; }
    get readable() { return this.#transform.readable; }
    get writable() { return this.#transform.writable; }
  }
  return { TextEncoderStream, TextDecoderStream };
}
