// request.cf of an incoming request, built from the flat values the host sent (bridge/ops.ts
// CfFlat) the first time the function reads it: a request whose function never looks at it
// costs one string crossing. Field pairs come in the host's layer order (later wins); a trusted
// proxy's whole cf object, sent as JSON, goes over them. The object always exists; fields the
// host did not know are simply absent (undefined), as on Workers.
import type { CfFlat } from '../../server/bridge/ops';
import { ArrayIsArray, JSONParse, ObjectDefineProperty, ObjectKeys } from '../internal/primordials';

export function cfObject(flat: CfFlat): Record<string, unknown> {
  const cf: Record<string, unknown> = {};
  if (flat === null) return cf;
  if (typeof flat === 'string') {
    cf.httpProtocol = flat;
    return cf;
  }
  cf.httpProtocol = flat[0];
  for (let i = 2; i < flat.length; i += 2) cf[flat[i] as string] = flat[i + 1];
  const blob = flat[1];
  if (typeof blob === 'string') {
    let parsed: unknown;
    try {
      parsed = JSONParse(blob);
    } catch {
      // a proxy sent something else than JSON: its fields are not known
      return cf;
    }
    if (parsed === null || typeof parsed !== 'object' || ArrayIsArray(parsed)) return cf;
    const fields = parsed as Record<string, unknown>;
    const keys = ObjectKeys(fields);
    // defined, not assigned: a "__proto__" key stays a plain field
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      ObjectDefineProperty(cf, key, { value: fields[key], writable: true, enumerable: true, configurable: true });
    }
  }
  return cf;
}
