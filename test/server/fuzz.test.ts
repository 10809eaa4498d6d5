// Property-based fuzzing (fast-check) of what a caller controls on the admin port: upload bodies
// of every kind (single module, multipart, tar and tar.gz with hostile headers), their content
// types and options, and the JSON of the env, limits and tenant routes. The properties:
//   - the archive reader either returns safe relative paths or refuses with a DeployError (4xx);
//   - over HTTP, malformed input gets a 4xx JSON error (never a 500, never a dropped connection),
//     and the server keeps answering;
//   - afterwards the store is consistent: every manifest's modules exist and match their sha256,
//     and env and limits hold only what validation lets through.
// Run counts are fixed and seeds logged by fast-check on failure, so a failure can be replayed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import * as tar from 'tar-stream';
import { request } from 'undici';
import { extractArchive } from '../../server/deploy/archive';
import { DeployError } from '../../server/errors';
import { defaultUploadLimits } from '../../server/deploy/limits';
import { normalizeUploadPath } from '../../server/deploy/paths';
import { startHarness, type Harness } from './serve-harness';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const limits = { ...defaultUploadLimits, maxFileBytes: 64 * 1024, maxDeploymentBytes: 256 * 1024, maxFiles: 20 };

/** path-like strings, biased toward the dangerous shapes */
const pathArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '*',
    'config/*',
    '*.json',
    '../x.js',
    '/etc/passwd',
    'a/../../b.js',
    'C:\\x.js',
    'a\\b.js',
    './',
    '.',
    '..',
    'a//b.js',
    'index.js',
    'lib/util.js',
    'x\u0000.js',
    'ok/./y.js',
    '...',
    '%2e%2e/x.js',
  ),
  fc
    .array(fc.constantFrom('a', '..', '.', '', 'b.js', '~', 'node_modules'), { minLength: 1, maxLength: 6 })
    .map((s) => s.join('/')),
);

interface EntrySpec {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  body: Uint8Array;
  linkname?: string;
}

const entryArb: fc.Arbitrary<EntrySpec> = fc.record({
  name: pathArb,
  type: fc.constantFrom('file', 'file', 'file', 'directory', 'symlink', 'link', 'character-device', 'fifo'),
  body: fc.uint8Array({ maxLength: 2048 }),
  linkname: fc.option(pathArb, { nil: undefined }),
}) as fc.Arbitrary<EntrySpec>;

async function packTar(entries: EntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    try {
      const header = {
        name: e.name || 'x',
        type: e.type,
        linkname: e.linkname ?? 'target',
        size: e.type === 'file' ? e.body.length : 0,
      };
      await new Promise<void>((resolve) => {
        if (e.type === 'file') pack.entry(header, Buffer.from(e.body), () => resolve());
        else pack.entry(header, () => resolve()); // no size: the entry ends at once
      });
    } catch {
      // tar-stream refuses some headers outright (names it cannot encode): leave them out
    }
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** damage applied to a valid archive: none, truncation, flipped bytes */
const damageArb = fc.oneof(
  fc.constant((b: Buffer) => b),
  fc.nat().map((n) => (b: Buffer) => b.subarray(0, b.length ? n % b.length : 0)),
  fc
    .array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 })
    .map((flips) => (b: Buffer) => {
      const out = Buffer.from(b);
      for (const [at, x] of flips) if (out.length) out[at % out.length]! ^= x;
      return out;
    }),
);

function assertSafePath(p: string): void {
  assert.ok(
    p.length > 0 && !p.startsWith('/') && !p.includes('\\') && !p.includes('\0') && !p.includes('*'),
    `unsafe path ${JSON.stringify(p)}`,
  );
  assert.ok(!p.split('/').some((s) => s === '..' || s === '.' || s === ''), `unnormalized path ${JSON.stringify(p)}`);
}

test('normalizeUploadPath: any string becomes a safe relative path or a DeployError', () => {
  fc.assert(
    fc.property(pathArb, (raw) => {
      try {
        assertSafePath(normalizeUploadPath(raw, 'fuzz'));
      } catch (error) {
        if (!(error instanceof DeployError)) throw error;
        assert.equal(error.code, 'ISLET_DEPLOY_UPLOAD_BAD_PATH');
      }
    }),
    { numRuns: 2000 },
  );
});

