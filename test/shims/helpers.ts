// Test harness for the shims: real isolates from native/, a real sandbox, tenant code as text.
import path from 'node:path';
import { createSandbox } from '../../server/host/sandbox';
import { createTenantIsolate } from '../../server/host/bootstrap-snapshot';
import type { Isolate, Module } from '../../server/host/isolate-api';
import type {
  RequestLimits,
  Sandbox,
  SandboxOptions,
  SandboxRequest,
  SandboxResponse,
  TenantLogRecord,
} from '../../server/host/types';
import { BuiltinLinker, isBuiltinModule, preloadsFor } from '../../server/tenants/builtins';

export const repoRoot = path.resolve(__dirname, '../../..');

export const testLimits: RequestLimits = {
  cpuMs: 500,
  wallMs: 5000,
  requestBodyBytes: 1 << 20,
  responseBodyBytes: 1 << 20,
  subrequests: 10,
  subrequestTimeoutMs: 3000,
  subrequestResponseBytes: 1 << 20,
  logBytes: 10000,
};

export interface TestSandbox {
  isolate: Isolate;
  sandbox: Sandbox;
  logs: TenantLogRecord[];
  close(): void;
}

export function makeSandbox(options: Partial<SandboxOptions> & { memoryLimit?: number } = {}): TestSandbox {
  // as the pool makes them: from the bootstrap snapshot (ISLET_BOOTSTRAP_SNAPSHOT=off: the code-cache path)
  const isolate = createTenantIsolate({ memoryLimit: options.memoryLimit ?? 64 });
  const logs: TenantLogRecord[] = [];
  const sandbox = createSandbox(isolate, {
    tenant: 'test',
    deployment: 'd1',
    env: {},
    limits: testLimits,
    egress: { allow: [] },
    log: (record) => logs.push(record),
    ...options,
  });
  return {
    isolate,
    sandbox,
    logs,
    close() {
      sandbox.dispose();
      if (!isolate.isDisposed) isolate.dispose();
    },
  };
}

/** the built-in module a tenant import names (node:buffer, or the bare name buffer), or null */
function builtinFor(specifier: string): string | null {
  if (isBuiltinModule(specifier)) return specifier;
  return isBuiltinModule(`node:${specifier}`) ? `node:${specifier}` : null;
}

/**
 * compiles `code` as the entry ES module of the sandbox and binds its default export; islet's
 * built-in modules it imports (node:*, cloudflare:workers) and the globals given to code that
 * names them (HTMLRewriter) are linked as the tenant loader links them
 */
export function loadModule(
  t: TestSandbox,
  code: string,
  options: { compatibility?: Record<string, unknown> } = {},
): void {
  const isolate = t.isolate;
  const module = isolate.compileModuleSync(code, { filename: 'file:///tenant/index.js' });
  const evaluate = (m: unknown) => (m as { evaluateSync(o: object): unknown }).evaluateSync({ timeout: 2000 });
  const preloads = preloadsFor(options.compatibility, () => [code]);
  const imported = module.dependencySpecifiers.map(builtinFor).filter((id): id is string => id !== null);
  let linker: BuiltinLinker | null = null;
  if (preloads.length > 0 || imported.length > 0) {
    linker = new BuiltinLinker(isolate);
    for (const id of imported) linker.module(id);
    linker.prepare(t.sandbox.context, (ns) => t.sandbox.bindModule(ns as never), preloads, evaluate);
  }
  module.instantiateSync(t.sandbox.context, (specifier: string, referrer: Module) => {
    if (linker?.owns(referrer)) return linker.resolve(specifier, referrer);
    const id = builtinFor(specifier);
    if (linker && id !== null) return linker.module(id);
    throw new Error(`no module ${specifier}`);
  });
  evaluate(module);
  t.sandbox.bindModule(module.namespace as never);
}

/** runs `code` as a classic script in the sandbox's context and binds its fetch listener */
export function loadScript(t: TestSandbox, code: string): void {
  t.sandbox.context.evalSync(code, { timeout: 2000, filename: 'file:///tenant/script.js' } as never);
  t.sandbox.bindScript();
}

export function request(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Uint8Array | AsyncIterable<Uint8Array>;
  } = {},
): SandboxRequest {
  const headers: string[] = [];
  for (const [k, v] of Object.entries(init.headers ?? {})) headers.push(k.toLowerCase(), v);
  let body: AsyncIterable<Uint8Array> | null = null;
  if (typeof init.body === 'string' || init.body instanceof Uint8Array) {
    const bytes = typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
    body = (async function* () {
      yield bytes;
    })();
  } else if (init.body) body = init.body;
  return { id: `req-${Math.random().toString(36).slice(2, 8)}`, method: init.method ?? 'GET', url, headers, body };
}

export async function readBody(response: SandboxResponse): Promise<Buffer> {
  if (response.body === null) return Buffer.alloc(0);
  if (response.body instanceof Uint8Array) return Buffer.from(response.body);
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export async function fetchText(
  t: TestSandbox,
  req: SandboxRequest,
): Promise<{ status: number; headers: string[]; text: string }> {
  const dispatch = t.sandbox.dispatch(req);
  const response = await dispatch.response;
  const text = (await readBody(response)).toString();
  await dispatch.done;
  return { status: response.status, headers: response.headers, text };
}

/** the evaluator's entry module (see makeEvaluator) */
export const evaluatorModule = `// code run here may use HTMLRewriter, EventSource, DigestStream and MD5 digests,
// as a deployment whose code names them can (islet gives those only to such deployments)
const AsyncFunction = (async function () {}).constructor;
     export default {
       async fetch(request, env, ctx) {
         const code = await request.text();
         try {
           const value = await new AsyncFunction('request', 'env', 'ctx', code)(request, env, ctx);
           return new Response(JSON.stringify({ value: value === undefined ? null : value }), { headers: { 'content-type': 'application/json' } });
         } catch (error) {
           return new Response(JSON.stringify({ error: { name: error && error.name, message: error && error.message, ctor: error && error.constructor && error.constructor.name } }), { status: 500 });
         }
       },
     };`;

/** runs `code` in an evaluator sandbox: its result, or an Error carrying the isolate's error */
export async function runIn(t: TestSandbox, code: string): Promise<any> {
  const { text } = await fetchText(t, request('http://eval.test/', { method: 'POST', body: code }));
  const parsed = JSON.parse(text);
  if (parsed.error) {
    const error = new Error(`${parsed.error.name}: ${parsed.error.message}`) as Error & { isolateError: unknown };
    error.isolateError = parsed.error;
    throw error;
  }
  return parsed.value;
}

/**
 * An evaluator: a sandbox whose handler runs the request body as the body of an async function
 * (with `request` in scope) and answers with the JSON of its result. Lets each test check one
 * behaviour inside the isolate in a line or two.
 */
export function makeEvaluator(
  options: Partial<SandboxOptions> & { memoryLimit?: number } = {},
): TestSandbox & { run(code: string): Promise<any> } {
  const t = makeSandbox(options);
  loadModule(t, evaluatorModule);
  return Object.assign(t, {
    run: (code: string) => runIn(t, code),
  });
}

/** expects `code` to throw inside the isolate; returns {name, message, ctor} */
export async function runThrows(
  e: { run(code: string): Promise<any> },
  code: string,
): Promise<{ name: string; message: string; ctor: string }> {
  try {
    await e.run(code);
  } catch (error) {
    const isolateError = (error as { isolateError?: { name: string; message: string; ctor: string } }).isolateError;
    if (isolateError) return isolateError;
    throw error;
  }
  throw new Error(`expected the isolate code to throw: ${code}`);
}
