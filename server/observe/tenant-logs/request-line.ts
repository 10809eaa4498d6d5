// The request log line, written once per finished request, serialized by hand: building a
// record object and running JSON.stringify over it was most of the cost of logging a request.
// The output is exactly what JSON.stringify gives for the record
//   { time, level, msg: 'request', tenant, deployment, requestId, source: 'request', method,
//     path, status, cpuMs, wallMs, cold }
// (same keys, same order, undefined fields left out, times rounded to the microsecond), so
// every reader of the log (`islet logs`, the dashboard, log shippers) sees the same JSON.
// Strings go through JSON.stringify, whose escaping is the reference: a path may carry quotes,
// backslashes or control characters, and tenant names are escaped even though they are
// validated identifiers, since it costs little.
import type { Level } from '../server-log';

export interface RequestLogLine {
  tenant: string;
  deployment: string;
  requestId: string;
  method: string;
  /** path and query of the request URL */
  path: string;
  status: number;
  cpuMs: number;
  wallMs: number;
  cold: boolean;
}

/** milliseconds kept to the microsecond: the addon's nanoseconds are noise past that */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** characters JSON.stringify escapes in a string (lone surrogates are escaped too) */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are exactly what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** a string as JSON: most need no escaping, and a test is cheaper than JSON.stringify */
function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

// Consecutive request lines mostly share their start (the same millisecond and level) and
// their owner (the same tenant deployment): each is kept from the line before, flat, and
// compared by identity or short content rather than escaped and concatenated again.
let headTime = '';
let headLevel = '';
let head = '';
let ownerTenant = '';
let ownerDeployment = '';
let owner = '';

function flat(text: string): string {
  // reading a character makes V8 flatten a concatenation's rope in place
  text.charCodeAt(0);
  return text;
}

/** the level a request line is written at: server errors stand out as warnings */
export function requestLevel(status: number): Level {
  return status >= 500 ? 'warn' : 'info';
}

/**
 * The JSON line of one finished request; `time` is an ISO 8601 timestamp (isoNow()).
 * The line is flat: a concatenation leaves a rope of ~25 pieces, several times the size of the
 * text, and the tenant's log ring keeps the line for a while.
 */
export function requestLine(time: string, level: Level, r: RequestLogLine): string {
  const { tenant, deployment, requestId, method, path, status, cold } = r;
  const cpuMs = roundMs(r.cpuMs);
  const wallMs = roundMs(r.wallMs);
  if (
    typeof tenant !== 'string' ||
    typeof deployment !== 'string' ||
    typeof requestId !== 'string' ||
    typeof method !== 'string' ||
    typeof path !== 'string' ||
    !Number.isFinite(status) ||
    !Number.isFinite(cpuMs) ||
    !Number.isFinite(wallMs) ||
    typeof cold !== 'boolean'
  ) {
    // a field missing or not of its declared type (a caller bug, or no request id): the
    // reference serializer, so the line is still exactly what it has always been
    return JSON.stringify({
      time,
      level,
      msg: 'request',
      tenant,
      deployment,
      requestId,
      source: 'request',
      method,
      path,
      status,
      cpuMs,
      wallMs,
      cold,
    });
  }
  if (time !== headTime || level !== headLevel) {
    // time (an ISO string) and level (a fixed word) need no escaping
    head = flat('{"time":"' + time + '","level":"' + level + '","msg":"request","tenant":');
    headTime = time;
    headLevel = level;
  }
  if (tenant !== ownerTenant || deployment !== ownerDeployment) {
    owner = flat(quote(tenant) + ',"deployment":' + quote(deployment) + ',"requestId":');
    ownerTenant = tenant;
    ownerDeployment = deployment;
  }
  // a finite number concatenated is written as JSON writes it (-0 as 0 included)
  return flat(
    head +
      owner +
      quote(requestId) +
      ',"source":"request","method":' +
      quote(method) +
      ',"path":' +
      quote(path) +
      ',"status":' +
      status +
      ',"cpuMs":' +
      cpuMs +
      ',"wallMs":' +
      wallMs +
      ',"cold":' +
      cold +
      '}',
  );
}
