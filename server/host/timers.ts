// setTimeout/setInterval on the host: the host owns the clock, so each timer belongs to the
// request that set it and fires by entering the isolate charged to that request; the timers of
// a finished request are dropped (the isolate's `finish` entry forgets their callbacks). Outside
// a request nobody's budget would pay for the callbacks: as in Workers, timers exist only while
// a request is being handled.
import type { IsolateEntry } from './entry';
import type { HostOpHandlers, RequestRun, RunResources } from './run';

/** the longest delay Node's timers take (about 24.8 days) */
const MAX_DELAY = 2 ** 31 - 1;

export class HostTimers implements RunResources {
  readonly #entry: IsolateEntry;
  readonly #timers = new Map<number, { run: RequestRun; handle: NodeJS.Timeout }>();

  constructor(entry: IsolateEntry) {
    this.#entry = entry;
  }

  readonly ops: HostOpHandlers<'timer' | 'clearTimer'> = {
    timer: (caller, id, ms, repeat) => {
      if (!caller) {
        throw new Error('setTimeout/setInterval can only be used while handling a request (not in top-level code)');
      }
      this.#set(caller, id, ms, repeat);
    },
    clearTimer: (_caller, id) => this.#clear(id),
  };

  #set(run: RequestRun, id: number, ms: number, repeat: boolean): void {
    const delay = Math.min(Math.max(0, Number(ms) || 0), MAX_DELAY);
    const fire = () => {
      if (!repeat) {
        this.#timers.delete(id);
        run.timers.delete(id);
      }
      this.#entry.enter(run, 'fire', [id]);
    };
    const handle = repeat ? setInterval(fire, Math.max(1, delay)) : setTimeout(fire, delay);
    this.#timers.set(id, { run, handle });
    run.timers.add(id);
  }

  #clear(id: number): void {
    const timer = this.#timers.get(id);
    if (!timer) return;
    clearTimeout(timer.handle);
    this.#timers.delete(id);
    timer.run.timers.delete(id);
  }

  releaseRun(run: RequestRun): void {
    for (const id of [...run.timers]) this.#clear(id);
  }

  dispose(): void {
    for (const { handle } of this.#timers.values()) clearTimeout(handle);
    this.#timers.clear();
  }
}
