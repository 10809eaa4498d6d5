// `islet dev --inspect[=port]`: Chrome DevTools attached to the dev tenant's isolate. The addon's
// inspector (new Isolate({ inspector: true }), createInspectorSession) speaks the DevTools
// protocol; dev-inspector-io.ts serves it on 127.0.0.1 from a worker thread. Here, on the main
// thread: one inspector session per DevTools connection, on the tenant's current isolate (one is
// started if none runs yet), and two things DevTools needs from islet:
//  - source maps: each Debugger.scriptParsed of a built module gets its map as a data: URL
//    (sourcesContent included), so breakpoints and stepping are in the uploaded TypeScript;
//  - pauses: a breakpoint stops the isolate inside a synchronous entry on this thread, so Node's
//    event loop stops too. The addon then delivers the session's messages from inside the pause;
//    while paused (and no resume was sent) each delivery here waits for DevTools' next message
//    (receiveMessageOnPort, Atomics.wait on the IO thread's counter) and dispatches it, until a
//    resume or step command lets the isolate run on.
// A redeploy retires the isolate: its DevTools connections are closed (DevTools offers to
// reconnect, and attaches to the new one).
import path from 'node:path';
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { InspectorSession } from '../host/isolate-api';
import type { DeploymentStore } from '../store/types';
import type { TenantDirectory } from '../tenants/directory';
import type { IsolatePool } from '../tenants/pool';
import type { TenantIsolate } from '../tenants/tenant-isolate';
import type { InspectorIoData, ToIo, ToMain } from './dev-inspector-io';

export interface InspectorOptions {
  port: number;
  tenant: string;
  pool: IsolatePool;
  directory: TenantDirectory;
  store: DeploymentStore;
  version: string;
}

export interface DevInspector {
  port: number;
  /** the WebSocket URL DevTools (or any CDP client) connects to */
  webSocketUrl: string;
  /**
   * A console line of the tenant, shown in DevTools' console. islet's console is its own (the
   * runtime's console goes to the host's log, bounded per request), not V8's, so the inspector
   * would not see it: it is announced as Runtime.consoleAPICalled.
   */
  console(level: string, message: string): void;
  close(): Promise<void>;
}

/** methods after which the isolate runs again: a pause ends */
const RESUMING = new Set([
  'Debugger.resume',
  'Debugger.stepOver',
  'Debugger.stepInto',
  'Debugger.stepOut',
  'Debugger.disable',
  'Runtime.runIfWaitingForDebugger',
]);
const TARGET_ID = 'islet-dev';

interface Connection {
  conn: number;
  session: InspectorSession | null;
  entry: TenantIsolate | null;
  /** messages that arrived before the session was made */
  early: string[];
  /** module URL -> its source map as a data: URL */
  maps: Map<string, string>;
  paused: boolean;
  resumeSent: boolean;
  closed: boolean;
  /** the tenant context's id, once announced (Runtime.executionContextCreated) */
  contextId?: number;
  watch?: NodeJS.Timeout;
}

