// console: every call becomes one structured log record on the host (level + message). The host
// attributes it to the request being served and enforces the per-request volume cap.
import { host } from '../internal/bridge';
import { format, inspect } from './format';
import { SafeMap, MapPrototypeGet, MapPrototypeSet, MapPrototypeDelete } from '../internal/primordials';

type Level = 'debug' | 'info' | 'log' | 'warn' | 'error';
const MAX_MESSAGE = 16384;

function emit(level: Level, args: unknown[]): void {
  let message: string;
  try {
    message = format(args);
  } catch {
    message = '[unformattable console arguments]';
  }
  // the host caps output per request anyway; cutting here keeps one huge message from being
  // copied across the bridge only to be dropped
  if (message.length > MAX_MESSAGE)
    message = message.slice(0, MAX_MESSAGE) + `… [${message.length - MAX_MESSAGE} more characters]`;
  host('log', level, groupIndent + message);
}

let groupIndent = '';
const counts = new SafeMap<string, number>();
const timers = new SafeMap<string, number>();

export function createConsole(now: () => number): Console {
  const console = {
    log: (...args: unknown[]) => emit('log', args),
    info: (...args: unknown[]) => emit('info', args),
    debug: (...args: unknown[]) => emit('debug', args),
    warn: (...args: unknown[]) => emit('warn', args),
    error: (...args: unknown[]) => emit('error', args),
    trace: (...args: unknown[]) =>
      emit('debug', ['Trace:', ...args, '\n' + (new Error().stack ?? '').split('\n').slice(2).join('\n')]),
    dir: (value: unknown) => emit('log', [inspect(value, 4, [undefined])]),
    dirxml: (...args: unknown[]) => emit('log', args),
    table: (data: unknown) => emit('log', [data]),
    assert: (condition: unknown, ...args: unknown[]) => {
      if (!condition) emit('error', ['Assertion failed' + (args.length ? ':' : ''), ...args]);
    },
    count: (label = 'default') => {
      const n = (MapPrototypeGet(counts, String(label)) ?? 0) + 1;
      MapPrototypeSet(counts, String(label), n);
      emit('info', [`${label}: ${n}`]);
    },
    countReset: (label = 'default') => {
      MapPrototypeDelete(counts, String(label));
    },
    group: (...args: unknown[]) => {
      if (args.length) emit('log', args);
      groupIndent += '  ';
    },
    groupCollapsed: (...args: unknown[]) => console.group(...args),
    groupEnd: () => {
      groupIndent = groupIndent.slice(2);
    },
    time: (label = 'default') => {
      MapPrototypeSet(timers, String(label), now());
    },
    timeLog: (label = 'default', ...args: unknown[]) => {
      const start = MapPrototypeGet(timers, String(label));
      if (start === undefined) emit('warn', [`No such label '${label}' for console.timeLog()`]);
      else emit('info', [`${label}: ${(now() - start).toFixed(3)}ms`, ...args]);
    },
    timeEnd: (label = 'default') => {
      const start = MapPrototypeGet(timers, String(label));
      if (start === undefined) return emit('warn', [`No such label '${label}' for console.timeEnd()`]);
      MapPrototypeDelete(timers, String(label));
      emit('info', [`${label}: ${(now() - start).toFixed(3)}ms`]);
    },
    clear: () => {},
  };
  return console as unknown as Console;
}
