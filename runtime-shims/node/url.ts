// node:url: the WHATWG classes (the platform's own URL and URLSearchParams), the legacy
// parse/format/resolve of the `url` package (Node's url.js published standalone; islet points its
// query-string parser at Node's querystring), and the file URL helpers.
import urlPackage from 'url/';
import punycode from 'punycode/';

const legacy = urlPackage as any;

export const URL = globalThis.URL;
export const URLSearchParams = globalThis.URLSearchParams;
export const Url = legacy.Url;
export const parse = legacy.parse;
export const resolve = legacy.resolve;
export const resolveObject = legacy.resolveObject;

export function format(
  value: unknown,
  options?: { auth?: boolean; fragment?: boolean; search?: boolean; unicode?: boolean },
): string {
  if (value instanceof URL) {
    const url = new URL(value.href);
    if (options?.auth === false) {
      url.username = '';
      url.password = '';
    }
    if (options?.fragment === false) url.hash = '';
    if (options?.search === false) url.search = '';
    return url.href;
  }
  return legacy.format(value);
}

export function fileURLToPath(value: string | URL): string {
  const url = typeof value === 'string' ? new URL(value) : value;
  if (url.protocol !== 'file:') throw new TypeError('The URL must be of scheme file');
  if (url.hostname !== '') throw new TypeError('File URL host must be "localhost" or empty on linux');
  const pathname = url.pathname;
  if (/%2f/i.test(pathname)) throw new TypeError('File URL path must not include encoded / characters');
  return decodeURIComponent(pathname);
}

export function pathToFileURL(path: string): URL {
  const absolute = path.startsWith('/') ? path : `/${path}`;
  const url = new URL('file://');
  url.pathname = absolute
    .replace(/%/g, '%25')
    .replace(/\\/g, '%5C')
    .replace(/\n/g, '%0A')
    .replace(/\r/g, '%0D')
    .replace(/\t/g, '%09');
  return url;
}

export function domainToASCII(domain: string): string {
  try {
    return new URL(`http://${domain}`).hostname;
  } catch {
    return '';
  }
}

export function domainToUnicode(domain: string): string {
  const ascii = domainToASCII(domain);
  return ascii && (punycode as any).toUnicode(ascii);
}

export function urlToHttpOptions(url: URL): Record<string, unknown> {
  const options: Record<string, unknown> = {
    protocol: url.protocol,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    hash: url.hash,
    search: url.search,
    pathname: url.pathname,
    path: `${url.pathname || ''}${url.search || ''}`,
    href: url.href,
  };
  if (url.port !== '') options.port = Number(url.port);
  if (url.username || url.password)
    options.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return options;
}

export default {
  URL,
  URLSearchParams,
  Url,
  parse,
  resolve,
  resolveObject,
  format,
  fileURLToPath,
  pathToFileURL,
  domainToASCII,
  domainToUnicode,
  urlToHttpOptions,
};
