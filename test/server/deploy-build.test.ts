// The deploy build: what a tenant's upload becomes, and every way an upload is refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { extractArchive } from '../../server/deploy/archive';
import { build } from '../../server/deploy/build';
import { defaultUploadLimits } from '../../server/deploy/limits';
import { fixtureFiles, fromObject, runGraph } from './deploy-fixtures';

async function refused(promise: Promise<unknown>): Promise<{ code: string; status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code: string; status: number; message: string };
    return { code: e.code, status: e.status, message: e.message };
  }
  assert.fail('the upload was accepted');
}

async function tarGz(
  entries: { header: Partial<tar.Header> & { name: string }; data?: string | Buffer }[],
): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.data === undefined) pack.entry(e.header as Parameters<tar.Pack['entry']>[0]);
    else pack.entry(e.header as Parameters<tar.Pack['entry']>[0], e.data);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return zlib.gzipSync(Buffer.concat(chunks));
}

describe('build: linked modules', () => {
  test('TypeScript over several files with JSON and a vendored npm package runs, linked by path', async () => {
    const { manifest, files } = await build('shop', fixtureFiles('multi'));
    assert.equal(manifest.format, 'modules');
    assert.equal(manifest.entry, 'index.js');
    assert.deepEqual(
      manifest.modules.map((m) => m.path),
      [
        'index.js',
        'lib/greet.js',
        'lib/shout.js',
        'node_modules/lru-cache/dist/esm/browser/index.min.js',
        'settings.js',
      ],
    );
    assert.deepEqual(manifest.importMap, { 'lru-cache': 'node_modules/lru-cache/dist/esm/browser/index.min.js' });
    const entry = files.get('index.js')!.toString();
    assert.match(entry, /from "\/lib\/greet\.js"/);
    assert.match(entry, /from "\/node_modules\/lru-cache\/dist\/esm\/browser\/index\.min\.js"/);
    assert.doesNotMatch(entry, /: string/, 'types are stripped');
    assert.deepEqual(runGraph(manifest, files, 'http://shop.localhost/?name=ada'), { status: 200, body: 'HELLO ADA' });
  });

  test("each module's source map names the tenant's own file", async () => {
    const { manifest, files } = await build('shop', fixtureFiles('multi'));
    const greet = manifest.modules.find((m) => m.path === 'lib/greet.js')!;
    assert.equal(greet.sourceMap, 'lib/greet.js.map');
    const map = JSON.parse(files.get('lib/greet.js.map')!.toString());
    assert.deepEqual(map.sources, ['lib/greet.ts']);
    assert.match(map.sourcesContent[0], /greet failed for boom/);
  });

  test('identical uploads hash alike; a changed file or route changes the hash', async () => {
    const a = await build('t', fixtureFiles('multi'));
    const b = await build('t', fixtureFiles('multi'));
    assert.equal(a.manifest.hash, b.manifest.hash);
    assert.notEqual(a.manifest.id, b.manifest.id);
    const changed = fixtureFiles('multi');
    changed.set('lib/shout.ts', Buffer.from('export const shout = (t: string) => t;'));
    assert.notEqual((await build('t', changed)).manifest.hash, a.manifest.hash);
    assert.notEqual(
      (await build('t', fixtureFiles('multi'), { routes: ['shop.example.com/*'] })).manifest.hash,
      a.manifest.hash,
    );
  });

  test('import_map.json prefixes and package.json imports resolve inside the upload', async () => {
    const { manifest, files } = await build('t', fixtureFiles('importmap'));
    assert.deepEqual(runGraph(manifest, files, 'http://t.localhost/'), { status: 200, body: '[1.2.3]' });
  });
});

