// What a message table of the IPC channel is made of, and the envelope every message travels in.
// A protocol (islet's is server/cluster/messages.ts) declares, per direction, its requests (an
// argument, an answer, how long the asker waits) and its one-way notices; the channel's two ends
// (primary-channel.ts, worker-channel.ts) are typed by it, so a message that is not declared,
// an argument of the wrong shape or an answer read as the wrong type does not compile. At run
// time the envelope carries the protocol's name, so two protocols can share one process's IPC
// pipe (a test's own next to islet's) without reading each other's messages.

/** A request: `Args` go one way, one `Answer` comes back, or the asker stops waiting after `timeoutMs`. */
export interface RequestSpec<Args, Answer> {
  readonly timeoutMs: number;
  /** never set: carries the types */
  readonly types?: (args: Args) => Answer;
}

/**
 * A one-way notice. A `lossy` notice is dropped (and counted) while the receiver is behind, so
 * a flood of them (log lines) can never queue without bound; other notices always go.
 */
export interface NoticeSpec<Args> {
  readonly lossy: boolean;
  readonly types?: (args: Args) => void;
}

export function request<Args, Answer>(timeoutMs: number): RequestSpec<Args, Answer> {
  if (!(timeoutMs > 0)) throw new RangeError(`cluster: a request's timeout must be positive, got ${timeoutMs}`);
  return { timeoutMs };
}

export function notice<Args>(options: { lossy?: boolean } = {}): NoticeSpec<Args> {
  return { lossy: options.lossy ?? false };
}

// Any request or notice spec (`never` arguments: every argument type is assignable to them).
type AnyRequest = RequestSpec<never, unknown>;
type AnyNotice = NoticeSpec<never>;

/** Every message of one protocol, by direction. */
export interface Protocol {
  /** sent in every envelope: a channel reads only its own protocol's messages */
  readonly name: string;
  /** what the primary asks workers (usually every worker at once) */
  readonly workerRequests: Readonly<Record<string, AnyRequest>>;
  /** what a worker asks the primary */
  readonly primaryRequests: Readonly<Record<string, AnyRequest>>;
  /** what the primary tells workers */
  readonly workerNotices: Readonly<Record<string, AnyNotice>>;
  /** what workers tell the primary */
  readonly primaryNotices: Readonly<Record<string, AnyNotice>>;
}

export type ArgsOf<Spec> =
  Spec extends RequestSpec<infer Args, unknown> ? Args : Spec extends NoticeSpec<infer Args> ? Args : never;
export type AnswerOf<Spec> = Spec extends RequestSpec<never, infer Answer> ? Answer : never;

/** What a handler of request `Spec` returns. */
export type Answering<Spec> = AnswerOf<Spec> | Promise<AnswerOf<Spec>>;

/** A message on the pipe. `channel` is the protocol's name; `id` pairs an answer with its ask. */
export type Envelope =
  | { channel: string; type: 'ask'; id: number; kind: string; args?: unknown }
  | { channel: string; type: 'answer'; id: number; ok: true; value?: unknown }
  | { channel: string; type: 'answer'; id: number; ok: false; error: string }
  | { channel: string; type: 'notice'; kind: string; args?: unknown };

export function isEnvelopeOf(protocol: Protocol, message: unknown): message is Envelope {
  return (
    typeof message === 'object' && message !== null && (message as { channel?: unknown }).channel === protocol.name
  );
}
