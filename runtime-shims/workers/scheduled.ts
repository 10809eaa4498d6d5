// What a `scheduled` handler gets when a cron trigger fires: the ScheduledController of module
// workers (`scheduled(controller, env, ctx)`) and the ScheduledEvent of classic scripts
// (`addEventListener('scheduled', (event) => ...)`). noRetry() tells the host not to run a
// failed run again.
import { host } from '../internal/bridge';
import { SafeTypeError } from '../internal/primordials';
import { Event } from '../events/event-target';

const illegal = Symbol('illegal');
let makeController: (id: number, cron: string, scheduledTime: number) => ScheduledController;
let makeEvent: (controller: ScheduledController, waitUntil: (p: unknown) => void) => ScheduledEvent;

export class ScheduledController {
  #id: number;
  #cron: string;
  #scheduledTime: number;

  constructor(key?: unknown, id?: number, cron?: string, scheduledTime?: number) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
    this.#id = id!;
    this.#cron = cron!;
    this.#scheduledTime = scheduledTime!;
  }

  get cron(): string {
    return this.#cron;
  }

  get scheduledTime(): number {
    return this.#scheduledTime;
  }

  noRetry(): void {
    host('noRetry', this.#id);
  }

  static {
    makeController = (id, cron, time) => new ScheduledController(illegal, id, cron, time);
  }
}

export class ScheduledEvent extends Event {
  #controller: ScheduledController;
  #waitUntil: (p: unknown) => void;

  constructor(key?: unknown, controller?: ScheduledController, waitUntil?: (p: unknown) => void) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
    super('scheduled');
    this.#controller = controller!;
    this.#waitUntil = waitUntil!;
  }

  get cron(): string {
    return this.#controller.cron;
  }

  get scheduledTime(): number {
    return this.#controller.scheduledTime;
  }

  noRetry(): void {
    this.#controller.noRetry();
  }

  waitUntil(promise: unknown): void {
    this.#waitUntil(promise);
  }

  static {
    makeEvent = (controller, waitUntil) => new ScheduledEvent(illegal, controller, waitUntil);
  }
}

export function createScheduledController(id: number, cron: string, scheduledTime: number): ScheduledController {
  return makeController(id, cron, scheduledTime);
}

export function createScheduledEvent(controller: ScheduledController, waitUntil: (p: unknown) => void): ScheduledEvent {
  return makeEvent(controller, waitUntil);
}
