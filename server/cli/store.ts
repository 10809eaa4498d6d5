// `islet store …`: the store's own maintenance, run against the store itself (no server needed).
//   migrate                      apply missing schema migrations to store.url (or --to) and exit:
//                                what a Kubernetes Job or a deploy step runs before new nodes start
//   migrate --from A --to B      copy everything from store A to store B (copy.ts): idempotent,
//                                resumable, every file's hash verified on both sides
//   keygen                       print a new ISLET_SECRET_KEY entry
//   rekey                        re-encrypt every tenant's secrets with the first ISLET_SECRET_KEY
// Settings (TLS, pool size, secret key, data folder) come from the config as for `islet serve`.
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config';
import { copyStore } from '../store/copy';
import { openStore, storeKind } from '../store/open';
import { redactUrl } from '../store/postgres/connect';
import type { PostgresDeploymentStore } from '../store/postgres/store';
import { generateSecretKey } from '../store/postgres/secrets';
import type { DeploymentStore } from '../store/types';
import { CliError } from '../errors';

const usage = `usage: islet store <command> [options]

commands:
  migrate [--to <url>]               apply missing schema migrations (PostgreSQL) to store.url or <url>
  migrate --from <url> --to <url>    copy every tenant, deployment, env, secret, token and active
                                     pointer from one store to another; safe to run again (it
                                     finishes what an interrupted run started); verifies every file
  keygen [--id <id>]                 print a new key for ISLET_SECRET_KEY
  rekey                              re-encrypt every tenant's secrets with the first key of ISLET_SECRET_KEY

<url>: file:///<folder> or postgres://user:password@host:port/database. Settings as for
islet serve: --config <file> and ISLET_* (ISLET_STORE_SSLMODE, ISLET_STORE_SSL_CA_FILE,
ISLET_SECRET_KEY, ISLET_DATA_DIR for the node cache).`;

function open(url: string, config: Config): Promise<DeploymentStore> {
  storeKind(url);
  return openStore(url, {
    dataDir: config.dataDir,
    poolSize: Math.min(config.store.poolSize, 4),
    sslMode: config.store.sslMode,
    sslCaFile: config.store.sslCaFile,
    secretKey: config.store.secretKey,
    migrate: false,
  });
}

async function migrateSchema(url: string, config: Config): Promise<void> {
  if (storeKind(url) === 'fs') {
    console.log(`${url || config.dataDir}: a directory store has no schema to migrate`);
    return;
  }
  const store = (await open(url, config)) as PostgresDeploymentStore;
  try {
    const result = await store.migrate();
    const applied = result.applied.length ? `applied ${result.applied.join(', ')}` : 'nothing to apply';
    console.log(
      `${redactUrl(url)}: schema version ${result.version} (${applied})` +
        (result.newer ? '; newer than this islet knows' : ''),
    );
  } finally {
    await store.close();
  }
}

async function copy(fromUrl: string, toUrl: string, config: Config): Promise<void> {
  if (!config.store.secretKey && (storeKind(fromUrl) === 'postgres' || storeKind(toUrl) === 'postgres')) {
    throw new CliError(
      'islet store migrate: ISLET_SECRET_KEY must be set to copy to or from PostgreSQL ' +
        '(tenant secrets are encrypted with it)',
    );
  }
  await migrateSchema(toUrl, config);
  const [from, to] = [await open(fromUrl, config), await open(toUrl, config)];
  try {
    const started = Date.now();
    const report = await copyStore(from, to, {
      onTenant: (tenant, done, total) => {
        if (done % 10 === 0 || done === total)
          console.error(`islet store migrate: ${done}/${total} tenants (${tenant})`);
      },
    });
    console.log(
      JSON.stringify({ from: redactUrl(fromUrl), to: redactUrl(toUrl), ms: Date.now() - started, ...report }, null, 2),
    );
    if (report.problems.length)
      throw new CliError(
        `islet store migrate: ${report.problems.length} problem(s):\n  - ${report.problems.join('\n  - ')}`,
      );
  } finally {
    await Promise.all([from.close(), to.close()]);
  }
}

async function rekey(config: Config): Promise<void> {
  if (!config.store.secretKey) throw new CliError('islet store rekey: ISLET_SECRET_KEY is not set');
  const store = await open(config.store.url, config);
  try {
    let count = 0;
    for (const tenant of await store.listTenants()) {
      const env = await store.getEnv(tenant.name);
      if (Object.keys(env.secrets).length === 0) continue;
      await store.putEnv(tenant.name, env);
      count++;
    }
    console.log(`re-encrypted the secrets of ${count} tenant(s) with key '${config.store.secretKey.split(':')[0]}'`);
  } finally {
    await store.close();
  }
}

export async function run(_command: string, args: string[]): Promise<void> {
  const options = {
    from: { type: 'string' },
    to: { type: 'string' },
    id: { type: 'string' },
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  const parsed = (() => {
    try {
      return parseArgs({ args, allowPositionals: true, options });
    } catch (error) {
      throw new CliError(`islet store: ${(error as Error).message}\n\n${usage}`);
    }
  })();
  const { values, positionals } = parsed;
  const [command] = positionals;
  if (values.help || !command) {
    console.log(usage);
    return;
  }
  if (command === 'keygen') {
    if (values.id !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(values.id))
      throw new CliError('islet store keygen: --id must be 1-32 of A-Z a-z 0-9 _ -');
    console.log(generateSecretKey(values.id));
    return;
  }
  const config = loadConfig({ argv: args, env: process.env });
  if (command === 'migrate') {
    if (values.from !== undefined) {
      if (!values.to) throw new CliError('islet store migrate: --from needs --to (the store to copy into)');
      return copy(values.from, values.to, config);
    }
    return migrateSchema(values.to ?? config.store.url, config);
  }
  if (command === 'rekey') return rekey(config);
  throw new CliError(`islet store: unknown command '${command}'\n\n${usage}`);
}