test('extractArchive: random, hostile and damaged tar / tar.gz give safe paths or a 4xx DeployError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(entryArb, { maxLength: 8 }), fc.boolean(), damageArb, async (entries, gzip, damage) => {
      let data = await packTar(entries);
      if (gzip) data = zlib.gzipSync(data);
      data = damage(data);
      try {
        const files = await extractArchive(data, limits);
        let total = 0;
        for (const [name, content] of files) {
          assertSafePath(name);
          assert.ok(content.length <= limits.maxFileBytes);
          total += content.length;
        }
        assert.ok(files.size <= limits.maxFiles && total <= limits.maxDeploymentBytes);
      } catch (error) {
        if (!(error instanceof DeployError)) throw error;
        assert.ok(error.status >= 400 && error.status < 500, `status ${error.status} for ${error.code}`);
      }
    }),
    { numRuns: 400 },
  );
  // and plain random bytes, declared or not as gzip
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.boolean(), async (bytes, gzipMagic) => {
      const data = Buffer.from(bytes);
      if (gzipMagic && data.length >= 2) (data[0] = 0x1f), (data[1] = 0x8b);
      try {
        for (const name of (await extractArchive(data, limits)).keys()) assertSafePath(name);
      } catch (error) {
        if (!(error instanceof DeployError)) throw error;
      }
    }),
    { numRuns: 300 },
  );
});

test('a gzip bomb is cut while it inflates', async () => {
  // 64 MiB of zeros compress to ~64 KiB; the reader must stop past the deployment limit
  const entries: EntrySpec[] = [{ name: 'big.js', type: 'file', body: new Uint8Array(0) }];
  const tarred = await packTar(entries);
  const bomb = zlib.gzipSync(Buffer.concat([tarred.subarray(0, 512), Buffer.alloc(64 * 1024 * 1024)]), { level: 9 });
  await assert.rejects(extractArchive(bomb, limits), (e: DeployError) => e instanceof DeployError && e.status === 400);
});

// ---- over HTTP ----

async function admin(method: string, p: string, body?: Buffer | string, contentType?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${h.serving.operatorToken}` };
  if (contentType !== undefined) headers['content-type'] = contentType;
  const res = await request(`http://127.0.0.1:${h.serving.adminPort}${p}`, { method: method as 'GET', headers, body });
  return { status: res.statusCode, text: await res.body.text() };
}

const jsArb = fc.oneof(
  fc.constant("export default { fetch() { return new Response('ok'); } };"),
  fc.constant("addEventListener('fetch', (e) => e.respondWith(new Response('classic')));"),
  fc.constant("import x from './missing.js'; export default { fetch() { return new Response(x); } };"),
  fc.constant("import fs from 'node:fs'; export default { fetch() { return new Response('x'); } };"),
  fc.constant('export default 42;'),
  fc.string({ maxLength: 200 }),
  fc
    .string({ maxLength: 200 })
    .map((s) => `export default { fetch() { return new Response(${JSON.stringify(s)}); } }; ${s}`),
);

const boundary = 'fuzzBoundary7MA4YWxk';
const multipartArb = fc
  .array(
    fc.record({
      name: fc.oneof(
        fc.constantFrom('file', 'entry', 'routes', 'bundle', 'activate', 'compatibility'),
        fc.string({ maxLength: 12 }),
      ),
      filename: fc.option(pathArb, { nil: undefined }),
      content: fc.oneof(jsArb, fc.string({ maxLength: 40 })),
    }),
    { maxLength: 5 },
  )
  .chain((parts) =>
    fc.record({
      parts: fc.constant(parts),
      truncate: fc.option(fc.nat(), { nil: undefined }),
    }),
  )
  .map(({ parts, truncate }) => {
    const text =
      parts
        .map(
          (p) =>
            `--${boundary}\r\ncontent-disposition: form-data; name="${p.name.replace(/["\r\n]/g, '')}"${p.filename === undefined ? '' : `; filename="${p.filename.replace(/["\r\n]/g, '')}"`}\r\n\r\n${p.content}\r\n`,
        )
        .join('') + `--${boundary}--\r\n`;
    return truncate === undefined ? text : text.slice(0, truncate % (text.length + 1));
  });

