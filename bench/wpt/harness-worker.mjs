// The WPT harness worker: one ES module, byte for byte the same on islet and on workerd, deployed
// once per WPT test file (each file gets a fresh isolate, as each test page gets a fresh global).
// A POST carries the job as JSON: the test's URL, its title, a time budget, and the scripts a
// WPT worker would load in order (WPT's testharness.js, the META `script` dependencies, the test
// file itself). Each script runs as a classic script in the global scope, as importScripts would
// run it; the answer is the JSON of every subtest's result once testharness reports completion.
//
// How a script is run is the one difference between the two runtimes: workerd refuses eval() to
// Workers and offers a script compiler through an `unsafeEval` binding (env.WPT_EVAL, as its own
// WPT runner does); islet lets the global eval run, so an indirect eval does the work there. An
// indirect eval keeps some top-level declarations to itself that a classic script would leave in
// the global scope (`let`/`const`/`class`, and every declaration of strict code): the runner lists
// them per script (script-facts.ts) and the eval ends by defining each on the global object as an
// accessor of the script's own binding, so later scripts see and assign them as a browser's would.

/** WPT's worker globals expose the script URL as `location`; neither runtime has one */
function defineLocation(url) {
  if ('location' in globalThis) return;
  Object.defineProperty(globalThis, 'location', { value: new URL(url), configurable: true, writable: true });
}

/**
 * A worker resolves a relative fetch() URL against its own URL; Workers have no base URL, so a
 * test's `fetch("resources/data.json")` would throw before reaching the code under test. Strings
 * and URLs given to fetch() are resolved against `location` first; everything else (Requests,
 * bodies, init) passes through untouched. The wrapper keeps fetch's name and length.
 */
function resolveRelativeFetch() {
  const original = globalThis.fetch;
  if (typeof original !== 'function') return;
  const wrapped = {
    fetch(input, init) {
      if (typeof input === 'string' || input instanceof URL) input = new URL(String(input), location.href).href;
      return arguments.length < 2 ? original(input) : original(input, init);
    },
  }.fetch;
  Object.defineProperty(wrapped, 'length', { value: original.length });
  globalThis.fetch = wrapped;
}

/**
 * testharness.js picks its environment from the global's class: a ServiceWorkerGlobalScope waits
 * for an `install` event neither runtime sends. Hiding the worker-scope constructors while it
 * evaluates makes it choose its shell environment (tests start once the scripts have run, no
 * message ports), on both runtimes alike; they are put back right after.
 */
function withoutWorkerScopes(run) {
  const names = [
    'ServiceWorkerGlobalScope',
    'SharedWorkerGlobalScope',
    'DedicatedWorkerGlobalScope',
    'WorkerGlobalScope',
  ];
  const saved = [];
  for (const name of names) {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
    if (descriptor?.configurable) {
      saved.push([name, descriptor]);
      delete globalThis[name];
    }
  }
  try {
    return run();
  } finally {
    for (const [name, descriptor] of saved) Object.defineProperty(globalThis, name, descriptor);
  }
}

/** indirect eval, then the script's hidden top-level bindings made global (see the top comment) */
function evalAsScript(script) {
  const exports = script.hidden.map(
    (name) =>
      `try { Object.defineProperty(globalThis, ${JSON.stringify(name)}, { configurable: true, ` +
      `get() { return ${name}; }, set(value) { ${name} = value; } }); } catch {}`,
  );
  // biome-ignore lint/security/noGlobalEval: running WPT's classic scripts is the point of this worker
  return (0, eval)(`${script.code}\n;${exports.join('\n')}\n//# sourceURL=${script.name}`);
}

/**
 * A worker test's importScripts() of a script the runner already evaluated is done; any other
 * would need a synchronous fetch, which neither runtime has.
 */
function defineImportScripts(loaded) {
  globalThis.importScripts = (...urls) => {
    for (const url of urls) {
      const path = new URL(url, location.href).pathname;
      if (!loaded.has(path)) throw new DOMException(`importScripts: ${url} was not loaded ahead`, 'NetworkError');
    }
  };
}

/**
 * idlharness.js asks which kind of worker global it runs in (`self instanceof
 * ServiceWorkerGlobalScope`...) to know which interfaces must be exposed, and gives up on a global
 * it cannot place. workerd's global is a ServiceWorkerGlobalScope; where a runtime has no such
 * class, the harness names its global one too, so both are checked against the same exposure set.
 */
function defineServiceWorkerScope() {
  if ('ServiceWorkerGlobalScope' in globalThis) return;
  const global = globalThis;
  const ServiceWorkerGlobalScope = { ServiceWorkerGlobalScope() {} }.ServiceWorkerGlobalScope;
  Object.defineProperty(ServiceWorkerGlobalScope, Symbol.hasInstance, { value: (o) => o === global });
  Object.defineProperty(globalThis, 'ServiceWorkerGlobalScope', {
    value: ServiceWorkerGlobalScope,
    configurable: true,
    writable: true,
  });
}

function describe(error) {
  if (error && typeof error === 'object') return `${error.name || 'Error'}: ${error.message}`;
  return String(error);
}

async function runJob(job, evaluate) {
  defineLocation(job.url);
  resolveRelativeFetch();
  globalThis.GLOBAL = { isWindow: () => false, isWorker: () => true, isShadowRealm: () => false };
  if (job.title) globalThis.META_TITLE = job.title;
  defineImportScripts(new Set(job.scripts.map((s) => s.name)));
  defineServiceWorkerScope();
  const scriptErrors = [];
  const [harness, ...scripts] = job.scripts;
  withoutWorkerScopes(() => evaluate(harness));
  const finished = new Promise((resolve) => {
    globalThis.add_completion_callback((tests, status) => {
      resolve({
        tests: tests.map((t) => ({ name: t.name, status: t.status, message: t.message ? String(t.message) : null })),
        harness: { status: status.status, message: status.message ? String(status.message) : null },
      });
    });
  });
  for (const script of scripts) {
    try {
      evaluate(script);
    } catch (error) {
      // A browser reports a script's uncaught error and goes on with the next script.
      scriptErrors.push(`${script.name}: ${describe(error)}`);
    }
  }
  let timer;
  const overtime = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), job.timeoutMs);
  });
  let outcome = await Promise.race([finished, overtime]);
  let timedOut = false;
  if (outcome === 'timeout') {
    // testharness's own timeout(): every unfinished subtest becomes TIMEOUT and completion fires.
    timedOut = true;
    globalThis.timeout();
    outcome = await Promise.race([finished, new Promise((resolve) => setTimeout(() => resolve(null), 1000))]);
  }
  clearTimeout(timer);
  return { ...(outcome ?? { tests: [], harness: { status: 2, message: 'no completion' } }), scriptErrors, timedOut };
}

export default {
  async fetch(request, env) {
    if (request.method !== 'POST') return new Response('wpt harness worker\n');
    const job = await request.json();
    const evaluate = env.WPT_EVAL ? (script) => env.WPT_EVAL.eval(script.code, script.name) : evalAsScript;
    let result;
    try {
      result = await runJob(job, evaluate);
    } catch (error) {
      result = { tests: [], harness: { status: 1, message: `harness worker: ${describe(error)}` }, scriptErrors: [] };
    }
    return new Response(JSON.stringify(result), { headers: { 'content-type': 'application/json' } });
  },
};
