// request.cf for one incoming request, as flat values the isolate turns into an object only when
// the function reads it (bridge/ops.ts CfFlat). Layers, each over the one before:
//   1. what islet knows itself: the HTTP version, TLS when islet terminated it, `cf.colo`;
//   2. the GeoIP databases (`cf.geoip`), looked up by the client's address: the peer's, or behind
//      a trusted proxy the one it reports (`cf.clientIpHeader`);
//   3. the `cf.headers` of a trusted proxy, field by field;
//   4. a trusted proxy's whole cf object as JSON in `cf.blobHeader` (workerd's cfBlobHeader).
// A peer that is not in `trustedProxies` can set none of them: the headers of layers 3 and 4 are
// removed from its request before the function sees it. The blob header is removed from a trusted
// peer's request too (it is islet's transport, not the client's); the field headers stay.
// With nothing configured, a request costs one lookup of its HTTP version.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { CfFlat } from '../../bridge/ops';
import type { Config } from '../../config';
import { GeoIp } from './geoip';
import { cfFieldTypes, parseCfHeaders, type CfField } from './settings';
import { TrustedProxies } from './trusted';

const protocols: Record<string, string> = { '1.1': 'HTTP/1.1', '1.0': 'HTTP/1.0', '2.0': 'HTTP/2', '0.9': 'HTTP/0.9' };
const protocolOf = (version: string): string => protocols[version] ?? `HTTP/${version}`;

export class CfPolicy {
  readonly #trusted: TrustedProxies;
  readonly #geo: GeoIp | null;
  readonly #colo: string;
  readonly #blobHeader: string;
  readonly #clientIpHeader: string;
  /** header name -> the field it sets */
  readonly #fieldOf = new Map<string, CfField>();
  /** the headers only a trusted peer may send (removed from anyone else's request) */
  readonly #guarded = new Set<string>();
  /** nothing beyond the HTTP version can ever be set: the hot path */
  readonly #plain: boolean;

  constructor(config: Pick<Config, 'trustedProxies' | 'cf'>, geo: GeoIp | null = null) {
    const { cf } = config;
    this.#trusted = new TrustedProxies(config.trustedProxies);
    this.#geo = geo;
    this.#colo = cf.colo;
    this.#blobHeader = cf.blobHeader;
    this.#clientIpHeader = cf.clientIpHeader;
    for (const [field, header] of parseCfHeaders(cf.headers)) {
      this.#fieldOf.set(header, field);
      this.#guarded.add(header);
    }
    if (cf.blobHeader) this.#guarded.add(cf.blobHeader);
    this.#plain = !geo && !cf.colo && this.#guarded.size === 0;
  }

  /** the policy of `config`, its GeoIP files opened */
  static async open(config: Pick<Config, 'trustedProxies' | 'cf'>): Promise<CfPolicy> {
    const geo = config.cf.geoip.length > 0 ? await GeoIp.open(config.cf.geoip) : null;
    return new CfPolicy(config, geo);
  }

  /** a trusted proxy header is configured although no proxy is trusted (worth a warning at start) */
  get headersWithoutProxies(): boolean {
    return this.#guarded.size > 0 && !this.#trusted.any;
  }

  /**
   * request.cf's values for `req`; removes from `headers` (flat, lower-case names) those the peer
   * may not send, and the blob header
   */
  apply(req: IncomingMessage, headers: string[]): CfFlat {
    const protocol = protocolOf(req.httpVersion);
    const socket = req.socket as TLSSocket;
    if (this.#plain && !socket.encrypted) return protocol;
    const trusted = this.#guarded.size > 0 || this.#geo ? this.#trusted.trusts(socket) : false;
    const out: (string | number | null)[] = [protocol, null];
    if (socket.encrypted) {
      const version = socket.getProtocol();
      if (version) out.push('tlsVersion', version);
      const cipher = socket.getCipher()?.name;
      if (cipher) out.push('tlsCipher', cipher);
    }
    if (this.#colo) out.push('colo', this.#colo);
    if (this.#geo) {
      const address = this.#clientAddress(req, headers, trusted);
      if (address) this.#geo.lookup(address, out as (string | number)[]);
    }
    if (this.#guarded.size > 0) this.#fromHeaders(headers, trusted, out);
    return out;
  }

  /** the peer's address, or behind a trusted peer the client's as it reports it */
  #clientAddress(req: IncomingMessage, headers: string[], trusted: boolean): string | null {
    const peer = req.socket.remoteAddress ?? null;
    if (!trusted || !this.#clientIpHeader) return peer;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i] === this.#clientIpHeader) return this.#trusted.clientAddress(headers[i]!, headers[i + 1]!) ?? peer;
    }
    return peer;
  }

  /** a trusted peer's field headers and blob into `out`; guarded headers out of an untrusted peer's request */
  #fromHeaders(headers: string[], trusted: boolean, out: (string | number | null)[]): void {
    let kept = 0;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (this.#guarded.has(name)) {
        if (!trusted) continue;
        if (name === this.#blobHeader) {
          if (out[1] === null) out[1] = value;
          continue;
        }
        const field = this.#fieldOf.get(name)!;
        if (cfFieldTypes[field] === 'number') {
          const n = Number(value);
          if (value.trim() !== '' && Number.isFinite(n)) out.push(field, n);
        } else out.push(field, value);
      }
      headers[kept++] = name;
      headers[kept++] = value;
    }
    headers.length = kept;
  }
}
