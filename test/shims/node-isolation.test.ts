// islet's built-in modules reach the runtime through the hidden module islet:internal; none of
// that channel, nor the bridge, may be reachable from a tenant's code through them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchText, request } from './helpers';
import { deploySandbox } from './deploy-helpers';
import { DeployError } from '../../server/errors';
import { builtinRegistry } from '../../server/tenants/builtins';

test('nothing reachable from any built-in module is the bridge or the internal channel', async () => {
  const ids = Object.keys(builtinRegistry().modules).filter((id) => !builtinRegistry().unsupported.includes(id));
  const imports = ids.map((id, i) => `import * as m${i} from '${id}';`).join('\n');
  const t = await deploySandbox({
    'index.js': `${imports}
      const roots = [${ids.map((id, i) => `['${id}', m${i}]`).join(', ')}];
      export default { fetch() {
        const seen = new Set();
        const queue = roots.slice();
        const suspicious = [];
        const names = ['host', 'hostCall', 'setHost', 'hostAsync', '__isletConnectInternals', 'internals',
          'asyncContext',
          'connectBuiltins', 'applySync', 'derefInto'];
        while (queue.length && seen.size < 50000) {
          const [path, value] = queue.shift();
          if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) continue;
          seen.add(value);
          let keys = [];
          try { keys = Reflect.ownKeys(value); } catch {}
          for (const key of keys) {
            let desc;
            try { desc = Object.getOwnPropertyDescriptor(value, key); } catch { continue; }
            // a data property of one of those names (URL.prototype.host is an accessor, and fine)
            if (names.includes(key) && desc && 'value' in desc) suspicious.push(path + '.' + String(key));
            if (desc && 'value' in desc) queue.push([path + '.' + String(key), desc.value]);
          }
          if (typeof value === 'function' && names.includes(value.name)) {
            suspicious.push(path + ' (a function named ' + value.name + ')');
          }
          try { queue.push([path + '.__proto__', Object.getPrototypeOf(value)]); } catch {}
        }
        return Response.json({ walked: seen.size, suspicious });
      } };`,
  });
  try {
    const { walked, suspicious } = JSON.parse((await fetchText(t, request('http://x.test/'))).text);
    assert.ok(walked > 1000, `walked ${walked} objects`);
    assert.deepEqual(suspicious, []);
  } finally {
    t.close();
  }
});

test("an entry module exporting the runtime's reserved connect name is refused at deploy", async () => {
  await assert.rejects(
    deploySandbox({
      'index.js': `export function __isletConnectInternals(internals) { globalThis.stolen = internals; }
        export default { fetch() { return new Response(String(globalThis.stolen)); } };`,
    }),
    (error: Error) =>
      error instanceof DeployError && /exports '__isletConnectInternals', a name islet reserves/.test(error.message),
  );
});
