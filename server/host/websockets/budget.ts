// A tenant's WebSocket allowance in one process, shared by every isolate of the tenant (a redeploy
// leaves the old isolate's sockets open while the new one takes more): how many sockets it holds
// against `webSockets`, and its messages per second in each direction against
// `webSocketMessagesPerSecond`, as token buckets that hold one second of messages. A message past
// the rate is not refused: it waits (inbound reads pause, outbound sends queue), which bounds what
// a flood costs the host without losing a well-behaved client's burst. The messages that passed are
// counted here and read by the metrics when Prometheus scrapes (nothing per message beyond a sum).
import { webSocketLimits, type WebSocketLimits } from './limits';
import type { Limits } from '../../config';

export type SocketDirection = 'inbound' | 'outbound';

/** messages per second with a burst of one second's worth */
class TokenBucket {
  #tokens: number;
  #last = performance.now();

  constructor(public rate: number) {
    this.#tokens = rate;
  }

  /** 0: one token taken; otherwise the ms until one is there (nothing taken) */
  take(): number {
    const now = performance.now();
    this.#tokens = Math.min(this.rate, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.rate));
  }
}

export class WebSocketBudget {
  readonly tenant: string;
  #limits: WebSocketLimits;
  #open = 0;
  readonly #rates: Record<SocketDirection, TokenBucket>;
  /** messages that passed since the budget was made, per direction */
  readonly messages: Record<SocketDirection, number> = { inbound: 0, outbound: 0 };

  constructor(tenant: string, limits: Partial<Limits>) {
    this.tenant = tenant;
    this.#limits = webSocketLimits(limits);
    const rate = this.#limits.messagesPerSecond;
    this.#rates = { inbound: new TokenBucket(rate), outbound: new TokenBucket(rate) };
  }

  /** the tenant's limits changed (a new isolate with new limits): the newest apply */
  configure(limits: Partial<Limits>): void {
    this.#limits = webSocketLimits(limits);
    this.#rates.inbound.rate = this.#rates.outbound.rate = this.#limits.messagesPerSecond;
  }

  get limits(): WebSocketLimits {
    return this.#limits;
  }

  /** sockets open now */
  get open(): number {
    return this.#open;
  }

  /** no socket can be opened now */
  get full(): boolean {
    return this.#open >= this.#limits.sockets;
  }

  /** takes a socket slot: false when the tenant already holds its limit */
  acquire(): boolean {
    if (this.full) return false;
    this.#open++;
    return true;
  }

  release(): void {
    if (this.#open > 0) this.#open--;
  }

  /** a message that went without waiting for the rate (what a close flushes): counted */
  passed(direction: SocketDirection): void {
    this.messages[direction]++;
  }

  /** 0: a message may pass now (and is counted); otherwise the ms until one may */
  take(direction: SocketDirection): number {
    const wait = this.#rates[direction].take();
    if (wait === 0) this.messages[direction]++;
    return wait;
  }
}
