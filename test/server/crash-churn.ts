// Shared by the kill -9 tests of both stores (deploy-crash.test.ts, store-postgres-crash.test.ts):
// the admin API in a child process on a store, and a churn of uploads, activations and env writes
// against it that stops quietly when the server is killed under it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { DeploymentStore } from '../../server/store/types';
import { fixtures, repoRoot } from './deploy-fixtures';

export const token = 'crash-test-operator';

/** the admin API on `store` (a data folder, or a postgres:// URL) in its own process */
export function startServer(
  store: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(fixtures, 'admin-server.js'), repoRoot, store, token], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve({ child, url: `http://127.0.0.1:${line}` });
    });
    child.once('exit', (code) => reject(new Error(`admin server exited early (${code})`)));
  });
}

async function upload(url: string, tenant: string, n: number, files: Map<string, Buffer>): Promise<void> {
  const form = new FormData();
  for (const [name, data] of files) {
    // every upload differs and carries a large module of its own, so every one writes new blobs
    // that take long enough to be caught half-written by a kill
    const content =
      name === 'index.ts'
        ? Buffer.concat([
            data,
            Buffer.from(`\nimport { payload } from './lib/payload.js';\nexport const size = payload.length;\n`),
          ])
        : data;
    form.append('file', new Blob([new Uint8Array(content)]), name);
  }
  const payload = `export const payload = ${JSON.stringify(`${n} ${Math.random()} `.repeat(20_000))};\n`;
  form.append('file', new Blob([payload]), 'lib/payload.js');
  const response = await fetch(`${url}/v1/tenants/${tenant}/deployments?activate=${n % 3 !== 0}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  await response.arrayBuffer();
}

/** uploads, activates a random deployment and writes env until stopped or killed; resolves with rounds done */
export async function churn(
  url: string,
  tenant: string,
  stop: { stopped: boolean; uploads: number },
  files: Map<string, Buffer>,
): Promise<number> {
  let done = 0;
  for (let n = 0; !stop.stopped; n++) {
    try {
      await upload(url, tenant, n, files);
      stop.uploads++;
      const list = (await (
        await fetch(`${url}/v1/tenants/${tenant}/deployments`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as {
        deployments: { id: string }[];
      };
      const pick = list.deployments[Math.floor(Math.random() * list.deployments.length)];
      if (pick)
        await fetch(`${url}/v1/tenants/${tenant}/deployments/${pick.id}/activate`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        });
      await fetch(`${url}/v1/tenants/${tenant}/env`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ vars: { N: String(n) }, secrets: { S: `secret-${n}` } }),
      });
      done++;
    } catch {
      return done; // the server was killed under us
    }
  }
  return done;
}

export async function waitFor(condition: () => boolean): Promise<void> {
  const until = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > until) throw new Error('no upload went through within a minute');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * `rounds` times: start the server, churn on every tenant, kill -9 it at a random moment, then
 * `check` the store. Resolves with the rounds of work that completed between kills.
 */
export async function killDuringChurn(options: {
  store: string;
  env?: Record<string, string>;
  rounds: number;
  tenants: string[];
  files: Map<string, Buffer>;
  check: () => Promise<unknown>;
}): Promise<number> {
  let completed = 0;
  for (let round = 0; round < options.rounds; round++) {
    const { child, url } = await startServer(options.store, options.env);
    const stop = { stopped: false, uploads: 0 };
    const work = Promise.all(options.tenants.map((t) => churn(url, t, stop, options.files)));
    // the first round lets one upload through whatever the machine's speed, so the store is
    // never trivially empty; every round then dies at a random moment
    if (round === 0) await waitFor(() => stop.uploads > 0);
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 450));
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    stop.stopped = true;
    completed += (await work).reduce((a, b) => a + b, 0);
    await options.check();
  }
  return completed;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Every deployment record names complete, uncorrupted files, every active pointer names a
 * complete deployment, and env vars and secrets were written together. Resolves with the
 * number of deployments.
 */
export async function checkStoreConsistent(store: DeploymentStore): Promise<number> {
  let deployments = 0;
  for (const tenant of await store.listTenants()) {
    const manifests = await store.listDeployments(tenant.name);
    for (const manifest of manifests) {
      deployments++;
      const files = await store.deploymentFiles(tenant.name, manifest.id);
      for (const [p, hash] of Object.entries(files)) {
        assert.equal(
          sha256(await store.readFile(tenant.name, manifest.id, p)),
          hash,
          `${tenant.name}/${manifest.id}/${p} is intact`,
        );
      }
      for (const m of manifest.modules) assert.equal(files[m.path], m.sha256, `${m.path} matches its manifest`);
      assert.ok(manifest.modules.some((m) => m.path === manifest.entry));
    }
    if (tenant.active) {
      assert.ok(
        manifests.some((m) => m.id === tenant.active),
        `${tenant.name}'s pointer names a complete deployment`,
      );
    }
    const env = await store.getEnv(tenant.name);
    if (env.vars.N !== undefined)
      assert.equal(env.secrets.S, `secret-${env.vars.N}`, 'vars and secrets were written together');
  }
  return deployments;
}
