// The tenants of the soak: which function each one runs, the module deployed for it, the
// requests the load generator sends it and what a correct answer looks like. Both the harness
// (to deploy) and the load generator (to build requests and judge answers) use this file, so
// a function and its expected output are written once, side by side.
//
// Every module carries its tenant's name and every correct answer repeats it: a response
// served by the wrong tenant's isolate is a wrong body, counted as an error.

export type Kind = 'hello' | 'echo' | 'hash' | 'stream' | 'fetch' | 'timers' | 'hog';

/** The well-behaved kinds, spread round-robin over the tenants that are not hogs. */
export const WELL_BEHAVED: readonly Kind[] = ['hello', 'echo', 'hash', 'stream', 'fetch', 'timers'];

export interface TenantSpec {
  name: string;
  kind: Kind;
}

/** CPU limit given to hog tenants (PUT /v1/tenants/{t} limits): small, so a cut is cheap. */
export const HOG_CPU_MS = 10;
/** Share of a hog's requests that loop forever (the rest must be answered normally). */
export const HOG_BURN_SHARE = 0.25;
/** Iterations of hashWork: ~1 ms of CPU once V8 has optimised the loop (a few ms cold). */
export const HASH_ITERATIONS = 160_000;
/** Seeds the hash kind is asked about; the load generator computes their answers once. */
export const HASH_SEEDS = 32;
const STREAM_CHUNKS = 4;
const STREAM_PAD = 'x'.repeat(1000);

/**
 * The CPU work of the hash kind. Its source text is pasted into the tenant module, so the
 * isolate and the load generator run the very same algorithm and the answer can be checked.
 */
