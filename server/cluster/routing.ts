// Which worker a new connection goes to. The supervisor reads the Host of a connection's first
// request and gives the connection to the worker slot that owns that hostname, so a tenant's
// isolate lives in one worker instead of in every one; rendezvous hashing keeps each hostname
// on its slot when other slots come and go.
import { requestTarget } from '../front/host';

/** 32-bit FNV-1a: cheap, well spread, stable across processes and restarts. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The slot that owns `hostname` among `slots` (rendezvous hashing: removing a slot moves only its own hostnames). */
export function ownerSlot(hostname: string, slots: readonly number[]): number {
  let best = slots[0];
  let bestScore = -1;
  for (const slot of slots) {
    const score = fnv1a(`${hostname}#${slot}`);
    if (score > bestScore) {
      bestScore = score;
      best = slot;
    }
  }
  return best;
}

/** the end of a request head */
export const headEnd = Buffer.from('\r\n\r\n');

/** The host name the first request in `head` is for, read as the front reads it (front/host.ts); '' when none. */
export function hostOf(head: Buffer): string {
  const end = head.indexOf(headEnd);
  const text = head.toString('latin1', 0, end === -1 ? head.length : end);
  const lineEnd = text.indexOf('\r\n');
  const target = (lineEnd === -1 ? text : text.slice(0, lineEnd)).split(' ')[1] ?? '';
  const host = /\r\nhost:[ \t]*([^\r\n]*)/i.exec(text)?.[1]?.trim();
  const routed = requestTarget(target, host);
  return 'hostname' in routed ? routed.hostname : '';
}
