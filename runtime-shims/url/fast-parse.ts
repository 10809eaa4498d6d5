// A fast path for the URLs functions parse most: absolute http(s) URLs made of plain ASCII that
// need no percent-encoding, no IDNA, no IPv4/IPv6 host parsing and no dot-segment removal. For
// those the WHATWG algorithm reduces to splitting and lower-casing, done here without crossing
// the bridge (a host parse costs ~10 µs, this ~0.5 µs). Anything else returns null and goes to
// Node's parser. test/shims/url.test.ts checks both paths against each other and against WPT.
import { RegExpPrototypeExec, StringPrototypeToLowerCase, StringPrototypeIncludes } from '../internal/primordials';

// scheme://host[:port][path][?query][#fragment], each part restricted to characters the parser
// copies unchanged (no ', ", <, >, `, {, }, |, \, ^, space, controls or non-ASCII)
const simple = new RegExp(
  String.raw`^(https?):\/\/([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?` +
    String.raw`(\/[A-Za-z0-9\-._~!$&()*+,;=:@/%]*)?` +
    String.raw`(?:\?([A-Za-z0-9\-._~!$&()*+,;=:@/?%]*))?` +
    String.raw`(?:#([A-Za-z0-9\-._~!$&()*+,;=:@/?%#]*))?$`,
  'i',
);
const ipv4ish = /(^|\.)(0x[0-9a-f]*|[0-9]+)\.?$/i;
const dotSegment = /\/\.{1,2}(\/|$)|%2e/i;

/** components in the order url.ts reads them, or null when the full parser is needed */
export function fastParse(input: string): string[] | null {
  const m = RegExpPrototypeExec(simple, input);
  if (m === null) return null;
  const scheme = StringPrototypeToLowerCase(m[1]);
  const hostname = StringPrototypeToLowerCase(m[2]);
  // empty labels, punycode (needs validation) and numeric last labels (IPv4 rules) go to Node
  if (
    hostname.length === 0 ||
    hostname[0] === '.' ||
    StringPrototypeIncludes(hostname, '..') ||
    StringPrototypeIncludes(hostname, 'xn--') ||
    RegExpPrototypeExec(ipv4ish, hostname) !== null
  )
    return null;
  let port = '';
  if (m[3] !== undefined) {
    const n = +m[3];
    if (n > 65535) return null;
    if (!((scheme === 'http' && n === 80) || (scheme === 'https' && n === 443))) port = '' + n;
  }
  const pathname = m[4] === undefined ? '/' : m[4];
  if (RegExpPrototypeExec(dotSegment, pathname) !== null) return null;
  const query = m[5];
  const fragment = m[6];
  const protocol = scheme + ':';
  const host = port === '' ? hostname : hostname + ':' + port;
  const origin = protocol + '//' + host;
  let href = origin + pathname;
  if (query !== undefined) href += '?' + query;
  if (fragment !== undefined) href += '#' + fragment;
  return [
    href,
    origin,
    protocol,
    '',
    '',
    host,
    hostname,
    port,
    pathname,
    query ? '?' + query : '',
    fragment ? '#' + fragment : '',
  ];
}
