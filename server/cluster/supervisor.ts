// The supervisor of worker processes (`islet serve --workers N`, DESIGN.md "Processes").
//
// V8 can still abort a whole process on some out-of-memory paths, so tenant code runs in worker
// processes and the primary never runs any: it owns the tenant port, reads each new
// connection's first request head to learn its Host, and hands the socket to the worker that
// owns that hostname. A hostname belongs to one worker (rendezvous hashing over worker slots), so
// a tenant's isolate is not duplicated in every worker; a hostname with many open connections
// at once is "hot" and its new connections go to the least-loaded worker instead, so one busy
// tenant can use every core. Keep-alive connections stay with the worker they were given to.
//
// Sockets travel to workers as handles of the IPC channel's 'supervisor.connection' notice
// (cluster/messages.ts; the worker's side is supervised-worker.ts). The primary keeps its own
// copy of every handed-over socket (IPC `keepOpen`) until the worker reports the connection
// closed. When a worker dies, whatever is still open of its connections gets a 502 and is
// closed by the primary, and the worker's slot is refilled at once (with exponential back-off
// when the slot keeps crashing, reported as a crash loop).
import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import type { Islet } from './messages';
import { primaryChannel, type PrimaryChannel } from './primary-channel';
import { headEnd, hostOf, ownerSlot } from './routing';

/** Where the supervisor reports workers starting and dying (the server Logger is one). */
export interface SupervisorLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface SupervisorOptions {
  workers: number;
  port: number;
  host: string;
  logger: SupervisorLog;
  /** arguments of the worker processes (the script is bin/islet.js) */
  workerArgs: string[];
  /** environment added for the workers */
  workerEnv?: Record<string, string>;
  /** open connections of one hostname beyond which its new connections are spread (default 8) */
  hotConnections?: number;
  /** time a new connection has to send its first request head (default 10 s) */
  headTimeoutMs?: number;
  /** largest first request head read before routing (default 16 KiB, as the server's header limit) */
  maxHeadBytes?: number;
  /** time workers get to finish in-flight requests on shutdown or reload */
  drainTimeoutMs: number;
}

interface Connection {
  socket: net.Socket;
  hostname: string;
}

/** One worker process and the connections handed to it. */
interface WorkerRecord {
  worker: Worker;
  slot: Slot;
  ready: boolean;
  info?: Record<string, unknown>;
  /** handed over and not yet reported closed */
  connections: Map<number, Connection>;
  /** told to drain (reload, shutdown): its exit is expected */
  retiring: boolean;
  /** epoch ms of the fork */
  startedAt: number;
}

/** A place for one worker; a dead worker's slot is refilled, keeping the hostnames it owned. */
interface Slot {
  index: number;
  current: WorkerRecord | null;
  /** recent deaths (ms timestamps), for crash-loop detection */
  deaths: number[];
  /** workers that died in this slot and were replaced */
  restarts: number;
  restartTimer?: NodeJS.Timeout;
}

export interface SupervisorStats {
  workers: {
    slot: number;
    pid: number | null;
    ready: boolean;
    connections: number;
    /** epoch ms the slot's current worker was forked, null while the slot waits for one */
    startedAt: number | null;
    restarts: number;
  }[];
  restarts: number;
  crashLoops: number;
}

const crashWindowMs = 30_000;
const crashLoopDeaths = 3;
const maxBackoffMs = 30_000;

export class Supervisor {
  #options: Required<Omit<SupervisorOptions, 'workerEnv'>> & { workerEnv: Record<string, string> };
  readonly #slots: Slot[] = [];
  readonly #records = new Map<Worker, WorkerRecord>();
  readonly #server: net.Server;
  readonly #openByHost = new Map<string, number>();
  #nextConnection = 0;
  #closing = false;
  #restarts = 0;
  #crashLoops = 0;
  readonly #channel: PrimaryChannel<Islet>;
  /** stops hearing the workers' notices (close) */
  readonly #unlisten: (() => void)[];

