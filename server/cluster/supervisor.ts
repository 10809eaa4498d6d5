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
// closed, and the first request head it read from it.
//
// Crashes are contained and attributed (worker-death.ts). Each worker keeps a journal of its
// requests in flight in shared memory (journal.ts), and its stderr is drained here
// (worker-stderr.ts). When a worker dies, the supervisor reads both: which tenant's code caused
// the death, and what becomes of each connection the worker held: moved to another worker when
// idle or when its request can be replayed safely (idempotent, nothing of its answer sent, not
// of the culprit's tenant, once), else 502. A tenant that causes `quarantine.deaths` deaths in
// the window is quarantined (quarantine.ts): every worker refuses it for the cool-down. The
// dead worker's slot is refilled at once (with exponential back-off when the slot keeps
// crashing, reported as a crash loop).
import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import type { QuarantineEntry } from '../tenants/quarantined';
import { Containment, type HeldConnection } from './containment';
import { readFirstHead, respondAndClose } from './first-head';
import { createJournal, journalFolder, removeJournal } from './journal';
import type { Islet } from './messages';
import { ConnectionCap } from '../front/connection-cap';
import { primaryChannel, type PrimaryChannel } from './primary-channel';
import { hostOf, ownerSlot } from './routing';
import type { Slot, SupervisorOptions, SupervisorStats, WorkerRecord } from './supervisor-types';
import { WorkerStderr } from './worker-stderr';

export type { SupervisorLog, SupervisorOptions, SupervisorStats } from './supervisor-types';

const crashWindowMs = 30_000;
const crashLoopDeaths = 3;
const maxBackoffMs = 30_000;

type Settings = Required<
  Omit<SupervisorOptions, 'workerEnv' | 'metrics' | 'baseDomain' | 'maxConnectionsPerClient' | 'onConnectionRefused'>
> &
  Pick<SupervisorOptions, 'metrics' | 'baseDomain'> & { workerEnv: Record<string, string> };

export class Supervisor {
  #options: Settings;
  readonly #cap: ConnectionCap;
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
  readonly #containment: Containment;
  readonly #journalFolder = journalFolder();
  #forks = 0;