describe('build: bundles and scripts', () => {
  test('bundle=true makes one module with the whole graph, mapped to the original files', async () => {
    const { manifest, files } = await build('shop', fixtureFiles('multi'), { bundle: true });
    assert.deepEqual(
      manifest.modules.map((m) => m.path),
      ['index.js'],
    );
    assert.equal(manifest.importMap, undefined);
    const map = JSON.parse(files.get('index.js.map')!.toString());
    assert.ok(map.sources.includes('lib/greet.ts') && map.sources.includes('index.ts'), map.sources.join(','));
    assert.deepEqual(runGraph(manifest, files, 'http://shop.localhost/?name=bo'), { status: 200, body: 'HELLO BO' });
  });

  test("a classic script with addEventListener('fetch') is format 'script'", async () => {
    const { manifest, files } = await build('t', fixtureFiles('script'));
    assert.equal(manifest.format, 'script');
    assert.equal(manifest.entry, 'worker.js');
    assert.match(files.get('worker.js')!.toString(), /addEventListener\("fetch"/);
    assert.doesNotMatch(files.get('worker.js')!.toString(), /\bexport\b/);
  });
});

describe('build: validation (each a 400 that says what and where)', () => {
  test('syntax error: file:line:column', async () => {
    const e = await refused(
      build('t', fromObject({ 'index.ts': 'export default {\n  fetch() { return new Response(1) }\n' })),
    );
    assert.deepEqual(e, {
      code: 'ISLET_DEPLOY_BUILD_FAILED',
      status: 400,
      message: 'index.ts:3:1: Expected "}" but found end of file',
    });
  });

  test('syntax error in an imported module names that module', async () => {
    const e = await refused(
      build(
        't',
        fromObject({ 'index.ts': "import './lib/bad';\nexport default { fetch() {} }", 'lib/bad.ts': 'const = 1;' }),
      ),
    );
    assert.equal(e.status, 400);
    assert.equal(e.message, 'lib/bad.ts:1:7: Expected identifier but found "="');
  });

  test('unresolvable relative import names the importer and the specifier', async () => {
    const e = await refused(
      build('t', fromObject({ 'index.ts': "import x from './nope';\nexport default { fetch() { return x } }" })),
    );
    assert.deepEqual(e, {
      code: 'ISLET_DEPLOY_UNRESOLVED_IMPORT',
      status: 400,
      message: "index.ts:1:15: cannot resolve './nope' imported by index.ts: no such file in the upload",
    });
  });

  test('a package missing from the upload', async () => {
    const e = await refused(
      build('t', fromObject({ 'src/a.js': "import pad from 'left-pad';\nexport default { fetch() { return pad } }" }), {
        entry: 'src/a.js',
      }),
    );
    assert.equal(e.code, 'ISLET_DEPLOY_UNRESOLVED_IMPORT');
    assert.equal(
      e.message,
      "src/a.js:1:17: cannot resolve 'left-pad' imported by src/a.js: package 'left-pad' is not in the upload (add it under node_modules/, map it in import_map.json, or deploy with bundle=true from a folder that has it)",
    );
  });

  test('Node built-ins stay imports; unknown built-ins and imports climbing out of the upload are refused', async () => {
    const source =
      "import fs from 'fs';\nimport { Buffer } from 'node:buffer';\nexport default { fetch() { return [fs, Buffer] } }";
    const built = await build('t', fromObject({ 'index.js': source }));
    const code = built.files.get('index.js')!.toString();
    assert.match(code, /from "node:fs"/);
    assert.match(code, /from "node:buffer"/);
    const unknown = "import fs from 'node:fss';\nexport default { fetch() { return fs } }";
    const builtin = await refused(build('t', fromObject({ 'index.js': unknown })));
    assert.equal(
      builtin.message,
      "index.js:1:16: cannot resolve 'node:fss' imported by index.js: node:fss is not a Node.js built-in module islet offers",
    );
    const climb = await refused(
      build(
        't',
        fromObject({ 'index.js': "import x from '../../etc/passwd';\nexport default { fetch() { return x } }" }),
      ),
    );
    assert.equal(
      climb.message,
      "index.js:1:15: cannot resolve '../../etc/passwd' imported by index.js: it points outside the upload",
    );
  });

  test('an import map that loops is refused, not followed forever', async () => {
    const e = await refused(
      build(
        't',
        fromObject({
          'index.js': "import a from 'a';\nexport default { fetch() { return a } }",
          'import_map.json': '{"imports":{"a":"b","b":"a"}}',
        }),
      ),
    );
    assert.deepEqual(e, {
      code: 'ISLET_DEPLOY_UNRESOLVED_IMPORT',
      status: 400,
      message: "index.js:1:15: cannot resolve 'a' imported by index.js: the import map sends it round in a loop",
    });
  });

  test("a broken or hostile package.json is reported at the import, never with the server's own paths", async () => {
    const importer = "import x from 'p';\nexport default { fetch() { return x } }";
    const broken = await refused(
      build(
        't',
        fromObject({ 'index.js': importer, 'node_modules/p/package.json': '{nope', 'node_modules/p/x.js': '' }),
      ),
    );
    assert.equal(broken.code, 'ISLET_DEPLOY_UNRESOLVED_IMPORT');
    assert.equal(broken.status, 400);
    // the tail is V8's JSON.parse message, which varies between Node versions
    assert.match(
      broken.message,
      /^index\.js:1:15: cannot resolve 'p' imported by index\.js: node_modules\/p\/package\.json is not valid JSON: \S/,
    );
    const deep = `{"exports":${'{"import":'.repeat(10_000)}"./x.js"${'}'.repeat(10_000)}}`;
    const hostile = await refused(
      build('t', fromObject({ 'index.js': importer, 'node_modules/p/package.json': deep, 'node_modules/p/x.js': '' })),
    );
    assert.equal(
      hostile.message,
      'index.js:1:15: cannot resolve \'p\' imported by index.js: a package.json "exports"/"imports" entry nests conditions more than 32 levels deep',
    );
  });

  test('no default export / no fetch handler', async () => {
    const named = await refused(build('t', fromObject({ 'index.ts': 'export function fetch() {}' })));
    assert.deepEqual(named, {
      code: 'ISLET_DEPLOY_NO_FETCH_HANDLER',
      status: 400,
      message:
        "entry 'index.ts' exports only 'fetch': a function must 'export default { fetch(request, env, ctx) { ... } }' (or, as a classic script, call addEventListener('fetch', ...))",
    });
    const nothing = await refused(build('t', fromObject({ 'index.js': 'console.log(1)' })));
    assert.equal(
      nothing.message,
      "entry 'index.js' exports nothing: a function must 'export default { fetch(request, env, ctx) { ... } }' (or, as a classic script, call addEventListener('fetch', ...))",
    );
  });

  test('entry missing from the upload', async () => {
    const e = await refused(build('t', fromObject({ 'a.js': 'export default {}' }), { entry: 'main.js' }));
    assert.deepEqual(e, {
      code: 'ISLET_DEPLOY_ENTRY_NOT_FOUND',
      status: 400,
      message: "entry 'main.js' is not in the upload (files: a.js)",
    });
  });

  test('size limits: per file and per deployment', async () => {
    const big = 'export default { fetch() { return new Response("' + 'x'.repeat(2000) + '") } }';
    const file = await refused(build('t', fromObject({ 'index.js': big }), { limits: { maxFileBytes: 1024 } }));
    assert.deepEqual(file, {
      code: 'ISLET_DEPLOY_UPLOAD_TOO_LARGE',
      status: 400,
      message: "file 'index.js' is 2.0 KiB, more than the per-file limit of 1 KiB",
    });
    const total = await refused(
      build('t', fromObject({ 'index.js': big, 'b.js': big }), { limits: { maxDeploymentBytes: 3000 } }),
    );
    assert.deepEqual(total, {
      code: 'ISLET_DEPLOY_UPLOAD_TOO_LARGE',
      status: 400,
      message: 'the upload is larger than the deployment limit of 2.9 KiB',
    });
  });

  test('paths that climb out, are absolute or contain a backslash', async () => {
    for (const [name, why] of [
      ['../x.js', "contains '..': paths must stay inside the function folder"],
      ['/etc/x.js', 'is absolute: paths must be relative to the function folder'],
      ['a\\b.js', 'contains a backslash: use / as the separator'],
    ]) {
      const e = await refused(build('t', fromObject({ 'index.js': 'export default {}', [name!]: 'x' })));
      assert.deepEqual(e, {
        code: 'ISLET_DEPLOY_UPLOAD_BAD_PATH',
        status: 400,
        message: `upload: path ${JSON.stringify(name)} ${why}`,
      });
    }
  });
});

describe('archives', () => {
  const limits = defaultUploadLimits;

  test('a tar.gz of a folder unpacks without its top folder', async () => {
    const files = await extractArchive(
      await tarGz([
        { header: { name: 'fn/', type: 'directory' } },
        { header: { name: 'fn/index.js' }, data: 'export default {}' },
        { header: { name: 'fn/lib/a.js' }, data: 'a' },
      ]),
      limits,
    );
    assert.deepEqual([...files.keys()], ['index.js', 'lib/a.js']);
  });

  test('a tar.gz made with `tar -C dir .` (entries ./ and ./index.js) unpacks', async () => {
    const files = await extractArchive(
      await tarGz([
        { header: { name: './', type: 'directory' } },
        { header: { name: './index.js' }, data: 'export default {}' },
        { header: { name: './lib/', type: 'directory' } },
        { header: { name: './lib/a.js' }, data: 'a' },
      ]),
      limits,
    );
    assert.deepEqual([...files.keys()], ['index.js', 'lib/a.js']);
  });

  test('links, devices, ../ and absolute paths are refused', async () => {
    const cases: [Partial<tar.Header> & { name: string }, string][] = [
      [
        { name: 'evil', type: 'symlink', linkname: '/etc/passwd' },
        "archive: 'evil' is a symbolic link; links are not allowed, include the file itself",
      ],
      [
        { name: 'hard', type: 'link', linkname: 'index.js' },
        "archive: 'hard' is a hard link; links are not allowed, include the file itself",
      ],
      [
        { name: 'dev', type: 'character-device' },
        "archive: 'dev' is a character-device; only regular files and folders are allowed",
      ],
      [
        { name: '../../etc/cron.d/x' },
        'archive: path "../../etc/cron.d/x" contains \'..\': paths must stay inside the function folder',
      ],
      [
        { name: '/etc/passwd' },
        'archive: path "/etc/passwd" is absolute: paths must be relative to the function folder',
      ],
    ];
    for (const [header, message] of cases) {
      const data = header.type ? undefined : 'x';
      const e = await refused(
        extractArchive(
          await tarGz([
            { header: { name: 'index.js' }, data: 'x' },
            { header, data },
          ]),
          limits,
        ),
      );
      assert.deepEqual(e, { code: 'ISLET_DEPLOY_UPLOAD_BAD_PATH', status: 400, message });
    }
  });

  test('a decompression bomb is cut off at the deployment limit', async () => {
    const zeros = Buffer.alloc(4 * 1024 * 1024);
    const bomb = await tarGz(Array.from({ length: 8 }, (_, i) => ({ header: { name: `f${i}.js` }, data: zeros })));
    assert.ok(bomb.length < 200 * 1024, 'the archive itself is small');
    const e = await refused(extractArchive(bomb, { ...limits, maxDeploymentBytes: 10 * 1024 * 1024 }));
    assert.deepEqual(e, {
      code: 'ISLET_DEPLOY_UPLOAD_TOO_LARGE',
      status: 400,
      message: 'the archive inflates to more than the deployment limit of 10 MiB',
    });
  });

  test('not an archive at all', async () => {
    const e = await refused(extractArchive(zlib.gzipSync('just text, not tar'), limits));
    assert.equal(e.code, 'ISLET_DEPLOY_UPLOAD_BAD_ARCHIVE');
    assert.equal(e.status, 400);
  });
});
