// The admin API as every CLI command calls it: the bearer token on each request, JSON answers
// parsed, and every failure turned into one CliError that says which call failed and why (the
// API's `{"error": {"code", "message"}}`, or why the server could not be reached).
import { CliError } from '../errors';
import type { AdminTarget } from './admin-target';

export interface Body {
  data: Buffer | string;
  type: string;
}

export class AdminClient {
  constructor(readonly target: AdminTarget) {}

  /** GET/POST/PUT/PATCH/DELETE `route`, answering its JSON (null for an empty body). */
  async json(method: string, route: string, body?: Body): Promise<any> {
    const response = await this.send(method, route, body);
    const text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new CliError(`${method} ${route}: the answer is not JSON: ${text.slice(0, 200)}`, 'ISLET_CLI_ADMIN_FAILED');
    }
  }

  /** The raw response of a call that succeeded (2xx); anything else throws. */
  async send(method: string, route: string, body?: Body, signal?: AbortSignal): Promise<Response> {
    const init: RequestInit = {
      method,
      headers: {
        authorization: `Bearer ${this.target.token}`,
        ...(body ? { 'content-type': body.type } : {}),
      },
    };
    if (body) init.body = body.data;
    if (signal) init.signal = signal;
    let response: Response;
    try {
      response = await fetch(`${this.target.url}${route}`, init);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach the admin API at ${this.target.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
        'ISLET_CLI_ADMIN_FAILED',
      );
    }
    if (response.ok) return response;
    const text = await response.text();
    let detail = text.slice(0, 500) || response.statusText;
    try {
      const parsed = JSON.parse(text) as { error?: { code: string; message: string } };
      if (parsed.error) detail = `${parsed.error.message} (${parsed.error.code})`;
    } catch {
      // not JSON: the text itself is the detail
    }
    throw new CliError(`${method} ${route} failed with ${response.status}: ${detail}`, 'ISLET_CLI_ADMIN_FAILED');
  }
}

/** `/v1/tenants/<name>` with the name encoded */
export const tenantRoute = (tenant: string, rest = ''): string => `/v1/tenants/${encodeURIComponent(tenant)}${rest}`;

/** `?a=1&b=x` from the defined values (arrays repeat the key); '' when none */
export function queryString(params: Record<string, string | string[] | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
  }
  const s = search.toString();
  return s ? `?${s}` : '';
}
