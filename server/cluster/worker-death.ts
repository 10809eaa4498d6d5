// What the supervisor makes of a worker process that died unexpectedly: why it died (exit code
// or signal, and the fatal line V8, Node or the addon wrote to stderr), which tenant's code
// caused it, which tenants had requests in flight, and what becomes of each connection the
// worker held. Pure functions over what the supervisor read (the worker's journal, journal.ts;
// its stderr, worker-stderr.ts), so every rule here is tested without killing a process.
//
// The cause, most certain first: the addon's own line naming the tenant whose isolate stalled
// near its heap limit or past a time limit (the addon's stuck-run watch, on in worker processes:
// the process is ended a second after an isolate asked to stop could not); the tenant whose code Node's thread was running at the moment of death
// (the journal's running mark: V8's fatal out-of-memory aborts inside the entry that allocated);
// the one tenant whose isolate was starting (a top-level that blew up on a pool thread); the one
// tenant with requests in flight. Otherwise nobody is blamed: a neighbour that merely had
// requests in flight is never charged with a death.
import type { JournalRequest, JournalSnapshot } from './journal';

export interface DeathReport {
  /** e.g. "signal SIGABRT: FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory" */
  cause: string;
  /** the tenant whose code caused the death, when it can be told */
  culprit: string | null;
  /** how the culprit was told */
  blamedBy: 'addon' | 'running' | 'starting' | 'only tenant' | null;
  /** requests in flight per tenant ('' for requests not routed yet) */
  inFlight: Record<string, number>;
}

/**
 * the addon's line naming the isolate it ended the process for (its label is `tenant:<name>`,
 * tenants/tenant-isolate.ts), or the worker's own line before an abort after a V8 catastrophic
 * error (`... of tenant '<name>'`)
 */
const ADDON_LINE = /^islet: .*(?:isolate "tenant:|tenant ')([a-z0-9-]{1,63})["']/m;

export function analyzeDeath(death: {
  code: number | null;
  signal: string | null;
  snapshot: JournalSnapshot | null;
  stderrTail: string;
  fatalLine: string | null;
}): DeathReport {
  const exit = death.signal ? `signal ${death.signal}` : `exit code ${death.code}`;
  const cause = death.fatalLine ? `${exit}: ${death.fatalLine}` : exit;
  const requests = death.snapshot?.requests ?? [];
  const inFlight: Record<string, number> = {};
  for (const request of requests) inFlight[request.tenant] = (inFlight[request.tenant] ?? 0) + 1;
  const named = ADDON_LINE.exec(death.stderrTail)?.[1];
  if (named) return { cause, culprit: named, blamedBy: 'addon', inFlight };
  if (death.snapshot?.running) return { cause, culprit: death.snapshot.running, blamedBy: 'running', inFlight };
  const starting = new Set(requests.filter((r) => r.cold && r.tenant).map((r) => r.tenant));
  if (starting.size === 1) return { cause, culprit: [...starting][0]!, blamedBy: 'starting', inFlight };
  const tenants = Object.keys(inFlight).filter((t) => t !== '');
  if (tenants.length === 1) return { cause, culprit: tenants[0]!, blamedBy: 'only tenant', inFlight };
  return { cause, culprit: null, blamedBy: null, inFlight };
}

/** What becomes of one connection a dead worker held. */
export type ConnectionFate =
  /** to another worker, with these bytes first (empty: nothing to replay, it was idle) */
  | { kind: 'move'; head: Buffer; replay: 'none' | 'first request' | 'in flight' }
  /** 502 and close: a request was in flight and cannot be replayed */
  | { kind: 'bad gateway'; why: string }
  /** closed as it is: part of an answer may already have gone out */
  | { kind: 'close'; why: string };

export interface HeldConnection {
  id: number;
  /** the first request head the supervisor read before handing the connection over */
  firstHead: Buffer;
  /** the tenant the supervisor could tell from the host name ('' when it could not) */
  hostTenant: string;
  /** times this connection's request was already replayed after a death */
  replays: number;
  /** the worker took it over for an upgrade (a WebSocket): whatever comes next on it is not HTTP */
  upgraded?: boolean;
}

/**
 * The fate of one connection: moved to another worker when that is safe (idle; its first
 * request never read by the dead worker; or one idempotent request in flight with nothing of its
 * answer sent, replayed once, not of the culprit's or a quarantined tenant), else 502 or closed.
 */
export function connectionFate(
  connection: HeldConnection,
  snapshot: JournalSnapshot | null,
  inFlight: readonly JournalRequest[],
  refuse: (tenant: string) => boolean,
): ConnectionFate {
  if (!snapshot) return { kind: 'bad gateway', why: 'the worker left no journal' };
  if (inFlight.length === 0) {
    if (connection.upgraded) return { kind: 'close', why: 'a WebSocket cannot move to another worker' };
    if (snapshot.began(connection.id)) return { kind: 'move', head: Buffer.alloc(0), replay: 'none' };
    // the worker never read the request the supervisor handed over: nothing of it ran
    if (connection.replays > 0) return { kind: 'bad gateway', why: 'its request was replayed once already' };
    if (connection.hostTenant && refuse(connection.hostTenant))
      return { kind: 'bad gateway', why: `tenant '${connection.hostTenant}' caused the death or is quarantined` };
    return { kind: 'move', head: connection.firstHead, replay: 'first request' };
  }
  if (inFlight.length > 1) return { kind: 'bad gateway', why: 'several pipelined requests were in flight' };
  const request = inFlight[0]!;
  if (request.answering) return { kind: 'close', why: 'its answer had begun' };
  if (!request.head)
    return { kind: 'bad gateway', why: 'the request cannot be replayed (not GET/HEAD/OPTIONS, or a body)' };
  if (connection.replays > 0) return { kind: 'bad gateway', why: 'its request was replayed once already' };
  if (!request.tenant || refuse(request.tenant))
    return { kind: 'bad gateway', why: `tenant '${request.tenant}' caused the death or is quarantined` };
  return { kind: 'move', head: request.head, replay: 'in flight' };
}
