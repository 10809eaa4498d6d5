// Read-your-writes on `islet serve --workers 2` (real processes): when the admin API answers a
// deploy, an env change, a route change or a rollback, the very next request sees it, whichever
// worker the admin request landed on and whichever worker serves the tenant. The supervisor
// fans each write out to every worker and the API answers after their acknowledgements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { admin, adminOk, type ClusterIslet, deploy, hit, startClusterIslet, until } from './cluster-islet';

const versioned = (mark: string) =>
  `export default { fetch(req, env) {
     return new Response(JSON.stringify({ mark: ${JSON.stringify(mark)}, n: env.N ?? null, host: new ` +
  `URL(req.url).host }));
   } };`;

interface Seen {
  mark: string;
  n: string | null;
  host: string;
}

/** one request on a fresh connection (routed by the supervisor) and one on a kept-alive one */
async function both(islet: ClusterIslet, host: string, agent: Agent): Promise<Seen[]> {
  const fresh = new Agent({ connections: 1 });
  try {
    const replies = [
      await hit(islet, host, '/', { dispatcher: fresh }),
      await hit(islet, host, '/', { dispatcher: agent }),
    ];
    return replies.map((r) => {
      assert.equal(r.status, 200, `GET ${host}: ${r.status} ${r.text}`);
      return JSON.parse(r.text) as Seen;
    });
  } finally {
    await fresh.close();
  }
}

test(
  '--workers 2: the request right after a write sees it (50 redeploys, 20 env, 10 routes, 10 ' + 'rollbacks)',
  async (t) => {
    const islet = await startClusterIslet({ workers: 2 });
    // kept-alive connections on several workers: a hot hostname spreads, so these may sit anywhere
    const agent = new Agent({ connections: 4 });
    const stale: string[] = [];
    try {
      const tenant = 'ryw';
      const host = `${tenant}.localhost`;
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) {
        const { id } = await deploy(islet, tenant, versioned(`v${i}`));
        ids.push(id);
        for (const seen of await both(islet, host, agent))
          if (seen.mark !== `v${i}`) stale.push(`deploy ${i}: ${seen.mark}`);
      }
      for (let i = 0; i < 20; i++) {
        await adminOk(islet, 'PUT', `/v1/tenants/${tenant}/env`, { vars: { N: String(i) } });
        for (const seen of await both(islet, host, agent)) if (seen.n !== String(i)) stale.push(`env ${i}: ${seen.n}`);
      }
      for (let i = 0; i < 10; i++) {
        const route = `shop${i}.example.test`;
        await deploy(islet, tenant, versioned(`routed${i}`), `?routes=${route}/*`);
        for (const seen of await both(islet, route, agent)) {
          if (seen.mark !== `routed${i}` || seen.host !== route) stale.push(`route ${i}: ${JSON.stringify(seen)}`);
        }
      }
      for (let i = 0; i < 10; i++) {
        const back = 40 + i;
        const answer = await adminOk(islet, 'POST', `/v1/tenants/${tenant}/deployments/${ids[back]}/activate`);
        assert.equal(answer.lagging, undefined, `the rollback answer says workers lag: ${JSON.stringify(answer)}`);
        for (const seen of await both(islet, host, agent))
          if (seen.mark !== `v${back}`) stale.push(`rollback ${i}: ${seen.mark}`);
      }
      t.diagnostic(
        `90 writes, each followed at once by a request on a fresh and on a kept-alive connection: ` +
          `${180 - stale.length} of 180 saw the write`,
      );
      assert.deepEqual(stale, [], 'requests right after an answered write served the old state');
    } finally {
      await agent.close();
      await islet.stop();
    }
  },
);

test('a deleted tenant and a revoked token are gone for every worker when the API answers', async () => {
  const islet = await startClusterIslet({ workers: 2 });
  const agent = new Agent({ connections: 4 });
  try {
    await deploy(islet, 'gone', versioned('here'));
    await until('the tenant to answer', async () =>
      (await hit(islet, 'gone.localhost')).status === 200 ? true : undefined,
    );
    await adminOk(islet, 'DELETE', '/v1/tenants/gone');
    for (let i = 0; i < 6; i++) {
      const reply = await hit(islet, 'gone.localhost', '/', { dispatcher: i % 2 ? agent : undefined });
      assert.equal(reply.status, 404, `request ${i} after the delete: ${reply.status} ${reply.text}`);
    }
    await deploy(islet, 'tok', versioned('t'));
    const { id, token } = await adminOk(islet, 'POST', '/v1/tenants/tok/tokens', {});
    await adminOk(islet, 'DELETE', `/v1/tenants/tok/tokens/${id}`);
    // the admin port is shared by both workers: every one of them must refuse the revoked token
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`http://127.0.0.1:${islet.adminPort}/v1/tenants/tok/deployments`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 401, `attempt ${i} with a revoked token: ${res.status}`);
      await res.body?.cancel();
    }
  } finally {
    await agent.close();
    await islet.stop();
  }
});

test('a worker that cannot apply a write in time is named in the answer, which still comes', async () => {
  // one worker is stopped (SIGSTOP) so it cannot acknowledge; the write is answered after the
  // sync timeout and says which worker lags
  const islet = await startClusterIslet({ workers: 2, env: { ISLET_SYNC_TIMEOUT_MS: '1500' } });
  let stopped: number | undefined;
  try {
    await deploy(islet, 'lag', versioned('first'));
    // the workers' pids from the admin API (a "worker ready" log line may be dropped by a slow reader)
    const pids = await until('both workers listed', async () => {
      const listed = (await admin(islet, 'GET', '/v1/workers')).json() as { workers?: { pid: number | null }[] };
      const found = (listed.workers ?? []).map((w) => w.pid).filter((pid): pid is number => typeof pid === 'number');
      return found.length === 2 ? found : undefined;
    });
    // the admin port is shared: write until the request lands on the running worker
    stopped = pids[0]!;
    process.kill(stopped, 'SIGSTOP');
    let reply: Awaited<ReturnType<typeof admin>> | undefined;
    for (let i = 0; i < 10 && !reply; i++) {
      const started = Date.now();
      const attempt = await Promise.race([
        admin(islet, 'PUT', '/v1/tenants/lag/env', { vars: { N: String(i) } }),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 4000)),
      ]);
      if (attempt && attempt.status === 200) {
        reply = attempt;
        assert.ok(Date.now() - started >= 1400, 'the answer waited for the lagging worker');
      }
    }
    assert.ok(reply, 'no write was answered by the running worker');
    const body = reply.json();
    assert.ok(Array.isArray(body.lagging) && body.lagging.length === 1, reply.text);
    assert.equal(body.lagging[0].pid, stopped);
    assert.equal(body.lagging[0].reason, 'timeout');
    assert.match(String(reply.headers['islet-lagging']), new RegExp(`pid ${stopped}`));
    await until('the warning in the log', () =>
      islet.output().includes('answering a write before every serving process applied it') ? true : undefined,
    );
  } finally {
    if (stopped) process.kill(stopped, 'SIGCONT');
    await islet.stop();
  }
});
