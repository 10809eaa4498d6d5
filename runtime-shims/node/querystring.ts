// node:querystring: `querystring-es3`, Node's querystring module published standalone, with
// escape/unescape (added to Node after that port was made).
import qs from 'querystring-es3';

export const parse = (qs as any).parse;
export const stringify = (qs as any).stringify;
export const decode = parse;
export const encode = stringify;
// biome-ignore lint/suspicious/noShadowRestrictedNames: Node's querystring exports these names
export const escape = (text: string) => encodeURIComponent(text);
// biome-ignore lint/suspicious/noShadowRestrictedNames: Node's querystring exports these names
export function unescape(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return unescape2(text);
  }
}
// like Node's unescapeBuffer: a malformed sequence stays as it is
function unescape2(text: string): string {
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
export default { parse, stringify, decode, encode, escape, unescape };
