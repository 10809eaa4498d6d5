// `islet tokens`: the credentials the operator hands out (operator token required).
//   islet tokens create <t> [--description D]    a deploy token of tenant t: deploy, env, logs of t only
//   islet tokens list <t>
//   islet tokens revoke <t> <id>
//   islet tokens create --scrape [--description D]   a read-only token for Prometheus: GET /metrics only
//   islet tokens list --scrape
//   islet tokens revoke --scrape <id>
// A new token is printed once (stored hashed on the server); with --json, as {"id", "token"}.
import { CliError } from '../errors';
import { tenantRoute } from './admin-client';
import { type CommandModule, clientFor, commonHelp, parseCommand, print, table } from './command';

export const usage: Record<string, string> = {
  tokens: `usage: islet tokens create <tenant> [--description TEXT]
       islet tokens list <tenant>
       islet tokens revoke <tenant> <id>
       islet tokens create --scrape [--description TEXT]
       islet tokens list --scrape
       islet tokens revoke --scrape <id>

Deploy tokens act on one tenant only (deploy, env, logs); a scrape token can read GET /metrics
and nothing else, for a Prometheus that should not hold the operator token. A new token is
shown once: the server keeps only its hash. Needs the operator token.

options:
  --scrape              metrics scrape tokens instead of a tenant's deploy tokens
  --description TEXT    a note kept with the token (who or what holds it)
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
  const need = (count: number, what: string) => {
    if (rest.length !== count) throw new CliError(`islet tokens ${action}: give ${what}\n\n${help}`);
  };
  const admin = clientFor(values);
  const base = (tenant?: string) => (scrape ? '/v1/scrape-tokens' : tenantRoute(tenant!, '/tokens'));
  switch (action) {
    case 'create': {
      need(scrape ? 0 : 1, scrape ? 'no tenant with --scrape' : 'a tenant');
      const body = values.description ? { description: values.description } : {};
      const result = await admin.json('POST', base(rest[0]), { type: 'application/json', data: JSON.stringify(body) });
      return print(
        values.json,
        result,
        () =>
          `${result.token}\n` +
          `(token ${result.id}${scrape ? ', metrics scrape only' : ` for tenant ${rest[0]}`}: ` +
          'shown once, store it now)',
      );
    }
    case 'list': {
      need(scrape ? 0 : 1, scrape ? 'no tenant with --scrape' : 'a tenant');
      const result = await admin.json('GET', base(rest[0]));
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
      need(scrape ? 1 : 2, scrape ? 'a token id' : 'a tenant and a token id');
      const id = rest[rest.length - 1]!;
      const result = await admin.json('DELETE', `${base(rest[0])}/${encodeURIComponent(id)}`);
      return print(values.json, result, () => `revoked ${result.deleted}`);
    }
    default:
      throw new CliError(`islet tokens: ${action ? `unknown action '${action}'` : 'which action?'}\n\n${help}`);
  }
}

export const run: CommandModule['run'] = (_command, args) => tokens(args);