  constructor(options: SupervisorOptions) {
    if (!cluster.isPrimary) throw new Error('cluster: the supervisor runs in the primary process');
    if (!Number.isInteger(options.workers) || options.workers < 1)
      throw new Error(`cluster: workers must be a positive integer, got ${options.workers}`);
    this.#options = {
      hotConnections: 8,
      headTimeoutMs: 10_000,
      maxHeadBytes: 16 * 1024,
      workerEnv: {},
      ...options,
    };
    this.#server = net.createServer({ pauseOnConnect: true }, (socket) => this.#accept(socket));
    cluster.setupPrimary({
      exec: require.resolve('../../../bin/islet.js'),
      args: options.workerArgs,
      execArgv: ['--no-node-snapshot'],
    });
    this.#channel = primaryChannel();
    this.#unlisten = [
      this.#channel.on('supervisor.ready', ({ info }, worker) => this.#onReady(worker, info)),
      this.#channel.on('supervisor.closed', ({ id }, worker) => this.#onClosed(worker, id)),
    ];
  }

  /**
   * Listens on the tenant port, then forks the workers (told the bound port, so the URLs they
   * print and return are right even for port 0); resolves once every worker is ready.
   * Connections arriving before that wait for a worker.
   */
  async start(): Promise<{ port: number; workers: { slot: number; info?: Record<string, unknown> }[] }> {
    const port = await new Promise<number>((resolve, reject) => {
      this.#server.once('error', (err) =>
        reject(new Error(`cannot listen on ${this.#options.host}:${this.#options.port}: ${err.message}`)),
      );
      this.#server.listen(this.#options.port, this.#options.host, () =>
        resolve((this.#server.address() as net.AddressInfo).port),
      );
    });
    this.#options.workerEnv = { ...this.#options.workerEnv, ISLET_PORT: String(port) };
    for (let i = 0; i < this.#options.workers; i++) {
      const slot: Slot = { index: i, current: null, deaths: [], restarts: 0 };
      this.#slots.push(slot);
      this.#fork(slot);
    }
    await Promise.all(this.#slots.map((slot) => this.#whenReady(slot.current!)));
    return { port, workers: this.#slots.map((s) => ({ slot: s.index, info: s.current?.info })) };
  }

  stats(): SupervisorStats {
    return {
      workers: this.#slots.map((s) => ({
        slot: s.index,
        pid: s.current?.worker.process.pid ?? null,
        ready: s.current?.ready ?? false,
        connections: s.current?.connections.size ?? 0,
        startedAt: s.current?.startedAt ?? null,
        restarts: s.restarts,
      })),
      restarts: this.#restarts,
      crashLoops: this.#crashLoops,
    };
  }

  /**
   * Rolling replacement of every worker (SIGHUP): a new worker takes the slot once it is ready,
   * then the old one stops getting connections and drains. No request is dropped.
   */
  async reload(): Promise<void> {
    for (const slot of this.#slots) {
      if (this.#closing) return;
      const old = slot.current;
      const fresh = this.#fork(slot);
      await this.#whenReady(fresh);
      if (old) await this.#retire(old);
    }
  }

  /** Graceful stop: no new connections, workers finish in-flight requests (bounded), then exit. */
  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const slot of this.#slots) clearTimeout(slot.restartTimer);
    await Promise.all([...this.#records.values()].map((record) => this.#retire(record)));
    await closed;
    for (const unlisten of this.#unlisten) unlisten();
  }

  #readyRecords(): WorkerRecord[] {
    const ready: WorkerRecord[] = [];
    for (const slot of this.#slots) if (slot.current?.ready) ready.push(slot.current);
    return ready;
  }

  #fork(slot: Slot): WorkerRecord {
    const worker = cluster.fork({ ...this.#options.workerEnv, ISLET_WORKER_SLOT: String(slot.index) });
    const record: WorkerRecord = {
      worker,
      slot,
      ready: false,
      connections: new Map(),
      retiring: false,
      startedAt: Date.now(),
    };
    this.#records.set(worker, record);
    slot.current = record;
    worker.on('exit', (code, signal) => this.#onExit(record, code, signal));
    return record;
  }

  #whenReady(record: WorkerRecord): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (record.ready || this.#closing || record.worker.isDead()) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
  }

  #onReady(worker: Worker, info: Record<string, unknown> | undefined): void {
    const record = this.#records.get(worker);
    if (!record) return;
    record.ready = true;
    record.info = info;
    this.#options.logger.info('worker ready', { slot: record.slot.index, pid: worker.process.pid });
  }

  #onClosed(worker: Worker, id: number): void {
    const record = this.#records.get(worker);
    const entry = record?.connections.get(id);
    if (!record || !entry) return;
    record.connections.delete(id);
    this.#release(entry.hostname);
    entry.socket.destroy();
  }

  #retire(record: WorkerRecord): Promise<void> {
    record.retiring = true;
    record.ready = false;
    if (record.slot.current === record) record.slot.current = null;
    return new Promise((resolve) => {
      if (record.worker.isDead()) return resolve();
      const hardStop = setTimeout(() => record.worker.process.kill('SIGKILL'), this.#options.drainTimeoutMs + 2_000);
      record.worker.once('exit', () => {
        clearTimeout(hardStop);
        resolve();
      });
      // a reload replaces the worker (its WebSockets get 1012: reconnect); close() stops for good
      this.#channel.notify(record.worker, 'supervisor.drain', { restart: !this.#closing });
    });
  }

  #onExit(record: WorkerRecord, code: number | null, signal: string | null): void {
    this.#records.delete(record.worker);
    // whatever the worker still had open: after a crash, answer 502 and close; after a drain,
    // only idle keep-alive connections can be left, and they are simply closed
    for (const { socket, hostname } of record.connections.values()) {
      this.#release(hostname);
      if (record.retiring) socket.destroy();
      else badGateway(socket);
    }
    record.connections.clear();
    const slot = record.slot;
    if (record.retiring || slot.current !== record) return;
    slot.current = null;
    if (this.#closing) return;

    const now = Date.now();
    slot.deaths = slot.deaths.filter((t) => now - t < crashWindowMs);
    slot.deaths.push(now);
    const crashLoop = slot.deaths.length >= crashLoopDeaths;
    const delay = crashLoop ? Math.min(maxBackoffMs, 1000 * 2 ** (slot.deaths.length - crashLoopDeaths)) : 0;
    if (crashLoop) this.#crashLoops++;
    this.#options.logger.error(
      crashLoop ? 'worker crash loop: restarting with back-off' : 'worker process died: restarting it',
      {
        slot: slot.index,
        pid: record.worker.process.pid,
        code,
        signal,
        deathsInLast30s: slot.deaths.length,
        restartInMs: delay,
      },
    );
    this.#restarts++;
    slot.restarts++;
    slot.restartTimer = setTimeout(() => {
      if (!this.#closing) this.#fork(slot);
    }, delay);
  }

  #accept(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.removeAllListeners('data');
      respondAndClose(socket, 408, 'Request Timeout', 'the request head did not arrive in time\n');
    }, this.#options.headTimeoutMs);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => clearTimeout(timer));
    socket.on('data', (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      if (head.indexOf(headEnd) === -1 && head.length < this.#options.maxHeadBytes) return;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      socket.pause();
      // stop the primary's reads at once: the rest of the request belongs to the worker
      (socket as unknown as { _handle?: { readStop(): void } })._handle?.readStop();
      let more: Buffer | null;
      while ((more = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, more]);
      this.#handOver(socket, head);
    });
    socket.resume();
  }

  #handOver(socket: net.Socket, head: Buffer, waitedMs = 0): void {
    const hostname = hostOf(head);
    const record = this.#pick(hostname);
    if (!record) {
      // no worker ready (start-up, or every worker just died): hold the connection a while
      if (!this.#closing && !socket.destroyed && waitedMs < this.#options.headTimeoutMs) {
        setTimeout(() => this.#handOver(socket, head, waitedMs + 50), 50);
        return;
      }
      respondAndClose(socket, 503, 'Service Unavailable', 'no worker process is available; retry shortly\n');
      return;
    }
    const id = ++this.#nextConnection;
    record.connections.set(id, { socket, hostname });
    this.#openByHost.set(hostname, (this.#openByHost.get(hostname) ?? 0) + 1);
    socket.removeAllListeners('error');
    socket.on('error', () => {});
    this.#channel.notify(
      record.worker,
      'supervisor.connection',
      { id, head: head.toString('latin1') },
      {
        handle: socket,
        keepOpen: true,
        sent: (err) => {
          if (!err || !record.connections.delete(id)) return;
          this.#release(hostname);
          badGateway(socket);
        },
      },
    );
  }

  #pick(hostname: string): WorkerRecord | undefined {
    const ready = this.#readyRecords();
    if (ready.length <= 1) return ready[0];
    if ((this.#openByHost.get(hostname) ?? 0) >= this.#options.hotConnections) {
      let least = ready[0];
      for (const record of ready) if (record.connections.size < least.connections.size) least = record;
      return least;
    }
    const owner = ownerSlot(
      hostname,
      ready.map((r) => r.slot.index),
    );
    return ready.find((r) => r.slot.index === owner);
  }

  #release(hostname: string): void {
    const open = (this.#openByHost.get(hostname) ?? 1) - 1;
    if (open <= 0) this.#openByHost.delete(hostname);
    else this.#openByHost.set(hostname, open);
  }
}

/** Answers a connection no worker took (or whose worker died) and closes it. */
function respondAndClose(socket: net.Socket, status: number, reason: string, body: string, extraHeaders = ''): void {
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\n${extraHeaders}` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** The worker holding this connection died: tell the client so, and close. */
function badGateway(socket: net.Socket): void {
  respondAndClose(
    socket,
    502,
    'Bad Gateway',
    'the worker process serving this request stopped; retry the request\n',
    'islet-error: worker\r\n',
  );
}
