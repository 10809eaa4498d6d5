// The events of one host socket waiting for the isolate, in arrival order: a queue whose shift is
// O(1) (a flood of small messages waits here while the tenant's inbound rate paces it, so an
// Array#shift per message would cost O(n) each).

export type SocketEvent =
  | { kind: 'message'; data: string | Uint8Array }
  | { kind: 'close'; code: number; reason: string; clean: boolean }
  | { kind: 'error'; message: string };

export class EventQueue {
  #items: (SocketEvent | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(event: SocketEvent): void {
    this.#items.push(event);
  }

  peek(): SocketEvent | undefined {
    return this.#items[this.#head];
  }

  shift(): SocketEvent | undefined {
    const event = this.#items[this.#head];
    if (event === undefined) return undefined;
    this.#items[this.#head++] = undefined;
    // compact once the consumed part is most of the array
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return event;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