export async function startInspector(options: InspectorOptions): Promise<DevInspector> {
  const channel = new MessageChannel();
  const signal = new SharedArrayBuffer(4);
  const flag = new Int32Array(signal);
  const port1: MessagePort = channel.port1;
  const data: InspectorIoData = {
    port: options.port,
    channel: channel.port2,
    signal,
    targetId: TARGET_ID,
    title: `islet dev: ${options.tenant}`,
    url: `http://${options.tenant}.localhost/`,
    version: options.version,
  };
  const worker = new Worker(path.join(__dirname, 'dev-inspector-io.js'), {
    workerData: data,
    transferList: [channel.port2],
  });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: { type: string; port?: number; message?: string }) => {
      if (m.type === 'listening') resolve(m.port!);
      else if (m.type === 'error')
        reject(new Error(`islet dev --inspect: cannot listen on 127.0.0.1:${options.port}: ${m.message}`));
    });
  });
  const connections = new Map<number, Connection>();
  const send = (c: Connection, text: string) =>
    port1.postMessage({ type: 'send', conn: c.conn, data: text } satisfies ToIo);

  /** the tenant's current isolate, started first if it has none */
  async function isolateOf(): Promise<TenantIsolate | null> {
    const state = await options.directory.get(options.tenant);
    if (!state) return null;
    let entry = options.pool.current(options.tenant);
    if (!entry || entry.retiredFor) {
      entry = options.pool.acquire(state);
      entry.release();
    }
    await entry.started;
    return entry;
  }

  async function sourceMaps(entry: TenantIsolate): Promise<Map<string, string>> {
    const maps = new Map<string, string>();
    const manifest = await options.store.getDeployment(options.tenant, entry.deployment);
    for (const module of manifest?.modules ?? []) {
      if (!module.sourceMap) continue;
      try {
        const map = await options.store.readFile(options.tenant, entry.deployment, module.sourceMap);
        maps.set(`file:///${module.path}`, `data:application/json;charset=utf-8;base64,${map.toString('base64')}`);
      } catch {
        // a module without a readable map is debugged in its built form
      }
    }
    return maps;
  }

  function withSourceMap(c: Connection, text: string): string {
    if (text.includes('"Runtime.executionContextCreated"'))
      c.contextId = (JSON.parse(text) as { params: { context: { id: number } } }).params.context.id;
    if (!text.includes('"Debugger.scriptParsed"')) return text;
    const message = JSON.parse(text) as { params: { url: string; sourceMapURL?: string } };
    const map = c.maps.get(message.params.url);
    if (!map) return text;
    message.params.sourceMapURL = map;
    return JSON.stringify(message);
  }

  /**
   * A message from the isolate to DevTools. While paused, the pause notification and each
   * response end what the isolate has to say until DevTools speaks again (a command's own
   * notifications, such as the scriptParsed of an evaluated expression, come before its
   * response): after those, wait for DevTools' next message.
   */
  function deliver(c: Connection, text: string, response: boolean): void {
    if (c.closed) return;
    let turn = response;
    if (!response && text.includes('"method":"Debugger.paused"')) {
      c.paused = true;
      c.resumeSent = false;
      turn = true;
    } else if (!response && text.includes('"method":"Debugger.resumed"')) c.paused = false;
    send(c, text);
    if (turn && c.paused && !c.resumeSent) waitWhilePaused(c);
  }

  function dispatch(c: Connection, text: string): void {
    if (!c.session) {
      c.early.push(text);
      return;
    }
    let method = '';
    try {
      method = (JSON.parse(text) as { method?: string }).method ?? '';
    } catch {
      // not JSON: the inspector answers the parse error itself
    }
    if (RESUMING.has(method)) c.resumeSent = true;
    c.session.dispatchProtocolMessage(text);
  }

  /**
   * The isolate is paused on this thread (Node's loop stopped): take DevTools' messages straight
   * from the IO thread's port until one is for this connection (dispatched; the addon answers it
   * and calls deliver again) or the connection closes (its session is disposed: the isolate resumes).
   */
  function waitWhilePaused(c: Connection): void {
    for (;;) {
      const seen = Atomics.load(flag, 0);
      const received = receiveMessageOnPort(port1);
      if (!received) {
        Atomics.wait(flag, 0, seen, 1000);
        continue;
      }
      const message = received.message as ToMain;
      handle(message);
      if (message.conn === c.conn && message.type !== 'open') return;
    }
  }

  function detach(c: Connection): void {
    if (c.closed) return;
    c.closed = true;
    clearInterval(c.watch);
    connections.delete(c.conn);
    try {
      c.session?.dispose();
    } catch {
      // the isolate is already gone
    }
  }

  async function attach(c: Connection): Promise<void> {
    try {
      const entry = await isolateOf();
      if (!entry || c.closed) throw new Error('no isolate');
      c.maps = await sourceMaps(entry);
      const session = entry.createInspectorSession();
      if (!session || c.closed) throw new Error('no session');
      c.entry = entry;
      c.session = session;
      session.onResponse = (_id, text) => deliver(c, text, true);
      session.onNotification = (text) => deliver(c, withSourceMap(c, text), false);
      for (const text of c.early.splice(0)) dispatch(c, text);
      // a redeploy retires this isolate: DevTools reconnects to the next one
      c.watch = setInterval(() => {
        if (!c.entry?.disposed && !c.entry?.retiredFor) return;
        port1.postMessage({ type: 'close', conn: c.conn } satisfies ToIo);
        detach(c);
      }, 250);
      c.watch.unref();
    } catch {
      port1.postMessage({ type: 'close', conn: c.conn } satisfies ToIo);
      detach(c);
    }
  }

  function handle(message: ToMain): void {
    if (message.type === 'open') {
      const c: Connection = {
        conn: message.conn,
        session: null,
        entry: null,
        early: [],
        maps: new Map(),
        paused: false,
        resumeSent: false,
        closed: false,
      };
      connections.set(c.conn, c);
      void attach(c);
      return;
    }
    const c = connections.get(message.conn);
    if (!c) return;
    if (message.type === 'message') dispatch(c, message.data);
    else detach(c);
  }

  port1.on('message', handle);
  return {
    port,
    webSocketUrl: `ws://127.0.0.1:${port}/${TARGET_ID}`,
    console(level, message) {
      const type =
        level === 'warn' ? 'warning' : level === 'info' || level === 'debug' || level === 'error' ? level : 'log';
      for (const c of connections.values()) {
        if (!c.session || c.contextId === undefined) continue;
        const params = {
          type,
          args: [{ type: 'string', value: message }],
          executionContextId: c.contextId,
          timestamp: Date.now(),
        };
        send(c, JSON.stringify({ method: 'Runtime.consoleAPICalled', params }));
      }
    },
    async close() {
      for (const c of [...connections.values()]) detach(c);
      port1.close();
      await worker.terminate();
    },
  };
}
