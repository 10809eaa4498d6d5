// A tenant that kills its worker process, again and again, on `islet serve --workers 2` (real
// processes). Its code makes V8 give up (a fatal out-of-memory), which no limit inside the
// process can catch. What its neighbours rely on: from the first death on, none of their requests
// fails: their requests in flight on the dying worker (idempotent GETs) are retried on the other
// worker and succeed, their idle keep-alive connections move there; the killer is blamed for
// each death (the worker's journal says whose code was running), and after the third it is
// quarantined: refused with 503 `islet-error: quarantined` and a Retry-After, counted in the
// metrics, shown by the admin API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { ownerSlot } from '../../server/cluster/routing';
import {
  adminOk,
  type ClusterIslet,
  deploy,
  hit,
  scrape,
  series,
  startClusterIslet,
  until,
} from '../server/cluster-islet';

/** A neighbour name the supervisor gives the same worker slot as `killer` (so they share a worker). */
function neighbourOf(killer: string): string {
  const slot = ownerSlot(`${killer}.localhost`, [0, 1]);
  for (let i = 0; ; i++) if (ownerSlot(`neighbour${i}.localhost`, [0, 1]) === slot) return `neighbour${i}`;
}

// a builtin that never checks for termination (new Array(3e8).fill(0)) cannot be stopped at the
// memory limit: the stuck-run watch ends the whole worker process (the addon now survives the
// object-filling loop this used, with a memory-limit error)
const killerSource = `export default { fetch(req) {
  if (new URL(req.url).pathname === '/boom') new Array(3e8).fill(0);
  return new Response('killer ok');
} };`;

const neighbourSource = (name: string) => `export default { async fetch(req) {
  const wait = Number(new URL(req.url).searchParams.get('wait') ?? 0);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  return new Response(${JSON.stringify(`${name} ok`)});
} };`;

interface Outcome {
  at: number;
  status: number;
  text: string;
}

/** GETs the neighbour in a loop over kept-alive connections until stopped */
function keepAsking(islet: ClusterIslet, host: string, expected: string) {
  const outcomes: Outcome[] = [];
  const agent = new Agent({ connections: 2 });
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const reply = await hit(islet, host, '/', { dispatcher: agent, timeoutMs: 60_000 });
        outcomes.push({ at: Date.now(), status: reply.status, text: reply.text });
      } catch (error) {
        outcomes.push({ at: Date.now(), status: 0, text: (error as Error).message });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    failures: () => outcomes.filter((o) => o.status !== 200 || o.text !== expected),
    count: () => outcomes.length,
    async stop() {
      running = false;
      await loop;
      await agent.close();
    },
  };
}

function readyCount(islet: ClusterIslet): number {
  return [...islet.output().matchAll(/"msg":"worker ready"/g)].length;
}

