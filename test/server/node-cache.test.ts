// The PostgreSQL store's node cache is bounded in bytes (store.nodeCacheMb): past the bound the
// least recently used module blobs and code caches leave the disk, a read makes a file recent,
// and a restart finds what it kept and holds the same bound. Real files in a temp folder.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { NodeCache } from '../../server/store/postgres/node-cache';

const blob = (i: number, size = 1000) => {
  const data = Buffer.alloc(size, i);
  return { data, hash: createHash('sha256').update(data).digest('hex') };
};

/** bytes under blobs/ and code/ on disk */
function onDisk(dir: string): number {
  let total = 0;
  for (const top of ['blobs', 'code']) {
    const root = path.join(dir, top);
    if (!fs.existsSync(root)) continue;
    for (const sub of fs.readdirSync(root)) {
      for (const name of fs.readdirSync(path.join(root, sub))) total += fs.statSync(path.join(root, sub, name)).size;
    }
  }
  return total;
}

test(
  'blobs and code caches past the bound: least recently used out, on disk too; a restart keeps ' + 'the bound',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-node-cache-'));
    try {
      const cache = new NodeCache(dir, 5000);
      const blobs = Array.from({ length: 8 }, (_, i) => blob(i + 1));
      for (const b of blobs.slice(0, 5)) await cache.writeBlob(b.hash, b.data);
      assert.equal(cache.bytes, 5000);
      // blob 0 read: it is the most recent now; the next writes push out 1, 2 then 3
      assert.ok(await cache.readBlob(blobs[0]!.hash));
      await cache.writeBlob(blobs[5]!.hash, blobs[5]!.data);
      await cache.writeCode('v8-1', blobs[6]!.hash, Buffer.alloc(1500, 9));
      await new Promise((r) => setTimeout(r, 50)); // evicted files are removed in the background
      assert.ok(cache.bytes <= 5000, `${cache.bytes} bytes kept`);
      assert.ok(onDisk(dir) <= 5000, `${onDisk(dir)} bytes on disk`);
      assert.ok(await cache.readBlob(blobs[0]!.hash), 'the recently read blob stayed');
      for (const gone of [1, 2, 3]) assert.equal(await cache.readBlob(blobs[gone]!.hash), null, `blob ${gone} left`);
      assert.ok(await cache.readBlob(blobs[5]!.hash));
      assert.deepEqual(await cache.readCode('v8-1', blobs[6]!.hash), Buffer.alloc(1500, 9));
      // a file larger than the whole bound is not kept at all
      const huge = blob(99, 6000);
      await cache.writeBlob(huge.hash, huge.data);
      assert.equal(await cache.readBlob(huge.hash), null);
      // state records (what a node serves from while PostgreSQL is down) are not evicted
      await cache.remember('tenant/shop', { name: 'shop' });
      assert.deepEqual(await cache.recall('tenant/shop'), { value: { name: 'shop' } });

      // a restart with a smaller bound: the files found enter oldest first and the bound holds
      const restarted = new NodeCache(dir, 2500);
      await restarted.readBlob(blobs[0]!.hash); // waits for nothing, but touches after the index
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(restarted.bytes <= 2500, `${restarted.bytes} bytes kept after restart`);
      assert.ok(onDisk(dir) <= 2500, `${onDisk(dir)} bytes on disk after restart`);
      assert.deepEqual(await restarted.recall('tenant/shop'), { value: { name: 'shop' } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
