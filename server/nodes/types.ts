// The nodes of one islet installation: every machine serving from a shared store writes a
// heartbeat (who it is, where it is reached, which revision of the change log all its serving
// processes have applied, how many workers serve, which islet it runs) and reads the others'.
// A node that missed `liveBeats` heartbeats is not live: writes stop waiting for it, and the
// change log may be pruned past it. On the directory store (one machine) the list is this node.

/** What a node says about itself with each heartbeat. */
export interface NodeBeat {
  id: string;
  /** host:port operators and other nodes reach it at */
  address: string;
  /** the newest revision of the change log every serving process of the node has applied */
  revision: number;
  /** serving processes (1 without a supervisor) */
  workers: number;
  /** islet's version on the node */
  version: string;
  /** ISO-8601 */
  startedAt: string;
  /** how often it beats (ms): its own interval judges whether it is live */
  heartbeatMs: number;
  /** false until the node caught up with the change log after it started */
  ready: boolean;
}

/** A node as the list shows it. */
export interface NodeRecord extends NodeBeat {
  /** ISO-8601 time of its last heartbeat */
  lastSeen: string;
  /** milliseconds since its last heartbeat, by the store's clock */
  silentMs: number;
  /** beat within its last `liveBeats` intervals, and did not leave */
  live: boolean;
  /** changes of the log it has not applied yet (the store's revision minus its own) */
  lag: number;
  /** ISO-8601 time it stopped on purpose, when it did */
  leftAt: string | null;
}

export interface NodeList {
  /** the store's newest revision */
  revision: number;
  nodes: NodeRecord[];
}

/** How far a tenant's newest change has spread over the live nodes. */
export interface Propagation {
  /** the revision of the tenant's newest change (0: none in the log) */
  revision: number;
  /** live nodes that have not applied it yet */
  lagging: { id: string; address: string; revision: number }[];
}

export interface NodeRegistry {
  /** records the heartbeat (creating the node's row the first time) */
  beat(beat: NodeBeat): Promise<void>;
  /** every known node, live or not, by id */
  list(): Promise<NodeList>;
  /** the node stopped on purpose: it is no longer waited for */
  leave(id: string): Promise<void>;
  /** the node applied `revision` (said sooner than its next beat; never lowers it) */
  applied(id: string, revision: number): Promise<void>;
  /** the newest change of `tenant` and the live nodes that have not applied it yet */
  propagation(tenant: string): Promise<Propagation>;
  /** the live nodes other than `self` that have not applied `revision` yet */
  behind(revision: number, self: string): Promise<{ id: string; address: string; revision: number }[]>;
}