const uploadArb = fc.oneof(
  fc.record({
    type: fc.constantFrom('application/javascript', 'application/typescript', 'text/javascript'),
    body: jsArb.map((s) => Buffer.from(s)),
  }),
  fc.record({
    type: fc.constant(`multipart/form-data; boundary=${boundary}`),
    body: multipartArb.map((s) => Buffer.from(s)),
  }),
  fc.record({
    type: fc.constantFrom(
      'multipart/form-data',
      'multipart/form-data; boundary=',
      'multipart/form-data; boundary="unterminated',
    ),
    body: multipartArb.map((s) => Buffer.from(s)),
  }),
  fc.record({
    type: fc.constantFrom('application/gzip', 'application/x-tar', 'application/octet-stream'),
    body: fc
      .tuple(fc.array(entryArb, { maxLength: 4 }), fc.boolean(), damageArb)
      .map(([entries, gzip, damage]) => ({ entries, gzip, damage })),
  }),
  fc.record({
    type: fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('', 'text/plain', 'application/json', 'application/javascript; charset=utf-16'),
    ),
    body: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  }),
);

const queryFieldsArb = fc
  .record(
    {
      entry: fc.oneof(fc.constantFrom('index.js', 'index.ts'), pathArb),
      routes: fc.oneof(
        fc.constantFrom('shop.example.com/*', 'a.example/x*', 'fuzz.example/*,fuzz.example/api*'),
        fc.string({ maxLength: 30 }),
        fc.constantFrom('*/x', 'x.example/', ',,,', 'localhost/*'),
      ),
      bundle: fc.constantFrom('true', 'false', '1', 'yes', ''),
      activate: fc.constantFrom('true', 'false', '0', 'maybe'),
      compatibility: fc.oneof(fc.constant('{}'), fc.json(), fc.string({ maxLength: 20 })),
    },
    { requiredKeys: [] },
  )
  .map((q) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) params.set(k, v);
    const text = params.toString();
    return text ? `?${text}` : '';
  });
/** often no options at all, so that valid uploads also occur and reach the build and the store */
const queryArb = fc.oneof({ arbitrary: fc.constant(''), weight: 2 }, { arbitrary: queryFieldsArb, weight: 3 });

test('uploads over HTTP: malformed bodies, types and options get 4xx (never 500), the store stays consistent', async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('fz-a', 'fz-b', 'fz-c'), uploadArb, queryArb, async (tenant, upload, query) => {
      let body: Buffer;
      if (Buffer.isBuffer(upload.body)) body = upload.body;
      else {
        const spec = upload.body as { entries: EntrySpec[]; gzip: boolean; damage: (b: Buffer) => Buffer };
        let data = await packTar(spec.entries);
        if (spec.gzip) data = zlib.gzipSync(data);
        body = spec.damage(data);
      }
      const res = await admin('POST', `/v1/tenants/${tenant}/deployments${query}`, body, upload.type);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(
        res.status === 201 || (res.status >= 400 && res.status < 500),
        `${upload.type} ${query}: ${res.status} ${res.text}`,
      );
      const json = JSON.parse(res.text) as { id?: string; error?: { code: string; message: string } };
      if (res.status !== 201) {
        assert.match(json.error!.code, /^[A-Z_]+$/);
        // the tenant's own paths may appear; nothing of the server's
        assert.ok(
          !/\n\s+at .*\(\/|\/(work|tmp|usr|root|home)\/|dist\/server|node:internal/.test(json.error!.message),
          `no server internals: ${json.error!.message}`,
        );
      } else assert.ok(json.id);
    }),
    { numRuns: 300 },
  );
  if (process.env.ISLET_TEST_SHOW) console.error('upload statuses', [...statuses]);
  assert.ok((statuses.get(201) ?? 0) > 0, `some uploads were valid and went through: ${JSON.stringify([...statuses])}`);
  assert.equal((await admin('GET', '/healthz')).status, 200);
  await assertStoreConsistent(['fz-a', 'fz-b', 'fz-c']);
});

