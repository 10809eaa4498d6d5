// `islet tokens`: the credentials the operator hands out (operator token required).
//   islet tokens create <t> [--description D]    a deploy token of tenant t: deploy, env, logs of t only
//   islet tokens list <t>
//   islet tokens revoke <t> <id>
//   islet tokens create --scrape                  a read-only token for Prometheus: GET /metrics only
// A new deploy token is printed once (stored hashed on the server); with --json, as {"id", "token"}.
// A scrape token is made here and lives in the server's configuration (`scrapeTokens`, as its
// sha256), so every node of a cluster accepts it and revoking it is removing that line.
import { createHash, randomBytes } from 'node:crypto';
import { CliError } from '../errors';
import { tenantRoute } from './admin-client';
import { type CommandModule, clientFor, commonHelp, parseCommand, print, table } from './command';

export const usage: Record<string, string> = {
  tokens: `usage: islet tokens create <tenant> [--description TEXT]
       islet tokens list <tenant>
       islet tokens revoke <tenant> <id>
       islet tokens create --scrape

Deploy tokens act on one tenant only (deploy, env, logs); they need the operator token to
manage and are shown once (the server keeps only their hash).

A scrape token can read GET /metrics and nothing else, for a Prometheus that should not hold the
operator token. 'create --scrape' makes one here and prints it with the line that enables it:
ISLET_SCRAPE_TOKENS=sha256:<hex> in the server's environment (or "scrapeTokens" in its config
file; several are comma-separated). Revoke it by removing that entry and restarting.

options:
  --scrape              make a metrics scrape token
  --description TEXT    a note kept with a deploy token (who or what holds it)
${commonHelp}`,
};

interface TokenInfo {
  id: string;
  createdAt: string;
  description?: string;
}

async function tokens(args: string[]): Promise<void> {
  const help = usage.tokens!;
  const parsed = parseCommand('tokens', help, args, {
    scrape: { type: 'boolean', default: false },
    description: { type: 'string' },
  });
  if (!parsed) return;
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  const scrape: boolean = values.scrape;
  if (scrape) {
    if (action !== 'create' || rest.length > 0)
      throw new CliError(
        "islet tokens --scrape: only 'create' (a scrape token is revoked by removing it from the server's scrapeTokens)",
      );
    const token = `islet_scrape_${randomBytes(32).toString('base64url')}`;
    const hash = `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
    return print(
      values.json,
      { token, hash, setting: `ISLET_SCRAPE_TOKENS=${hash}` },
      () =>
        `${token}\n` +
        '(a metrics scrape token: give it to Prometheus as its bearer token, and enable it on the server with\n' +
        ` ISLET_SCRAPE_TOKENS=${hash}\n` +
        ' or "scrapeTokens": ["' +
        hash +
        '"] in its config file; it is not stored anywhere else)',
    );
  }
  const need = (count: number, what: string) => {
    if (rest.length !== count) throw new CliError(`islet tokens ${action}: give ${what}\n\n${help}`);
  };
  const admin = clientFor(values);
  const base = (tenant: string) => tenantRoute(tenant, '/tokens');
  switch (action) {
    case 'create': {
      need(1, 'a tenant');
      const body = values.description ? { description: values.description } : {};
      const result = await admin.json('POST', base(rest[0]!), { type: 'application/json', data: JSON.stringify(body) });
      return print(
        values.json,
        result,
        () => `${result.token}\n(token ${result.id} for tenant ${rest[0]}: shown once, store it now)`,
      );
    }
    case 'list': {
      need(1, 'a tenant');
      const result = await admin.json('GET', base(rest[0]!));
      return print(values.json, result, () =>
        result.tokens.length === 0
          ? 'no tokens'
          : table([
              ['ID', 'CREATED', 'DESCRIPTION'],
              ...result.tokens.map((t: TokenInfo) => [t.id, t.createdAt, t.description ?? '']),
            ]),
      );
    }
    case 'revoke': {
      need(2, 'a tenant and a token id');
      const result = await admin.json('DELETE', `${base(rest[0]!)}/${encodeURIComponent(rest[1]!)}`);
      return print(values.json, result, () => `revoked ${result.deleted}`);
    }
    default:
      throw new CliError(`islet tokens: ${action ? `unknown action '${action}'` : 'which action?'}\n\n${help}`);
  }
}

export const run: CommandModule['run'] = (_command, args) => tokens(args);
