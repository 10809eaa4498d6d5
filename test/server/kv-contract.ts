// The KV backend contract (server/bindings/kv/backend.ts), written once and run against every
// backend (kv-backends.test.ts: SQLite and PostgreSQL): values with metadata and expiration,
// tenants and namespaces apart, listing in UTF-8 byte order with prefixes and cursors, expired
// entries gone and their bytes given back, quotas checked with the write (racing writers
// included), and a dropped tenant's data gone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type KvBackend, type KvNamespaceRef, KvQuotaError } from '../../server/bindings/kv/backend';

export interface KvSubject {
  backend: KvBackend;
  /** removes expired entries now */
  sweep(): Promise<number> | number;
}

const big = { bytes: 1 << 30, keys: 1_000_000 };
const now = () => Math.floor(Date.now() / 1000);
const put = (
  kv: KvBackend,
  ns: KvNamespaceRef,
  key: string,
  value: string,
  extra: Partial<{ m: string; e: number }> = {},
) => kv.put(ns, key, { value: Buffer.from(value), metadata: extra.m ?? null, expiration: extra.e ?? null }, big);

export function kvContract(open: () => Promise<KvSubject>): void {
  let n = 0;
  /** a tenant no other case of this run touches */
  const fresh = (label: string) => `${label}-${++n}-${Date.now().toString(36)}`;

  test('get, put (with metadata and expiration), overwrite, delete', async () => {
    const { backend } = await open();
    const ns = { tenant: fresh('t'), namespace: 'ns1' };
    assert.equal(await backend.get(ns, 'missing'), null);
    const later = now() + 3600;
    await put(backend, ns, 'k', 'v1', { m: '{"a":1}', e: later });
    assert.deepEqual(await backend.get(ns, 'k'), { value: Buffer.from('v1'), metadata: '{"a":1}', expiration: later });
    await put(backend, ns, 'k', 'v2');
    assert.deepEqual(await backend.get(ns, 'k'), { value: Buffer.from('v2'), metadata: null, expiration: null });
    const binary = Buffer.from([0, 255, 1, 254]);
    await backend.put(ns, 'bin', { value: binary, metadata: null, expiration: null }, big);
    assert.deepEqual((await backend.get(ns, 'bin'))?.value, binary);
    await backend.delete(ns, 'k');
    await backend.delete(ns, 'never-there');
    assert.equal(await backend.get(ns, 'k'), null);
    assert.deepEqual(await backend.usage(ns.tenant), { bytes: 'bin'.length + 4, keys: 1 });
  });

  test('a read right after a put or delete that was not awaited sees it', async () => {
    const { backend } = await open();
    const ns = { tenant: fresh('ryw'), namespace: 'n' };
    for (let i = 0; i < 5; i++) {
      const written = put(backend, ns, 'counter', String(i));
      assert.equal((await backend.get(ns, 'counter'))?.value.toString(), String(i));
      assert.deepEqual(
        (await backend.list(ns, { prefix: null, limit: 10, cursor: null })).keys.map((k) => k.name),
        ['counter'],
      );
      await written;
    }
    const deleted = backend.delete(ns, 'counter');
    assert.equal(await backend.get(ns, 'counter'), null);
    await deleted;
  });

  test('tenants and namespaces are apart: the same key elsewhere is another entry', async () => {
    const { backend } = await open();
    const a = { tenant: fresh('a'), namespace: 'shared-id' };
    const b = { tenant: fresh('b'), namespace: 'shared-id' };
    const a2 = { tenant: a.tenant, namespace: 'other' };
    await put(backend, a, 'key', 'from a');
    assert.equal(await backend.get(b, 'key'), null);
    assert.equal(await backend.get(a2, 'key'), null);
    assert.deepEqual((await backend.list(b, { prefix: null, limit: 10, cursor: null })).keys, []);
    assert.deepEqual(await backend.usage(b.tenant), { bytes: 0, keys: 0 });
  });

  test('list: UTF-8 byte order, prefix, limit and cursor pages, expired keys left out', async () => {
    const { backend } = await open();
    const ns = { tenant: fresh('l'), namespace: 'n' };
    const names = ['b', 'a', 'é', 'z', '\u{1F600}', 'ab', 'a/1', 'a/2', 'a/3', 'Z'];
    for (const name of names) await put(backend, ns, name, name, name === 'a/2' ? { m: '"m"' } : {});
    await put(backend, ns, 'a/gone', 'x', { e: now() - 5 });
    const sorted = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const all = await backend.list(ns, { prefix: null, limit: 1000, cursor: null });
    assert.deepEqual(
      all.keys.map((k) => k.name),
      sorted,
    );
    assert.equal(all.cursor, null);
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const page = await backend.list(ns, { prefix: 'a', limit: 2, cursor });
      pages.push(page.keys.map((k) => k.name));
      cursor = page.cursor;
    } while (cursor);
    assert.deepEqual(pages, [['a', 'a/1'], ['a/2', 'a/3'], ['ab']]);
    const withMeta = await backend.list(ns, { prefix: 'a/2', limit: 10, cursor: null });
    assert.deepEqual(withMeta.keys, [{ name: 'a/2', expiration: null, metadata: '"m"' }]);
  });

  test('expired entries read as absent, and a sweep gives their bytes back', async (t) => {
    const { backend, sweep } = await open();
    const ns = { tenant: fresh('e'), namespace: 'n' };
    await put(backend, ns, 'old', '12345', { e: now() - 1 });
    await put(backend, ns, 'new', 'abc', { e: now() + 3600 });
    assert.equal(await backend.get(ns, 'old'), null);
    assert.deepEqual(await backend.usage(ns.tenant), { bytes: 3 + 5 + 3 + 3, keys: 2 });
    const removed = await sweep();
    t.diagnostic(`swept ${removed}`);
    assert.ok(removed >= 1);
    assert.deepEqual(await backend.usage(ns.tenant), { bytes: 6, keys: 1 });
  });

  test('quotas: keys and bytes refused with nothing written; a shrinking write passes a lowered quota', async () => {
    const { backend } = await open();
    const ns = { tenant: fresh('q'), namespace: 'n' };
    const quota = { bytes: 20, keys: 2 };
    const value = (s: string) => ({ value: Buffer.from(s), metadata: null, expiration: null });
    await backend.put(ns, 'k1', value('12345678'), quota); // 10 bytes
    await backend.put(ns, 'k2', value('1234'), quota); // 6 bytes
    await assert.rejects(backend.put(ns, 'k3', value('1'), quota), (e: unknown) => {
      assert.ok(e instanceof KvQuotaError);
      assert.equal(e.what, 'keys');
      return true;
    });
    await assert.rejects(backend.put(ns, 'k2', value('1234567890'), quota), (e: unknown) => {
      assert.ok(e instanceof KvQuotaError);
      assert.equal(e.what, 'bytes');
      return true;
    });
    assert.deepEqual((await backend.get(ns, 'k2'))?.value, Buffer.from('1234'));
    assert.equal(await backend.get(ns, 'k3'), null);
    assert.deepEqual(await backend.usage(ns.tenant), { bytes: 16, keys: 2 });
    await backend.put(ns, 'k1', value('1'), { bytes: 5, keys: 2 });
    assert.deepEqual(await backend.usage(ns.tenant), { bytes: 9, keys: 2 });
  });

  test('racing writers of one tenant cannot pass its quota together', async () => {
    const { backend } = await open();
    const ns = { tenant: fresh('r'), namespace: 'n' };
    const quota = { bytes: 1 << 20, keys: 10 };
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        backend.put(ns, `key-${i}`, { value: Buffer.from('v'), metadata: null, expiration: null }, quota),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof KvQuotaError, String(r.reason));
    assert.equal((await backend.usage(ns.tenant)).keys, 10);
    assert.equal((await backend.list(ns, { prefix: null, limit: 100, cursor: null })).keys.length, 10);
  });

  test('dropTenant removes every namespace of the tenant and its usage, nobody else’s', async () => {
    const { backend } = await open();
    const gone = fresh('gone');
    const kept = { tenant: fresh('kept'), namespace: 'n' };
    await put(backend, { tenant: gone, namespace: 'n1' }, 'k', 'v');
    await put(backend, { tenant: gone, namespace: 'n2' }, 'k', 'v');
    await put(backend, kept, 'k', 'v');
    await backend.dropTenant(gone);
    assert.equal(await backend.get({ tenant: gone, namespace: 'n1' }, 'k'), null);
    assert.equal(await backend.get({ tenant: gone, namespace: 'n2' }, 'k'), null);
    assert.deepEqual(await backend.usage(gone), { bytes: 0, keys: 0 });
    assert.deepEqual((await backend.get(kept, 'k'))?.value, Buffer.from('v'));
  });
}
