// Machine stops, told to the operator. On a virtual machine the host sometimes stops the whole
// guest for tens of milliseconds; whichever thread was running is charged the stop as CPU time.
// native/'s watchdog notices stops, takes them back from the CPU charged to tenants (so nobody
// is cut for CPU they did not use) and keeps a ledger; this logs the ledger's news as a warning,
// because a host that keeps stopping its guests makes every latency worse.
import type { Logger } from '../observe/server-log';
import { machineStalls, type MachineStalls } from '../host/isolate-api';

/** Checks the ledger every `intervalMs` and logs the stops since the last check. Returns a stop function. */
export function watchMachineStalls(
  logger: Logger,
  intervalMs = 10_000,
  read: () => MachineStalls | null = machineStalls,
): () => void {
  let last = read();
  if (!last?.detecting) return () => {};
  const timer = setInterval(() => {
    const now = read();
    if (!now || !last) return;
    const count = now.count - last.count;
    if (count > 0) {
      logger.warn('machine stalls: the host stopped this machine while islet was running', {
        stalls: count,
        stalledMs: Math.round((now.totalNs - last.totalNs) / 1e5) / 10,
        cpuCreditedMs: Math.round((now.creditedNs - last.creditedNs) / 1e5) / 10,
        totalStalls: now.count,
      });
    }
    last = now;
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
