// Fetcher: what `env.OTHER` is for a service binding. fetch() builds the Request as the global
// fetch() does and hands it to the host's serviceFetch op, which runs it in the other tenant
// without the network; the answer is a Response like any fetch() answer. Named entrypoints
// (RPC methods of a WorkerEntrypoint) are not offered yet: only fetch().
import { hostAsync } from '../internal/bridge';
import { SafeTypeError } from '../internal/primordials';
import { fetchVia } from '../fetch/fetch';
import type { Response } from '../fetch/response';

const illegal = Symbol('illegal');
let create: (binding: string) => Fetcher;

export class Fetcher {
  #binding: string;

  constructor(key?: unknown, binding?: string) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
    this.#binding = binding!;
  }

  fetch(input: unknown, init?: Record<string, unknown>): Promise<Response> {
    const binding = this.#binding;
    return fetchVia(input, init, (s, headers, body) =>
      hostAsync('serviceFetch', binding, s.method, s.url, headers, body, s.redirect),
    );
  }

  connect(): never {
    throw new SafeTypeError('connect() is not supported on service bindings in islet');
  }

  static {
    create = (binding) => new Fetcher(illegal, binding);
  }
}

export function createFetcher(binding: string): Fetcher {
  return create(binding);
}
