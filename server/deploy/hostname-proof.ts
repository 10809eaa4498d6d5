// How a tenant proves it controls a hostname, as Cloudflare for SaaS validates custom hostnames:
// it publishes a token islet gave it, either
//   - dns: a TXT record `_islet-challenge.<hostname>` whose value is the token (the only way for
//     `*.example.com`: the record goes on example.com and proves the whole zone), or
//   - http: the token as the body of `http://<hostname>/.well-known/islet-challenge/<token>`.
// `hostnames.verification` picks the method (`none`: tenants cannot prove, the operator assigns).
// The HTTP check goes out through the egress guard like a tenant's fetch (the hostname must not
// resolve to a loopback, private or metadata address), with no redirects, a time limit and a
// small body cap: asking islet to verify must not become a way to probe the network it runs in.
import dns from 'node:dns';
import { request } from 'undici';
import type { Config } from '../config';
import { EgressGuard } from '../host/egress';

export type ProofMethod = 'dns' | 'http';

export interface ProofSettings {
  verification: Config['hostnames']['verification'];
  httpPort: number;
  checkTimeoutMs: number;
  egress: Config['egress'];
}

export type ProofResult = { ok: true; method: ProofMethod } | { ok: false; method: ProofMethod; why: string };

/** what a tenant publishes, for the API's answers */
export function proofInstructions(hostname: string, token: string, settings: Pick<ProofSettings, 'httpPort'>) {
  const bare = hostname.startsWith('*.') ? hostname.slice(2) : hostname;
  const port = settings.httpPort === 80 ? '' : `:${settings.httpPort}`;
  return {
    dns: { name: `_islet-challenge.${bare}`, type: 'TXT', value: token },
    ...(hostname.startsWith('*.')
      ? {}
      : { http: { url: `http://${hostname}${port}/.well-known/islet-challenge/${token}`, body: token } }),
  };
}

/** the method `hostname` is proved with under `settings`, or null when tenants cannot prove any */
export function proofMethod(hostname: string, settings: Pick<ProofSettings, 'verification'>): ProofMethod | null {
  if (settings.verification === 'none') return null;
  return hostname.startsWith('*.') ? 'dns' : settings.verification;
}

export interface ProofDeps {
  /** TXT records of a name (tests point this at their own answers) */
  resolveTxt?: (name: string, timeoutMs: number) => Promise<string[][]>;
}

async function systemTxt(name: string, timeoutMs: number): Promise<string[][]> {
  const resolver = new dns.promises.Resolver({ timeout: timeoutMs, tries: 2 });
  return resolver.resolveTxt(name);
}

/** Looks for `token` where `hostname`'s method says; never throws. */
export async function proveHostname(
  hostname: string,
  token: string,
  settings: ProofSettings,
  deps: ProofDeps = {},
): Promise<ProofResult> {
  const method = proofMethod(hostname, settings);
  if (method === null)
    return { ok: false, method: 'dns', why: 'tenants cannot prove hostnames here: the operator assigns them' };
  try {
    return method === 'dns'
      ? await proveByDns(hostname, token, settings, deps)
      : await proveByHttp(hostname, token, settings);
  } catch (error) {
    return { ok: false, method, why: (error as Error).message };
  }
}

async function proveByDns(
  hostname: string,
  token: string,
  settings: ProofSettings,
  deps: ProofDeps,
): Promise<ProofResult> {
  const name = proofInstructions(hostname, token, settings).dns.name;
  let records: string[][];
  try {
    records = await (deps.resolveTxt ?? systemTxt)(name, settings.checkTimeoutMs);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, method: 'dns', why: `no TXT record at ${name} (DNS answered ${code})` };
  }
  const values = records.map((chunks) => chunks.join(''));
  if (values.includes(token)) return { ok: true, method: 'dns' };
  return {
    ok: false,
    method: 'dns',
    why: `the TXT records at ${name} do not hold the token (found ${values.length} other value${values.length === 1 ? '' : 's'})`,
  };
}

async function proveByHttp(hostname: string, token: string, settings: ProofSettings): Promise<ProofResult> {
  const url = proofInstructions(hostname, token, settings).http!.url;
  // the address is checked and then used as it is: a second lookup could answer differently
  const { address, family } = await new EgressGuard(settings.egress).resolve(hostname);
  const target = family === 6 ? `[${address}]` : address;
  const res = await request(`http://${target}:${settings.httpPort}/.well-known/islet-challenge/${token}`, {
    headers: { host: settings.httpPort === 80 ? hostname : `${hostname}:${settings.httpPort}` },
    headersTimeout: settings.checkTimeoutMs,
    bodyTimeout: settings.checkTimeoutMs,
    // connecting included; undici's request() follows no redirect
    signal: AbortSignal.timeout(settings.checkTimeoutMs),
  });
  let body = '';
  for await (const chunk of res.body) {
    body += chunk.toString();
    if (body.length > 1024) break;
  }
  res.body.destroy();
  if (res.statusCode === 200 && body.trim() === token) return { ok: true, method: 'http' };
  return {
    ok: false,
    method: 'http',
    why: `${url} answered ${res.statusCode}${res.statusCode === 200 ? ' without the token' : ''}`,
  };
}
