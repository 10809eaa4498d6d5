// The Cache API as Workers offers it: `caches.default` and `caches.open(name)`, each a Cache with
// match, put and delete. Responses are kept by the host (server/bindings/cache/), per tenant and
// per node, under the rules Cloudflare documents (Cache-Control, Expires, Set-Cookie, ETag and
// Last-Modified revalidation), which the host applies. Here requests are checked as Workers
// checks them (GET only, unless ignoreMethod), and a put reads the response body whole.
import { hostAsync } from '../internal/bridge';
import { SafeMap, MapPrototypeGet, MapPrototypeSet, SafeTypeError } from '../internal/primordials';
import { Request, requestState } from '../fetch/request';
import { type Response, responseState, responseFromHost } from '../fetch/response';
import { headerList } from '../fetch/headers';
import { consumeBytes } from '../fetch/body';

const illegal = Symbol('illegal');
let create: (name: string) => Cache;

interface QueryOptions {
  ignoreMethod?: boolean;
}

function toRequest(input: unknown): Request {
  return input instanceof Request ? input : new Request(input);
}

export class Cache {
  /** '' for caches.default, ':<name>' for caches.open(name) */
  #name: string;

  constructor(key?: unknown, name?: string) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
    this.#name = name!;
  }

  async match(request: unknown, options?: QueryOptions): Promise<Response | undefined> {
    const r = toRequest(request);
    const s = requestState(r);
    if (s.method !== 'GET' && !options?.ignoreMethod) return undefined;
    const answer = await hostAsync('cacheMatch', this.#name, s.url, headerList(r.headers)).promise;
    if (answer === null) return undefined;
    const [status, statusText, headers, body] = answer;
    return responseFromHost(status, statusText, headers, body, [s.url], false);
  }

  async put(request: unknown, response: unknown): Promise<void> {
    const r = toRequest(request);
    const s = requestState(r);
    if (s.method !== 'GET') throw new SafeTypeError('Cannot cache response to non-GET request.');
    const rs = responseState(response);
    if (rs === null)
      throw new SafeTypeError("Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.");
    if (rs.type === 'error') throw new SafeTypeError('Cache is unable to store an error response');
    if (rs.status === 206) throw new SafeTypeError('Cannot cache response to a range request (206 Partial Content).');
    const vary = rs.headers.get('vary');
    if (vary?.includes('*')) throw new SafeTypeError("Cannot cache response with 'Vary: *' header.");
    const body = await consumeBytes(rs.body);
    const bytes = body.byteLength ? body : null;
    await hostAsync('cachePut', this.#name, s.url, rs.status, rs.statusText, headerList(rs.headers), bytes).promise;
  }

  async delete(request: unknown, options?: QueryOptions): Promise<boolean> {
    const r = toRequest(request);
    const s = requestState(r);
    if (s.method !== 'GET' && !options?.ignoreMethod) return false;
    return await hostAsync('cacheDelete', this.#name, s.url).promise;
  }

  static {
    create = (name) => new Cache(illegal, name);
  }
}

export class CacheStorage {
  #default: Cache | null = null;
  #opened = new SafeMap<string, Cache>();

  constructor(key?: unknown) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
  }

  get default(): Cache {
    return (this.#default ??= create(''));
  }

  async open(name: unknown): Promise<Cache> {
    const key = `:${String(name)}`;
    let cache = MapPrototypeGet(this.#opened, key);
    if (!cache) {
      cache = create(key);
      MapPrototypeSet(this.#opened, key, cache);
    }
    return cache;
  }
}

export function createCacheStorage(): CacheStorage {
  return new CacheStorage(illegal);
}
