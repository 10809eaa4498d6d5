// Test harness for the shims: real isolates from native/, a real sandbox, tenant code as text.
import path from 'node:path';
import { createSandbox } from '../../server/host/sandbox';
import { isolateApi, type Isolate } from '../../server/host/isolate-api';
import type { RequestLimits, Sandbox, SandboxOptions, SandboxRequest, SandboxResponse, TenantLogRecord } from '../../server/host/types';

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
  const isolate = new (isolateApi().Isolate)({ memoryLimit: options.memoryLimit ?? 64 });
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

/** compiles `code` as the entry ES module of the sandbox and binds its default export */
export function loadModule(t: TestSandbox, code: string): void {
  const isolate = t.isolate as unknown as { compileModuleSync(code: string, o?: object): any };
  const module = isolate.compileModuleSync(code, { filename: 'file:///tenant/index.js' });
  module.instantiateSync(t.sandbox.context, (specifier: string) => {
    throw new Error(`no module ${specifier}`);
  });
  module.evaluateSync({ timeout: 2000 });
  t.sandbox.bindModule(module.namespace);
}

/** runs `code` as a classic script in the sandbox's context and binds its fetch listener */
export function loadScript(t: TestSandbox, code: string): void {
  t.sandbox.context.evalSync(code, { timeout: 2000, filename: 'file:///tenant/script.js' } as never);
  t.sandbox.bindScript();
}

export function request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array | AsyncIterable<Uint8Array> } = {}): SandboxRequest {
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

export async function fetchText(t: TestSandbox, req: SandboxRequest): Promise<{ status: number; headers: string[]; text: string }> {
  const dispatch = t.sandbox.dispatch(req);
  const response = await dispatch.response;
  const text = (await readBody(response)).toString();
  await dispatch.done;
  return { status: response.status, headers: response.headers, text };
}

/**
 * An evaluator: a sandbox whose handler runs the request body as the body of an async function
 * (with `request` in scope) and answers with the JSON of its result. Lets each test check one
 * behaviour inside the isolate in a line or two.
 */
export function makeEvaluator(options: Partial<SandboxOptions> & { memoryLimit?: number } = {}): TestSandbox & { run(code: string): Promise<any> } {
  const t = makeSandbox(options);
  loadModule(
    t,
    `const AsyncFunction = (async function () {}).constructor;
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
     };`,
  );
  return Object.assign(t, {
    async run(code: string): Promise<any> {
      const { text } = await fetchText(t, request('http://eval.test/', { method: 'POST', body: code }));
      const parsed = JSON.parse(text);
      if (parsed.error) {
        const error = new Error(`${parsed.error.name}: ${parsed.error.message}`) as Error & { isolateError: unknown };
        error.isolateError = parsed.error;
        throw error;
      }
      return parsed.value;
    },
  });
}

/** expects `code` to throw inside the isolate; returns {name, message, ctor} */
export async function runThrows(e: { run(code: string): Promise<any> }, code: string): Promise<{ name: string; message: string; ctor: string }> {
  try {
    await e.run(code);
  } catch (error) {
    const isolateError = (error as { isolateError?: { name: string; message: string; ctor: string } }).isolateError;
    if (isolateError) return isolateError;
    throw error;
  }
  throw new Error(`expected the isolate code to throw: ${code}`);
}
