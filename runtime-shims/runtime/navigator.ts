// `navigator` as Workers has it: userAgent 'Cloudflare-Workers' (libraries such as hono's
// getRuntimeKey() recognise the runtime by it), one CPU, English.
import { SafeTypeError } from '../internal/primordials';

const illegal = Symbol('illegal');

export class Navigator {
  constructor(key?: unknown) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
  }
  get userAgent() {
    return 'Cloudflare-Workers';
  }
  get hardwareConcurrency() {
    return 1;
  }
  get language() {
    return 'en';
  }
  get languages() {
    return ['en'];
  }
}

export const navigator = new Navigator(illegal);
