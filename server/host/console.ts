// The tenant's console output, on its way to the tenant's logs (SandboxOptions.log). Each
// request may write `logBytes` of message text, and top-level code (no request) as much again;
// past it, records are dropped and one notice says so.
import type { HostOpHandlers, RequestRun } from './run';
import type { SandboxOptions, TenantLogRecord } from './types';

const levels = new Set(['debug', 'info', 'log', 'warn', 'error']);

export class TenantConsole {
  readonly #options: SandboxOptions;
  /** output of top-level code, capped like a request's */
  #topLevelBytes = 0;
  #topLevelNotice = false;

  constructor(options: SandboxOptions) {
    this.#options = options;
  }

  readonly ops: HostOpHandlers<'log'> = {
    log: (caller, level, message) => this.log(caller, level, message),
  };

  /** one console record of `run` (null: top-level code, or islet's own note about the isolate) */
  log(run: RequestRun | null, level: string, message: string): void {
    const text = String(message);
    const cap = (run?.limits ?? this.#options.limits).logBytes;
    const used = run ? (run.logBytes += text.length) : (this.#topLevelBytes += text.length);
    if (used > cap) {
      const noticed = run ? run.logNoticeSent : this.#topLevelNotice;
      if (noticed) return;
      if (run) run.logNoticeSent = true;
      else this.#topLevelNotice = true;
      const scope = run ? 'request' : 'isolate';
      this.#emit(run, 'warn', `islet: console output past ${cap} bytes dropped for this ${scope}`);
      return;
    }
    this.#emit(run, levels.has(level) ? (level as TenantLogRecord['level']) : 'log', text);
  }

  #emit(run: RequestRun | null, level: TenantLogRecord['level'], message: string): void {
    const { tenant, deployment } = this.#options;
    const record: TenantLogRecord = { level, message, tenant, deployment };
    if (run) record.requestId = run.request.id;
    try {
      this.#options.log(record);
    } catch {
      // a failing log sink must not break the tenant's request
    }
  }
}
