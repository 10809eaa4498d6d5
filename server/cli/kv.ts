// `islet kv`: a tenant's KV namespaces from a terminal, through the admin API (server/admin/kv.ts).
// A namespace is named by its id, which belongs to the tenant (the same id of another tenant is
// another namespace). Values go out on stdout as they are stored (bytes), so `islet kv get ... >
// file` keeps binary values whole; `put` reads its value from the argument, --path or stdin.
import fs from 'node:fs';
import { CliError } from '../errors';
import { queryString, tenantRoute } from './admin-client';
import { type CommandModule, clientFor, commonHelp, expectPositionals, parseCommand, print, table } from './command';

export const usage: Record<string, string> = {
  kv: `usage: islet kv <get|put|list|delete|usage> <tenant> [<namespace> [<key> [<value>]]] [options]

A tenant's KV namespaces (a namespace id belongs to its tenant: it is the id its bindings name).

  islet kv get <tenant> <namespace> <key>            the value on stdout (--json: with metadata, expiration)
  islet kv put <tenant> <namespace> <key> [value]    the value from the argument, --path <file> or stdin
        [--ttl <seconds>] [--expiration <unix seconds>] [--metadata <json>]
  islet kv list <tenant> <namespace> [--prefix p] [--limit n] [--cursor c]
  islet kv delete <tenant> <namespace> <key>
  islet kv usage <tenant>                            bytes and keys stored, the quota, the namespaces bound
${commonHelp}`,
};

const values = (tenant: string, ns: string, key: string) =>
  tenantRoute(tenant, `/kv/${encodeURIComponent(ns)}/values/${encodeURIComponent(key)}`);

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function kv(args: string[]): Promise<void> {
  const help = usage.kv!;
  const parsed = parseCommand('kv', help, args, {
    path: { type: 'string' },
    ttl: { type: 'string' },
    expiration: { type: 'string' },
    metadata: { type: 'string' },
    prefix: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
  });
  if (!parsed) return;
  const { values: flags, positionals } = parsed;
  const [action, ...rest] = positionals;
  const admin = clientFor(flags);
  switch (action) {
    case 'get': {
      expectPositionals('kv get', help, rest, 3);
      const [tenant, ns, key] = rest as [string, string, string];
      const response = await admin.send('GET', values(tenant, ns, key));
      const bytes = Buffer.from(await response.arrayBuffer());
      if (flags.json) {
        const metadata = response.headers.get('islet-kv-metadata');
        const expiration = response.headers.get('islet-kv-expiration');
        const answer = {
          value: bytes.toString('utf8'),
          metadata: metadata ? JSON.parse(metadata) : null,
          expiration: expiration ? Number(expiration) : null,
        };
        print(true, answer, () => '');
      } else process.stdout.write(bytes);
      return;
    }
    case 'put': {
      expectPositionals('kv put', help, rest, 3, 4);
      const [tenant, ns, key, inline] = rest as [string, string, string, string | undefined];
      if (inline !== undefined && flags.path) throw new CliError('islet kv put: give the value or --path, not both');
      const data =
        inline !== undefined ? Buffer.from(inline) : flags.path ? fs.readFileSync(flags.path) : await readStdin();
      const query = queryString({ expiration_ttl: flags.ttl, expiration: flags.expiration, metadata: flags.metadata });
      const result = await admin.json('PUT', `${values(tenant, ns, key)}${query}`, {
        data,
        type: 'application/octet-stream',
      });
      print(flags.json, result, () => `${tenant}/${ns}: wrote ${key} (${data.length} bytes)`);
      return;
    }
    case 'list': {
      expectPositionals('kv list', help, rest, 2);
      const [tenant, ns] = rest as [string, string];
      const query = queryString({ prefix: flags.prefix, limit: flags.limit, cursor: flags.cursor });
      const result = await admin.json('GET', tenantRoute(tenant, `/kv/${encodeURIComponent(ns)}/keys${query}`));
      print(flags.json, result, () => {
        if (result.keys.length === 0) return `${tenant}/${ns}: no keys`;
        const rows = result.keys.map((k: { name: string; expiration: number | null; metadata: string | null }) => [
          k.name,
          k.expiration === null ? '-' : new Date(k.expiration * 1000).toISOString(),
          k.metadata ?? '-',
        ]);
        const more = result.list_complete ? '' : `\nmore: --cursor ${result.cursor}`;
        return table([['KEY', 'EXPIRES', 'METADATA'], ...rows]) + more;
      });
      return;
    }
    case 'delete': {
      expectPositionals('kv delete', help, rest, 3);
      const [tenant, ns, key] = rest as [string, string, string];
      const result = await admin.json('DELETE', values(tenant, ns, key));
      print(flags.json, result, () => `${tenant}/${ns}: deleted ${key}`);
      return;
    }
    case 'usage': {
      expectPositionals('kv usage', help, rest, 1);
      const [tenant] = rest as [string];
      const result = await admin.json('GET', tenantRoute(tenant, '/kv'));
      print(flags.json, result, () => {
        const bound = Object.entries(result.bound as Record<string, string>);
        const lines = [
          `${tenant}: ${result.usage.keys} keys, ${result.usage.bytes} bytes ` +
            `(quota ${result.quota.keys} keys, ${result.quota.bytes} bytes)`,
        ];
        if (bound.length) lines.push(table([['BINDING', 'NAMESPACE'], ...bound.map(([b, id]) => [b, id])]));
        return lines.join('\n');
      });
      return;
    }
    default:
      throw new CliError(`islet kv: expected get, put, list, delete or usage, got '${action ?? ''}'\n\n${help}`);
  }
}

export const run: CommandModule['run'] = (_command, args) => kv(args);
