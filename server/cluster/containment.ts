// What the supervisor does when a worker process dies unexpectedly (the supervisor itself only
// refills the slot): read the worker's in-flight journal and stderr, blame the tenant whose code
// caused the death (worker-death.ts), quarantine a tenant past the policy's threshold
// (quarantine.ts) and tell every worker, then settle each connection the dead worker held: moved
// to another worker (idle, never read, or an idempotent request replayed once), or 502. One
// error line per death says why it died, whose code, and which tenants had requests in flight.
import type { Worker } from 'node:cluster';
import type net from 'node:net';
import type { SupervisorMetrics } from '../observe/metrics/supervisor';
import type { QuarantineEntry } from '../tenants/quarantined';
import { badGateway } from './first-head';
import { readJournal, removeJournal, type JournalRequest, type JournalSnapshot } from './journal';
import type { Islet } from './messages';
import type { PrimaryChannel } from './primary-channel';
import { QuarantineBook, type QuarantinePolicy } from './quarantine';
import type { SupervisorLog } from './supervisor-types';
import { analyzeDeath, connectionFate, type DeathReport } from './worker-death';
import type { WorkerStderr } from './worker-stderr';

/**
 * how long a dead worker's stderr may take to reach its end before the death is reported without
 * it: the addon's line naming the tenant is its last write, and a loaded machine delivers it late
 * (300 ms missed it once in CI); only the report line waits, never the connections
 */
const stderrGraceMs = 2000;

/** A connection a dead worker held, as the supervisor kept it. */
export interface HeldConnection {
  id: number;
  socket: net.Socket;
  hostname: string;
  /** the first request head read before the hand-over */
  firstHead: Buffer;
  /** times its request was already replayed after a death */
  replays: number;
  /** the worker took it over for an upgrade (a WebSocket) */
  upgraded: boolean;
}

export interface DeadWorker {
  pid: number | undefined;
  slot: number;
  journal: string | null;
  stderr: WorkerStderr;
}

export interface ContainmentOptions {
  channel: PrimaryChannel<Islet>;
  logger: SupervisorLog;
  metrics?: SupervisorMetrics;
  quarantine: QuarantinePolicy;
  /** tenants answer on <tenant>.<baseDomain> */
  baseDomain?: string;
  /** gives a connection to a live worker with `head` to read first */
  handOver(socket: net.Socket, head: Buffer, replays: number, firstHead: Buffer): void;
}

export class Containment {
  readonly #options: ContainmentOptions;
  readonly #book: QuarantineBook;

  constructor(options: ContainmentOptions) {
    this.#options = options;
    this.#book = new QuarantineBook(options.quarantine);
  }

  /** tenants quarantined now */
  quarantined(): QuarantineEntry[] {
    return this.#book.list();
  }

  /** ends a quarantine now (an operator lifted it); false when the tenant was not quarantined */
  lift(tenant: string): boolean {
    if (!this.#book.lift(tenant)) return false;
    this.#options.logger.info('quarantine lifted', { tenant });
    this.#broadcast();
    return true;
  }

  /** a worker is about to get connections: first, whom to refuse (the channel keeps the order) */
  welcome(worker: Worker): void {
    this.#options.channel.notify(worker, 'quarantine.list', { tenants: this.#book.list() });
  }

  /**
   * A worker died unexpectedly. Its connections are settled at once from its journal; the death
   * is reported once its stderr was read to the end (briefly waited for).
   */
  died(
    worker: DeadWorker,
    code: number | null,
    signal: string | null,
    connections: HeldConnection[],
    deathsInLast30s: () => number,
  ): void {
    const snapshot = worker.journal ? readJournal(worker.journal) : null;
    if (worker.journal) removeJournal(worker.journal);
    const early = analyzeDeath({ code, signal, snapshot, stderrTail: worker.stderr.tail, fatalLine: null });
    if (early.culprit) this.#blame(early.culprit, early.cause);
    this.#settle(connections, snapshot, early.culprit);
    void worker.stderr.drained(stderrGraceMs).then(() => {
      const report = analyzeDeath({
        code,
        signal,
        snapshot,
        stderrTail: worker.stderr.tail,
        fatalLine: worker.stderr.fatalMessage(),
      });
      // the addon's own line may name a culprit the journal could not
      if (report.culprit && report.culprit !== early.culprit) this.#blame(report.culprit, report.cause);
      this.#report(worker, report, code, signal, deathsInLast30s());
    });
  }

  /** one line per death: why, whose code, which tenants had requests in flight */
  #report(worker: DeadWorker, report: DeathReport, code: number | null, signal: string | null, deaths: number): void {
    this.#options.metrics?.workerDeath(report.culprit !== null);
    this.#options.logger.error('worker process died: restarting it', {
      slot: worker.slot,
      pid: worker.pid,
      code,
      signal,
      cause: report.cause,
      tenant: report.culprit ?? undefined,
      blamedBy: report.blamedBy ?? undefined,
      inFlight: report.inFlight,
      deathsInLast30s: deaths,
    });
  }

  /** `tenant`'s code caused a death: counted, and quarantined past the policy's threshold */
  #blame(tenant: string, cause: string): void {
    const entry = this.#book.death(tenant, cause);
    if (!entry) return;
    const { deaths, windowMs, cooldownMs } = this.#options.quarantine;
    this.#options.logger.warn('tenant quarantined: its code made worker processes die', {
      tenant,
      deaths: entry.deaths,
      policy: `${deaths} deaths in ${windowMs / 1000} s`,
      until: new Date(entry.until).toISOString(),
    });
    this.#options.metrics?.quarantine(tenant);
    this.#broadcast();
    // the list shrinks by itself when the cool-down ends; the workers and the gauge hear of it then
    setTimeout(() => this.#broadcast(), cooldownMs + 50).unref();
  }

  #broadcast(): void {
    const tenants = this.#book.list();
    this.#options.metrics?.quarantinedNow(tenants.length);
    this.#options.channel.notifyAll('quarantine.list', { tenants });
  }

  /** what becomes of each connection the dead worker held (worker-death.ts connectionFate) */
  #settle(connections: HeldConnection[], snapshot: JournalSnapshot | null, culprit: string | null): void {
    const refuse = (tenant: string) => tenant === culprit || this.#book.isQuarantined(tenant);
    const byConnection = new Map<number, JournalRequest[]>();
    for (const request of snapshot?.requests ?? []) {
      const list = byConnection.get(request.connection);
      if (list) list.push(request);
      else byConnection.set(request.connection, [request]);
    }
    const { metrics } = this.#options;
    for (const connection of connections) {
      const { socket } = connection;
      if (socket.destroyed) continue;
      const held = { ...connection, hostTenant: this.#tenantOf(connection.hostname) };
      const fate = connectionFate(held, snapshot, byConnection.get(connection.id) ?? [], refuse);
      if (fate.kind === 'move') {
        const replayed = fate.replay !== 'none';
        if (replayed) metrics?.replayed(fate.replay === 'in flight' ? 'in_flight' : 'first_request');
        this.#options.handOver(socket, fate.head, connection.replays + (replayed ? 1 : 0), connection.firstHead);
        continue;
      }
      metrics?.failedByDeath();
      if (fate.kind === 'bad gateway') badGateway(socket);
      else socket.destroy();
    }
  }

  /** the tenant of `<tenant>.<baseDomain>` ('' for any other host name) */
  #tenantOf(hostname: string): string {
    const base = this.#options.baseDomain;
    if (!base || !hostname.endsWith(`.${base}`)) return '';
    const tenant = hostname.slice(0, -base.length - 1);
    return tenant.includes('.') ? '' : tenant;
  }
}