async function assertStoreConsistent(tenants: string[]): Promise<void> {
  const store = h.serving.store;
  for (const tenant of tenants) {
    const record = await store.getTenant(tenant);
    if (!record) continue;
    const deployments = await store.listDeployments(tenant);
    if (record.active)
      assert.ok(
        deployments.some((d) => d.id === record.active),
        `${tenant}: the active deployment exists`,
      );
    for (const manifest of deployments) {
      assert.ok(
        manifest.modules.some((m) => m.path === manifest.entry),
        `${tenant}/${manifest.id}: the entry is a module`,
      );
      for (const mod of manifest.modules) {
        assertSafePath(mod.path);
        const data = await store.readFile(tenant, manifest.id, mod.path);
        assert.equal(
          createHash('sha256').update(data).digest('hex'),
          mod.sha256,
          `${tenant}/${manifest.id}/${mod.path} matches its hash`,
        );
      }
    }
  }
}

test('env, limits and tenant JSON: random documents get 200/201 or 4xx, and only valid values are stored', async () => {
  const put = await admin('PUT', '/v1/tenants/fz-json', '{}', 'application/json');
  assert.ok(put.status === 201 || put.status === 200);
  const docArb = fc.oneof(
    fc.json().map((j) => Buffer.from(j)),
    fc
      .record(
        {
          vars: fc.dictionary(
            fc.string({ maxLength: 10 }),
            fc.oneof(fc.string({ maxLength: 10 }), fc.constant(null), fc.integer(), fc.object()),
          ),
          secrets: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue()),
        },
        { requiredKeys: [] },
      )
      .map((o) => Buffer.from(JSON.stringify(o))),
    fc
      .record(
        {
          limits: fc.oneof(
            fc.dictionary(
              fc.constantFrom('cpuMs', 'wallMs', 'memoryMb', 'subrequests', 'nope', '__proto__'),
              fc.oneof(fc.double(), fc.integer(), fc.constant(null), fc.string()),
            ),
            fc.jsonValue(),
          ),
        },
        { requiredKeys: [] },
      )
      .map((o) => Buffer.from(JSON.stringify(o))),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc
      .constantFrom(
        '{"__proto__": {"x": 1}}',
        '{"vars": {"__proto__": "x"}}',
        '{"limits": {"constructor": 1}}',
        '{"vars":{"A":"1"},"secrets":{"A":"2"}}',
      )
      .map((s) => Buffer.from(s)),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(
        ['PUT', '/v1/tenants/fz-json/env'],
        ['PATCH', '/v1/tenants/fz-json'],
        ['PUT', '/v1/tenants/fz-json'],
        ['POST', '/v1/tenants/fz-json/tokens'],
      ),
      docArb,
      fc.constantFrom('application/json', 'text/plain', ''),
      async ([method, p], doc, type) => {
        const res = await admin(method, p, doc, type);
        assert.ok(
          res.status < 300 || (res.status >= 400 && res.status < 500),
          `${method} ${p} ${doc.toString().slice(0, 80)}: ${res.status} ${res.text}`,
        );
        assert.doesNotThrow(() => JSON.parse(res.text), 'every answer is JSON');
      },
    ),
    { numRuns: 300 },
  );
  const env = await h.serving.store.getEnv('fz-json');
  for (const section of [env.vars, env.secrets]) {
    for (const [name, value] of Object.entries(section)) {
      assert.match(name, /^[A-Za-z_][A-Za-z0-9_]*$/);
      assert.equal(typeof value, 'string');
    }
  }
  const record = (await h.serving.store.getTenant('fz-json'))!;
  for (const [name, value] of Object.entries(record.limits ?? {})) {
    assert.ok(['cpuMs', 'wallMs', 'memoryMb', 'subrequests'].includes(name), `only known limits stored (${name})`);
    assert.ok(typeof value === 'number' && Number.isFinite(value) && value >= 0, `${name}: ${value}`);
  }
  assert.equal(({} as Record<string, unknown>).x, undefined, 'no prototype pollution in the server process');
});
