// node:timers: the platform's timers (host timers attributed to the request, as every timer in
// islet), with `setImmediate` as a zero-delay timer. Timers exist only while a request runs.
import { promises } from './timers-promises';

export const setTimeout = globalThis.setTimeout;
export const clearTimeout = globalThis.clearTimeout;
export const setInterval = globalThis.setInterval;
export const clearInterval = globalThis.clearInterval;
export function setImmediate(callback: (...args: unknown[]) => void, ...args: unknown[]): number {
  return globalThis.setTimeout(callback, 0, ...args) as unknown as number;
}
export function clearImmediate(id: number): void {
  globalThis.clearTimeout(id);
}
export { promises };
export default { setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate, promises };
