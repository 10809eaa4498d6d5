// KVNamespace: what `env.MY_KV` is for a KV binding. Each method is one host op (kvGet, kvPut,
// kvDelete, kvList) naming the binding as the function's env names it; the host knows which of
// the tenant's namespaces that is and checks every limit there (key 512 bytes, value 25 MiB,
// metadata 1 KiB, expirations at least 60 s ahead, the tenant's quota). Here values are only
// converted: a put's string/ArrayBuffer/stream becomes bytes, a get's answer becomes the type
// asked for.
import type { KvValueType } from '../../server/bridge/ops';
import { hostAsync } from '../internal/bridge';
import {
  JSONParse,
  JSONStringify,
  PromisePrototypeThen,
  PromiseReject,
  SafeTypeError,
  append,
  bufferSourceBytes,
  isBufferSource,
} from '../internal/primordials';
import { BodyState, consumeBytes } from '../fetch/body';
import { bytesStream } from '../streams/bytes';
import { isReadableStream } from '../streams/polyfill';

const illegal = Symbol('illegal');
let create: (binding: string) => KVNamespace;

interface GetOptions {
  type?: string;
  cacheTtl?: number;
}

function getOptions(options: unknown): { type: string; cacheTtl: number | null } {
  if (options === undefined || options === null) return { type: 'text', cacheTtl: null };
  if (typeof options === 'string') return { type: options, cacheTtl: null };
  if (typeof options !== 'object') throw new SafeTypeError('KV get(): options must be a type name or an object');
  const { type, cacheTtl } = options as GetOptions;
  return {
    type: type === undefined ? 'text' : String(type),
    cacheTtl: cacheTtl === undefined ? null : Number(cacheTtl),
  };
}

function convert(value: string | Uint8Array | null, type: string): unknown {
  if (value === null) return null;
  if (type === 'json') return JSONParse(value as string);
  if (type === 'arrayBuffer') return (value as Uint8Array).buffer;
  if (type === 'stream') return bytesStream(value as Uint8Array);
  return value;
}

function valueBytes(value: unknown): string | Uint8Array {
  if (typeof value === 'string') return value;
  if (isBufferSource(value)) return bufferSourceBytes(value);
  throw new SafeTypeError(
    'KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.',
  );
}

function optionalNumber(value: unknown): number | null {
  return value === undefined || value === null ? null : Number(value);
}

export class KVNamespace {
  #binding: string;

  constructor(key?: unknown, binding?: string) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
    this.#binding = binding!;
  }

  async get(key: unknown, options?: unknown): Promise<unknown> {
    const { type, cacheTtl } = getOptions(options);
    const [value] = await hostAsync('kvGet', this.#binding, String(key), type as KvValueType, cacheTtl).promise;
    return convert(value, type);
  }

  async getWithMetadata(
    key: unknown,
    options?: unknown,
  ): Promise<{ value: unknown; metadata: unknown; cacheStatus: null }> {
    const { type, cacheTtl } = getOptions(options);
    const [value, metadata] = await hostAsync('kvGet', this.#binding, String(key), type as KvValueType, cacheTtl)
      .promise;
    return { value: convert(value, type), metadata: metadata === null ? null : JSONParse(metadata), cacheStatus: null };
  }

  /**
   * Not an async function: a string or buffer value reaches the host within the call, so a get()
   * made right after an un-awaited put() is queued after it (and sees it); a stream is read first.
   */
  put(key: unknown, value: unknown, options?: Record<string, unknown>): Promise<void> {
    try {
      const name = String(key);
      const o = options ?? {};
      const metadata = o.metadata === undefined || o.metadata === null ? null : JSONStringify(o.metadata);
      const send = (bytes: string | Uint8Array) =>
        hostAsync(
          'kvPut',
          this.#binding,
          name,
          bytes,
          optionalNumber(o.expiration),
          optionalNumber(o.expirationTtl),
          metadata ?? null,
        ).promise;
      if (isReadableStream(value)) {
        const read = consumeBytes(new BodyState(value as ReadableStream<Uint8Array>));
        return PromisePrototypeThen(PromisePrototypeThen(read, send), () => undefined);
      }
      return PromisePrototypeThen(send(valueBytes(value)), () => undefined);
    } catch (error) {
      return PromiseReject(error);
    }
  }

  async delete(key: unknown): Promise<void> {
    await hostAsync('kvDelete', this.#binding, String(key)).promise;
  }

  async list(options?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const o = options ?? {};
    const prefix = o.prefix === undefined || o.prefix === null ? null : String(o.prefix);
    const cursor = o.cursor === undefined || o.cursor === null ? null : String(o.cursor);
    const [listed, complete, next] = await hostAsync('kvList', this.#binding, prefix, optionalNumber(o.limit), cursor)
      .promise;
    const keys: Record<string, unknown>[] = [];
    for (let i = 0; i < listed.length; i++) {
      const [name, expiration, metadata] = listed[i]!;
      const entry: Record<string, unknown> = { name };
      if (expiration !== null) entry.expiration = expiration;
      if (metadata !== null) entry.metadata = JSONParse(metadata);
      append(keys, entry);
    }
    const result: Record<string, unknown> = { keys, list_complete: complete, cacheStatus: null };
    if (!complete) result.cursor = next;
    return result;
  }

  static {
    create = (binding) => new KVNamespace(illegal, binding);
  }
}

export function createKVNamespace(binding: string): KVNamespace {
  return create(binding);
}
