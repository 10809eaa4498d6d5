// The WebSocket limits of a tenant (config.ts `limits.webSocket*`), with their defaults in one
// place: a loaded config always carries them (config/default.json), limits made by hand (tests,
// the deploy-time load) may not, and get the same values here.
import type { Limits } from '../../config';

export interface WebSocketLimits {
  /** bytes of one message, either direction */
  messageBytes: number;
  /** messages per second over all of the tenant's sockets in one process, each direction */
  messagesPerSecond: number;
  /** no message either way for this long closes the socket */
  idleMs: number;
  /** sockets the tenant holds open at once in one process */
  sockets: number;
  /** bytes sent to one socket its peer has not taken yet */
  bufferBytes: number;
  /** CPU time of the work one inbound message starts */
  messageCpuMs: number;
}

/** the values of config/default.json */
export const webSocketDefaults: WebSocketLimits = {
  messageBytes: 1 << 20,
  messagesPerSecond: 2000,
  idleMs: 300_000,
  sockets: 256,
  bufferBytes: 2 << 20,
  messageCpuMs: 50,
};

export function webSocketLimits(limits: Partial<Limits>): WebSocketLimits {
  return {
    messageBytes: limits.webSocketMessageBytes ?? webSocketDefaults.messageBytes,
    messagesPerSecond: limits.webSocketMessagesPerSecond ?? webSocketDefaults.messagesPerSecond,
    idleMs: limits.webSocketIdleMs ?? webSocketDefaults.idleMs,
    sockets: limits.webSockets ?? webSocketDefaults.sockets,
    bufferBytes: limits.webSocketBufferBytes ?? webSocketDefaults.bufferBytes,
    messageCpuMs: limits.webSocketMessageCpuMs ?? webSocketDefaults.messageCpuMs,
  };
}
