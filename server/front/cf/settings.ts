// The request.cf settings checked at load (server/config.ts calls cfProblems): which fields a
// trusted proxy may set through a header and of what type each is, the `field=header` pairs of
// `cf.headers`, the trusted proxy list and the GeoIP files. Each problem names its setting.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../../config';
import { addAddressRule } from '../../host/egress';

/**
 * The request.cf fields islet fills (Workers' IncomingRequestCfProperties): strings, except the
 * numbers. Anything else a trusted proxy wants to say goes through the JSON blob header.
 */
export const cfFieldTypes = {
  httpProtocol: 'string',
  tlsVersion: 'string',
  tlsCipher: 'string',
  clientTcpRtt: 'number',
  clientAcceptEncoding: 'string',
  requestPriority: 'string',
  edgeRequestKeepAliveStatus: 'number',
  colo: 'string',
  country: 'string',
  isEUCountry: 'string',
  city: 'string',
  continent: 'string',
  region: 'string',
  regionCode: 'string',
  postalCode: 'string',
  metroCode: 'string',
  timezone: 'string',
  latitude: 'string',
  longitude: 'string',
  asn: 'number',
  asOrganization: 'string',
} as const;

export type CfField = keyof typeof cfFieldTypes;

const headerName = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** `cf.headers` as [field, header] pairs; throws on the first bad entry */
export function parseCfHeaders(entries: readonly string[]): [CfField, string][] {
  const pairs: [CfField, string][] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const field = entry.slice(0, eq).trim();
    const header = entry
      .slice(eq + 1)
      .trim()
      .toLowerCase();
    if (eq < 0 || !field || !header) throw new Error(`"${entry}": expected field=header, e.g. country=x-geo-country`);
    if (!Object.hasOwn(cfFieldTypes, field)) {
      throw new Error(`"${entry}": unknown field ${field} (known: ${Object.keys(cfFieldTypes).join(', ')})`);
    }
    if (!headerName.test(header)) throw new Error(`"${entry}": ${header} is not a header name`);
    if (seen.has(field)) throw new Error(`"${entry}": field ${field} is named twice`);
    seen.add(field);
    pairs.push([field as CfField, header]);
  }
  return pairs;
}

/** every problem of the trustedProxies and cf.* settings; resolves cf.geoip against `cwd` */
export function cfProblems(config: Config, cwd: string): string[] {
  const problems: string[] = [];
  const list = new net.BlockList();
  for (const entry of config.trustedProxies) {
    try {
      if (!addAddressRule(list, entry.trim(), 'entry')) {
        problems.push(`trustedProxies (ISLET_TRUSTED_PROXIES): "${entry}" is not an IP address or CIDR`);
      }
    } catch (error) {
      problems.push(`trustedProxies (ISLET_TRUSTED_PROXIES): ${(error as Error).message}`);
    }
  }
  try {
    const headers = parseCfHeaders(config.cf.headers).map(([, header]) => header);
    if (config.cf.blobHeader && headers.includes(config.cf.blobHeader)) {
      problems.push(`cf.headers (ISLET_CF_HEADERS): ${config.cf.blobHeader} is also cf.blobHeader`);
    }
  } catch (error) {
    problems.push(`cf.headers (ISLET_CF_HEADERS): ${(error as Error).message}`);
  }
  config.cf.geoip = config.cf.geoip.map((file) => path.resolve(cwd, file));
  for (const file of config.cf.geoip) {
    if (!fs.existsSync(file)) problems.push(`cf.geoip (ISLET_CF_GEOIP): ${file} does not exist`);
  }
  return problems;
}