test(
  'a tenant that kills its worker three times is quarantined; its neighbours never see a failed ' + 'request',
  async (t) => {
    const islet = await startClusterIslet({
      workers: 2,
      env: { ISLET_QUARANTINE_DEATHS: '3', ISLET_QUARANTINE_COOLDOWN_S: '600' },
    });
    const killer = 'killer';
    const neighbour = neighbourOf(killer);
    const host = `${neighbour}.localhost`;
    const expected = `${neighbour} ok`;
    let traffic: ReturnType<typeof keepAsking> | undefined;
    try {
      await deploy(islet, killer, killerSource);
      await adminOk(islet, 'PATCH', `/v1/tenants/${killer}`, {
        limits: { memoryMb: 16, cpuMs: 60_000, wallMs: 120_000 },
      });
      await deploy(islet, neighbour, neighbourSource(neighbour));
      assert.equal((await hit(islet, `${killer}.localhost`)).text, 'killer ok');
      assert.equal((await hit(islet, host)).text, expected);

      traffic = keepAsking(islet, host, expected);
      // neighbour requests in flight on the killer's worker at the first death: fresh connections
      // (routed to the hostname's worker, which the killer shares), each waiting in its handler
      const inFlight = Array.from({ length: 3 }, async () => {
        const agent = new Agent({ connections: 1 });
        try {
          return await hit(islet, host, '/?wait=3000', { dispatcher: agent, timeoutMs: 60_000 });
        } finally {
          await agent.close();
        }
      });
      await new Promise((r) => setTimeout(r, 300));

      const deaths: number[] = [];
      for (let kill = 1; kill <= 3; kill++) {
        const ready = readyCount(islet);
        const boom = await hit(islet, `${killer}.localhost`, '/boom', { timeoutMs: 60_000 });
        deaths.push(Date.now());
        assert.equal(boom.status, 502, `kill ${kill}: the killer's own request gets 502 (${boom.status} ${boom.text})`);
        await until(
          `the worker replaced after kill ${kill}`,
          () => (readyCount(islet) > ready ? true : undefined),
          60_000,
        );
        if (kill === 1) {
          for (const [i, reply] of (await Promise.all(inFlight)).entries()) {
            assert.equal(
              reply.status,
              200,
              `neighbour request ${i} in flight at the first death: ${reply.status} ${reply.text}`,
            );
            assert.equal(reply.text, expected);
          }
        }
      }

      // quarantined: refused without running, with a Retry-After
      const refused = await hit(islet, `${killer}.localhost`, '/');
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.headers['islet-error'], 'quarantined');
      const retryAfter = Number(refused.headers['retry-after']);
      assert.ok(retryAfter > 500 && retryAfter <= 600, `Retry-After: ${refused.headers['retry-after']}`);

      await new Promise((r) => setTimeout(r, 500));
      await traffic.stop();
      const failed = traffic.failures().filter((o) => o.at >= deaths[0]! - 5_000);
      t.diagnostic(
        `neighbour requests during 3 deaths: ${traffic.count()}, failed ${traffic.failures().length}; ` +
          `3 in flight at the first death retried and answered 200`,
      );
      assert.deepEqual(failed, [], 'neighbour requests failed around the deaths');
      assert.ok(traffic.count() > 20, `the neighbour was asked throughout (${traffic.count()} requests)`);
      traffic = undefined;

      // each death blamed on the killer, whose code was running
      const deathLines = islet
        .output()
        .split('\n')
        .filter((line) => line.includes('"msg":"worker process died: restarting it"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(deathLines.length, 3);
      for (const line of deathLines) {
        assert.equal(line.tenant, killer, JSON.stringify(line));
        // the journal's running mark, or the worker's own last line on stderr, names it
        assert.ok(['running', 'addon'].includes(line.blamedBy as string), JSON.stringify(line));
      }
      assert.match(islet.output(), /"msg":"tenant quarantined: its code made worker processes die","tenant":"killer"/);

      const described = await adminOk(islet, 'GET', `/v1/tenants/${killer}`);
      assert.ok(described.quarantine, JSON.stringify(described));
      assert.equal(described.quarantine.deaths.length, 3);
      assert.ok(described.quarantine.until > Date.now());
      assert.equal((await adminOk(islet, 'GET', `/v1/tenants/${neighbour}`)).quarantine, null);

      const metrics = await scrape(islet);
      assert.equal(series(metrics, 'islet_quarantines_total', 'tenant="killer"'), 1);
      assert.equal(series(metrics, 'islet_quarantined_tenants'), 1);
      assert.ok(series(metrics, 'islet_requests_replayed_total', 'kind="in_flight"') >= 3, metrics);
      assert.equal(series(metrics, 'islet_worker_deaths_total', 'cause="tenant"'), 3);

      // an operator may end the quarantine; the killer is served again
      await adminOk(islet, 'DELETE', `/v1/tenants/${killer}/quarantine`);
      assert.equal((await hit(islet, `${killer}.localhost`)).text, 'killer ok');
    } finally {
      await traffic?.stop();
      await islet.stop();
    }
  },
);

test(
  'a tenant stuck in new Array(3e8).fill(0) ends its worker within about a second, blamed by the ' + 'addon',
  async (t) => {
    const islet = await startClusterIslet({ workers: 2 });
    const stuck = 'stuck';
    const neighbour = (() => {
      const slot = ownerSlot(`${stuck}.localhost`, [0, 1]);
      for (let i = 0; ; i++) if (ownerSlot(`next${i}.localhost`, [0, 1]) === slot) return `next${i}`;
    })();
    try {
      await deploy(
        islet,
        stuck,
        `export default { fetch(req) {
        if (new URL(req.url).pathname === '/fill') new Array(3e8).fill(0);
        return new Response('stuck ok');
      } };`,
      );
      await deploy(islet, neighbour, neighbourSource(neighbour));
      assert.equal((await hit(islet, `${stuck}.localhost`)).text, 'stuck ok');
      const agent = new Agent({ connections: 1 });
      const inFlight = hit(islet, `${neighbour}.localhost`, '/?wait=1500', { dispatcher: agent, timeoutMs: 120_000 });
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      const fill = await hit(islet, `${stuck}.localhost`, '/fill', { timeoutMs: 120_000 });
      const tookMs = Date.now() - started;
      assert.equal(fill.status, 502, `${fill.status} ${fill.text}`);
      const neighbourReply = await inFlight;
      await agent.close();
      assert.equal(neighbourReply.status, 200, `the neighbour's request in flight: ${neighbourReply.text}`);
      assert.equal(neighbourReply.text, `${neighbour} ok`);
      const death = await until('the death report', () => {
        const line = islet
          .output()
          .split('\n')
          .find((l) => l.includes('"msg":"worker process died: restarting it"'));
        return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
      });
      assert.equal(death.tenant, stuck);
      assert.equal(death.blamedBy, 'addon', JSON.stringify(death));
      assert.equal(death.signal, 'SIGKILL');
      // asked to stop by its CPU limit (or its heap limit, whichever came first), it could not
      assert.match(
        String(death.cause),
        /isolate "tenant:stuck" made no progress for \d+ ms after (its time limit|reaching its heap limit)/,
      );
      // for the report: V8 alone stalls ~8.5 s on a quiet machine (and ~38 s at load 10 here) before aborting
      t.diagnostic(`request to 502: ${tookMs} ms; ${String(death.cause)}`);
    } finally {
      await islet.stop();
    }
  },
);
