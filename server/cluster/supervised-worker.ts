// A worker process's side of the supervisor (supervisor.ts): it takes the connections the
// supervisor hands over (the socket arrives as the handle of a 'supervisor.connection' notice,
// with the request head the supervisor already read), reports each one closed, says when it is
// ready, and drains when told to or when the supervisor goes away.
import cluster from 'node:cluster';
import type net from 'node:net';
import { ClusterError } from '../errors';
import { connectionId } from './journal-writer';
import { workerChannel } from './worker-channel';

export interface WorkerHooks {
  /** emits 'connection' on the tenant HTTP server */
  server: net.Server;
  /** sent to the supervisor with the ready notice */
  info?: Record<string, unknown>;
  /** graceful stop: finish in-flight requests (bounded) and release everything (`restart`: a reload replaces us) */
  drain(restart: boolean): Promise<void>;
}

/** Connects this worker process to its supervisor: takes handed-over sockets, drains on request. */
export function joinSupervisor(hooks: WorkerHooks): void {
  if (!cluster.isWorker || !process.send) {
    throw new ClusterError('ISLET_CLUSTER_WRONG_PROCESS', 'cluster: joinSupervisor() must run in a worker process');
  }
  const channel = workerChannel();
  const open = new Set<net.Socket>();
  let draining: Promise<void> | undefined;
  /**
   * Closing an idle keep-alive connection races with a client that is just reusing it (the
   * client sees a reset). So a draining worker first answers with `Connection: close`, and
   * waits for its connections to end by themselves: clients close idle ones before the
   * keep-alive timeout the server advertises. Whatever is left after that is closed.
   */
  const drain = (restart: boolean): Promise<void> =>
    (draining ??= (async () => {
      hooks.server.prependListener('request', (_req: unknown, res: { shouldKeepAlive: boolean }) => {
        res.shouldKeepAlive = false;
      });
      const keepAliveMs = (hooks.server as { keepAliveTimeout?: number }).keepAliveTimeout ?? 5000;
      const deadline = Date.now() + keepAliveMs + 1000;
      while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      await hooks.drain(restart);
    })());
  // an upgraded connection (a WebSocket) is no idle keep-alive one: the drain closes it itself,
  // once the requests are done (1012 on a reload), so the wait below does not wait for it
  // (and the supervisor is told: should this worker die, the connection is closed, never handed
  // to another worker that would read WebSocket frames as HTTP)
  hooks.server.on('upgrade', (_req: unknown, socket: net.Socket & { [connectionId]?: number }) => {
    open.delete(socket);
    const id = socket[connectionId];
    if (id !== undefined) channel.notify('supervisor.upgraded', { id });
  });
  channel.on('supervisor.connection', ({ id, head }, handle) => {
    const socket = handle as (net.Socket & { [connectionId]?: number }) | undefined;
    if (!socket) return;
    // the in-flight journal names requests by the supervisor's id of their connection
    socket[connectionId] = id;
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      channel.notify('supervisor.closed', { id });
    });
    hooks.server.emit('connection', socket);
    if (head) socket.unshift(Buffer.from(head, 'latin1'));
    socket.resume();
  });
  channel.on('supervisor.drain', (message) => {
    drain(message?.restart === true).finally(() => process.exit(0));
  });
  // the primary going away (killed) must not leave orphan workers serving nothing
  process.on('disconnect', () => {
    hooks.drain(false).finally(() => process.exit(0));
  });
  channel.notify('supervisor.ready', { info: hooks.info });
}