export function hashWork(seed: number, iterations: number): string {
  let a = 0x811c9dc5 ^ seed;
  let b = Math.imul(seed, 2654435761) >>> 0;
  for (let i = 0; i < iterations; i++) {
    a = Math.imul(a ^ (i & 0xff), 16777619);
    b = (b + (a >>> 7)) | 0;
    b = Math.imul(b ^ (b >>> 13), 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** What the local upstream answers for /item/<k> (the fetch kind checks the tenant relayed it). */
export function itemPrice(item: number): number {
  return (item * 37) % 1000;
}

/** `count` tenants named soak-000..., `hogs` of them hogs, the rest cycling through WELL_BEHAVED. */
export function planTenants(count: number, hogs: number): TenantSpec[] {
  const width = Math.max(3, String(count - 1).length);
  const tenants: TenantSpec[] = [];
  for (let i = 0; i < count; i++) {
    const name = `soak-${String(i).padStart(width, '0')}`;
    // hogs at the end of the list, so every well-behaved kind is in the hot set (the first tenants)
    const kind = i >= count - hogs ? 'hog' : WELL_BEHAVED[i % WELL_BEHAVED.length];
    tenants.push({ name, kind });
  }
  return tenants;
}

/** The module deployed for a tenant (one JavaScript module, `export default { fetch }`). */
export function moduleSource(t: TenantSpec, upstream: string): string {
  const name = JSON.stringify(t.name);
  const up = JSON.stringify(upstream);
  const text = `{ headers: { 'content-type': 'text/plain; charset=utf-8' } }`;
  switch (t.kind) {
    case 'hello':
      return `const NAME = ${name};
export default { fetch() { return new Response('hello from ' + NAME + '\\n', ${text}); } };
`;
    case 'echo':
      return `const NAME = ${name};
export default {
  async fetch(request) {
    const value = await request.json();
    return new Response(JSON.stringify({ tenant: NAME, echo: value }), { headers: { 'content-type': 'application/json' } });
  },
};
`;
    case 'hash':
      return `const NAME = ${name};
const hashWork = ${hashWork.toString()};
export default {
  fetch(request) {
    const seed = Number(new URL(request.url).searchParams.get('seed'));
    return new Response(NAME + ' ' + seed + ' ' + hashWork(seed, ${HASH_ITERATIONS}) + '\\n', ${text});
  },
};
`;
    case 'stream':
      return `const NAME = ${name};
const PAD = ${JSON.stringify(STREAM_PAD)};
export default {
  fetch() {
    const encoder = new TextEncoder();
    let i = 0;
    const body = new ReadableStream({
      async pull(controller) {
        if (i === ${STREAM_CHUNKS}) { controller.close(); return; }
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1));
        controller.enqueue(encoder.encode(NAME + ' chunk ' + i++ + ' ' + PAD + '\\n'));
      },
    });
    return new Response(body, ${text});
  },
};
`;
    case 'fetch':
      return `const NAME = ${name};
const UPSTREAM = ${up};
export default {
  async fetch(request) {
    const item = new URL(request.url).pathname.split('/').pop();
    const res = await fetch(UPSTREAM + '/item/' + item + '?from=' + NAME);
    const data = await res.json();
    return new Response(NAME + ': item ' + data.item + ' costs ' + data.price + (data.from === NAME ? ' (mine)' : ' (NOT MINE: ' + data.from + ')') + '\\n', ${text});
  },
};
`;
    case 'timers':
      return `const NAME = ${name};
const UPSTREAM = ${up};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export default {
  async fetch(request, env, ctx) {
    const id = new URL(request.url).searchParams.get('id');
    await sleep(2);
    // work after the response: the upstream counts these beacons, so a lost waitUntil shows
    ctx.waitUntil(sleep(5).then(() => fetch(UPSTREAM + '/beacon?tenant=' + NAME + '&id=' + id)).then((res) => res.text()));
    return new Response(NAME + ' waited for ' + id + '\\n', ${text});
  },
};
`;
    case 'hog':
      return `const NAME = ${name};
export default {
  fetch(request) {
    if (new URL(request.url).searchParams.has('burn')) { for (;;) {} }
    return new Response(NAME + ' is calm\\n', ${text});
  },
};
`;
  }
}

/** How the load generator judges one answer. */
export type Verdict = { ok: true } | { limit: true } | { error: string };

export interface PlannedRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  contentType?: string;
  check(status: number, isletError: string | undefined, body: string): Verdict;
}

const OK: Verdict = { ok: true };

function expectText(status: number, isletError: string | undefined, body: string, expected: string): Verdict {
  if (status !== 200) return { error: `status ${status}${isletError ? ` (islet-error: ${isletError})` : ''}` };
  return body === expected ? OK : { error: 'wrong body' };
}

/** Answers of the hash kind for every seed, computed once by the load generator. */
export function hashAnswers(): string[] {
  return Array.from({ length: HASH_SEEDS }, (_, seed) => hashWork(seed, HASH_ITERATIONS));
}

/**
 * The next request for tenant `t`. `random` is a [0,1) source; `id` is unique within the run
 * (the timers kind sends it to the upstream's beacon counter).
 */
export function planRequest(
  t: TenantSpec,
  random: () => number,
  id: string,
  hashes: readonly string[],
): PlannedRequest {
  const n = t.name;
  switch (t.kind) {
    case 'hello':
      return { method: 'GET', path: '/', check: (s, e, b) => expectText(s, e, b, `hello from ${n}\n`) };
    case 'echo': {
      const value = {
        id,
        n: Math.floor(random() * 1e9),
        tags: ['soak', n],
        nested: { ok: true, pad: 'p'.repeat(Math.floor(random() * 200)) },
      };
      const expected = JSON.stringify({ tenant: n, echo: value });
      return {
        method: 'POST',
        path: '/echo',
        body: JSON.stringify(value),
        contentType: 'application/json',
        check: (s, e, b) => expectText(s, e, b, expected),
      };
    }
    case 'hash': {
      const seed = Math.floor(random() * hashes.length);
      return {
        method: 'GET',
        path: `/hash?seed=${seed}`,
        check: (s, e, b) => expectText(s, e, b, `${n} ${seed} ${hashes[seed]}\n`),
      };
    }
    case 'stream': {
      let expected = '';
      for (let i = 0; i < STREAM_CHUNKS; i++) expected += `${n} chunk ${i} ${STREAM_PAD}\n`;
      return { method: 'GET', path: '/stream', check: (s, e, b) => expectText(s, e, b, expected) };
    }
    case 'fetch': {
      const item = Math.floor(random() * 1000);
      return {
        method: 'GET',
        path: `/item/${item}`,
        check: (s, e, b) => expectText(s, e, b, `${n}: item ${item} costs ${itemPrice(item)} (mine)\n`),
      };
    }
    case 'timers':
      return {
        method: 'GET',
        path: `/wait?id=${id}`,
        check: (s, e, b) => expectText(s, e, b, `${n} waited for ${id}\n`),
      };
    case 'hog':
      if (random() < HOG_BURN_SHARE) {
        return {
          method: 'GET',
          path: '/?burn=1',
          // the cut is the expected answer; anything else from a burning request is a fault
          check: (s, e) =>
            s === 503 && e === 'cpu'
              ? { limit: true }
              : { error: `burn answered ${s}${e ? ` (islet-error: ${e})` : ''}, expected 503 islet-error: cpu` },
        };
      }
      return { method: 'GET', path: '/', check: (s, e, b) => expectText(s, e, b, `${n} is calm\n`) };
  }
}
