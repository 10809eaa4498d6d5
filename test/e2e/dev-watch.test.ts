// `islet dev`'s watcher against the ways editors save: 20 saves that write a temp file and rename
// it over the original (what `sed -i`, vim's default and many editors do) and 20 plain in-place
// writes, alternating, each of which must be picked up: rebuilt, and the new version served.
// Node 20's recursive fs.watch lost the file after the first rename, and every save after it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type DevServer, startDev } from '../../server/cli/dev';
import { eventually } from './islet';

const source = (n: number) => `export default { fetch: () => new Response('version ${n}') };\n`;

describe('islet dev watcher', () => {
  let dir: string;
  let dev: DevServer;
  const printed: string[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-dev-watch-'));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'index.ts'), source(0));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ main: 'src/index.ts' }));
    dev = await startDev({ dir, port: 0, print: (line) => printed.push(line) });
  });

  after(async () => {
    await dev?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function served(n: number): Promise<void> {
    await eventually(
      async () => {
        const res = await request(`http://127.0.0.1:${dev.serving.tenantPort}/`);
        return (await res.body.text()) === `version ${n}` ? true : undefined;
      },
      15_000,
      `version ${n} served (output:\n${printed.slice(-6).join('\n')})`,
    );
  }

  it('picks up 20 rename-over saves and 20 in-place writes, each rebuilt and served', async () => {
    await served(0);
    const file = path.join(dir, 'src', 'index.ts');
    let renamed = 0;
    let inPlace = 0;
    for (let n = 1; n <= 40; n++) {
      if (n % 2 === 1) {
        if (n % 4 === 1) {
          // sed -i: a temp file in the same folder, renamed over the original
          execFileSync('sed', ['-i', `s/version ${n - 1}/version ${n}/`, file]);
        } else {
          const temp = path.join(dir, 'src', `.index.ts.${n}.tmp`);
          fs.writeFileSync(temp, source(n));
          fs.renameSync(temp, file);
        }
        renamed++;
      } else {
        fs.writeFileSync(file, source(n));
        inPlace++;
      }
      await served(n);
    }
    assert.equal(renamed, 20);
    assert.equal(inPlace, 20);
  });
});