  constructor(options: SupervisorOptions) {
    if (!cluster.isPrimary) throw new Error('cluster: the supervisor runs in the primary process');
    if (!Number.isInteger(options.workers) || options.workers < 1)
      throw new Error(`cluster: workers must be a positive integer, got ${options.workers}`);
    this.#options = {
      hotConnections: 8,
      headTimeoutMs: 10_000,
      maxHeadBytes: 16 * 1024,
      workerEnv: {},
      quarantine: { deaths: 2, windowMs: 600_000, cooldownMs: 600_000 },
      journals: true,
      ...options,
    };
    this.#cap = new ConnectionCap(options.maxConnectionsPerClient ?? 0, options.onConnectionRefused);
    this.#channel = primaryChannel();
    this.#containment = new Containment({
      channel: this.#channel,
      logger: this.#options.logger,
      metrics: this.#options.metrics,
      quarantine: this.#options.quarantine,
      baseDomain: this.#options.baseDomain,
      handOver: (socket, head, replays, firstHead) => this.#handOver(socket, head, 0, replays, firstHead),
    });
    this.#server = net.createServer({ pauseOnConnect: true }, (socket) => this.#accept(socket));
    cluster.setupPrimary({
      exec: require.resolve('../../../bin/islet.js'),
      args: options.workerArgs,
      execArgv: ['--no-node-snapshot'],
      // stdout is shared (whole-line writes, observe/fd-writer.ts); stderr comes here to be read
      // for the death report and forwarded (worker-stderr.ts)
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.#unlisten = [
      this.#channel.on('supervisor.ready', ({ info }, worker) => this.#onReady(worker, info)),
      this.#channel.on('supervisor.closed', ({ id }, worker) => this.#onClosed(worker, id)),
      this.#channel.on('supervisor.upgraded', ({ id }, worker) => {
        const entry = this.#records.get(worker)?.connections.get(id);
        if (entry) entry.upgraded = true;
      }),
      this.#channel.handle('quarantine.lift', ({ tenant }) => this.#containment.lift(tenant)),
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
    removeJournal(this.#journalFolder);
  }

  /** Tenants quarantined now (for the log, the metrics and the workers' copies). */
  quarantined(): QuarantineEntry[] {
    return this.#containment.quarantined();
  }

  /** Workers that serve requests now: ready ones, and retiring ones still finishing theirs. */
  servingWorkers(): Worker[] {
    const serving: Worker[] = [];
    for (const record of this.#records.values()) {
      if ((record.ready || record.retiring) && record.worker.isConnected()) serving.push(record.worker);
    }
    return serving;
  }

  #readyRecords(): WorkerRecord[] {
    const ready: WorkerRecord[] = [];
    // a worker whose pipe closed is dying: it can take nothing more
    for (const slot of this.#slots)
      if (slot.current?.ready && slot.current.worker.isConnected()) ready.push(slot.current);
    return ready;
  }

  #fork(slot: Slot): WorkerRecord {
    const env: Record<string, string> = { ...this.#options.workerEnv, ISLET_WORKER_SLOT: String(slot.index) };
    let journal: string | null = null;
    if (this.#options.journals) {
      try {
        journal = createJournal(this.#journalFolder, `slot${slot.index}-${++this.#forks}`);
        env.ISLET_JOURNAL = journal;
      } catch (error) {
        this.#options.logger.warn('no in-flight journal for a worker', { error: (error as Error).message });
      }
    }
    const worker = cluster.fork(env);
    const stderr = new WorkerStderr(worker.process.stderr);
    const record: WorkerRecord = {
      worker,
      slot,
      ready: false,
      connections: new Map(),
      retiring: false,
      journal,
      stderr,
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
    // before its first connection (the channel keeps the order): whom to refuse
    this.#containment.welcome(worker);
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
    const connections: HeldConnection[] = [];
    for (const [id, { socket, hostname, head, replays, upgraded }] of record.connections) {
      this.#release(hostname);
      connections.push({ id, socket, hostname, firstHead: head, replays, upgraded: upgraded === true });
    }
    record.connections.clear();
    const slot = record.slot;
    if (record.retiring || this.#closing) {
      // after a drain only idle keep-alive connections can be left: simply closed
      for (const { socket } of connections) socket.destroy();
      if (record.journal) removeJournal(record.journal);
      if (slot.current === record) slot.current = null;
      return;
    }
    const refilled = slot.current === record;
    if (refilled) slot.current = null;
    this.#containment.died(
      { pid: record.worker.process.pid, slot: slot.index, journal: record.journal, stderr: record.stderr },
      code,
      signal,
      connections,
      () => slot.deaths.length,
    );
    if (refilled) this.#refill(slot, record, code, signal);
  }

  /** the slot's worker died: a new one now, or after a back-off when the slot keeps dying */
  #refill(slot: Slot, record: WorkerRecord, code: number | null, signal: string | null): void {
    if (this.#closing) return;
    const now = Date.now();
    slot.deaths = slot.deaths.filter((t) => now - t < crashWindowMs);
    slot.deaths.push(now);
    const crashLoop = slot.deaths.length >= crashLoopDeaths;
    const delay = crashLoop ? Math.min(maxBackoffMs, 1000 * 2 ** (slot.deaths.length - crashLoopDeaths)) : 0;
    if (crashLoop) {
      this.#crashLoops++;
      this.#options.logger.error('worker crash loop: restarting with back-off', {
        slot: slot.index,
        pid: record.worker.process.pid,
        code,
        signal,
        deathsInLast30s: slot.deaths.length,
        restartInMs: delay,
      });
    }
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
    if (!this.#cap.admit(socket)) return;
    readFirstHead(socket, this.#options, (head) => this.#handOver(socket, head));
  }

  /**
   * Gives `socket` to a worker with `head` to read first. `firstHead` is the connection's first
   * request head as read at accept (kept for a replay); `replays`: times it was replayed already.
   */
  #handOver(socket: net.Socket, head: Buffer, waitedMs = 0, replays = 0, firstHead = head): void {
    const hostname = hostOf(firstHead);
    const record = this.#pick(hostname);
    if (!record) {
      // no worker ready (start-up, or every worker just died): hold the connection a while
      if (!this.#closing && !socket.destroyed && waitedMs < this.#options.headTimeoutMs) {
        setTimeout(() => this.#handOver(socket, head, waitedMs + 50, replays, firstHead), 50);
        return;
      }
      respondAndClose(socket, 503, 'Service Unavailable', 'no worker process is available; retry shortly\n');
      return;
    }
    const id = ++this.#nextConnection;
    // from here the worker counts it against the client's cap (its front's ConnectionCap)
    this.#cap.release(socket);
    record.connections.set(id, { socket, hostname, head: firstHead, replays });
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
          // the worker never got it (it is dying): another one can have it as it is
          this.#handOver(socket, head, waitedMs + 50, replays, firstHead);
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
