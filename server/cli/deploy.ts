// `islet deploy | deployments | rollback | tenants`: the admin API from a terminal.
// The admin URL and token come from --admin-url/--token, else ISLET_ADMIN_URL/ISLET_ADMIN_TOKEN,
// else http://127.0.0.1:8081 and the token file a local server generated (<data dir>/admin-token).
// A folder is checked by a local build and the files that build read (its node_modules, or the
// nearest one above it, read only as imported) are sent as a tar.gz: the server builds them again
// with its own limits and checks. With --bundle it is bundled here and sent as one module whose
// inline source map still points at the original files.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { build } from '../deploy/build';
import { nearestNodeModules, readDirectory } from '../deploy/directory';
import { CliError } from '../errors';
import { wranglerConfig } from '../deploy/wrangler/apply';
import type { WranglerConfig } from '../deploy/wrangler/config';
import { adminTarget, type AdminTarget } from './admin-target';

const usage: Record<string, string> = {
  deploy: `usage: islet deploy <dir|file> [--tenant <name>] [options]

Uploads a function folder (as tar.gz) or a single .js/.ts file as a new deployment and prints its URL.
A Workers project deploys as it is: its wrangler.toml / wrangler.json(c) names the tenant (name),
the entry (main), routes, vars, KV namespaces, service bindings and cron triggers.

options:
  --tenant, -t <name>     tenant to deploy to (default: the wrangler file's name; created when the
                          operator deploys to a new name)
  --entry <path>          entry module inside the folder (default: package.json main, index.ts, index.js...)
  --bundle                bundle locally into one module (bare imports may come from node_modules above the folder)
  --no-activate           store the deployment without making it active
  --routes <patterns>     custom routes, comma-separated host/path-prefix* (repeatable)
  --compatibility <json>  compatibility metadata stored with the deployment
`,
  deployments: `usage: islet deployments <tenant>

Lists a tenant's deployments, newest first; '*' marks the active one.
`,
  rollback: `usage: islet rollback <tenant> <deployment-id>

Makes an earlier deployment active again (an atomic pointer swap on the server).
`,
  tenants: `usage: islet tenants

Lists tenants with their active deployment and URL.
`,
};

const commonHelp = `
common options:
  --admin-url <url>   admin API (env ISLET_ADMIN_URL, default http://127.0.0.1:8081)
  --token <token>     operator or tenant deploy token (env ISLET_ADMIN_TOKEN,
                      default: <ISLET_DATA_DIR or .islet>/admin-token)
  --json              print the API's JSON answer instead of text`;

type Admin = AdminTarget;
const adminFrom = adminTarget;

async function call(
  admin: Admin,
  method: string,
  route: string,
  body?: { data: Buffer | string; type: string },
): Promise<any> {
  let response: Response;
  try {
    const init: RequestInit = {
      method,
      headers: { authorization: `Bearer ${admin.token}`, ...(body ? { 'content-type': body.type } : {}) },
    };
    if (body) init.body = body.data;
    response = await fetch(`${admin.url}${route}`, init);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      `cannot reach the admin API at ${admin.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
      'ISLET_CLI_ADMIN_FAILED',
    );
  }
  const text = await response.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below with the status
  }
  if (!response.ok) {
    const detail = json?.error
      ? `${json.error.message} (${json.error.code})`
      : text.slice(0, 500) || response.statusText;
    throw new CliError(`${method} ${route} failed with ${response.status}: ${detail}`, 'ISLET_CLI_ADMIN_FAILED');
  }
  return json;
}

async function packFolder(files: Map<string, Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, data] of files) pack.entry({ name, size: data.length, mode: 0o644, mtime: new Date(0) }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return zlib.gzipSync(Buffer.concat(chunks));
}

function queryString(params: Record<string, string | string[] | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
  }
  const s = search.toString();
  return s ? `?${s}` : '';
}

/** the folder's wrangler config, read as the server will read it (a bad one is reported here first) */
function localWranglerConfig(dir: string): WranglerConfig | null {
  try {
    return wranglerConfig(readDirectory(dir, true));
  } catch (error) {
    throw new CliError(`islet deploy: ${(error as Error).message}`);
  }
}

async function deploy(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    allowNegative: true,
    options: {
      tenant: { type: 'string', short: 't' },
      entry: { type: 'string' },
      bundle: { type: 'boolean', default: false },
      activate: { type: 'boolean', default: true },
      routes: { type: 'string', multiple: true },
      compatibility: { type: 'string' },
      'admin-url': { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new CliError(`islet deploy: give exactly one folder or file\n\n${usage.deploy}`);
  const target = path.resolve(positionals[0]!);
  if (!fs.existsSync(target)) throw new CliError(`islet deploy: ${target} does not exist`);
  const isFile = fs.statSync(target).isFile();
  const wrangler = isFile ? null : localWranglerConfig(target);
  const tenant = values.tenant ?? wrangler?.name;
  if (!tenant) {
    throw new CliError(`islet deploy: --tenant is required (or a wrangler.toml / wrangler.json naming the worker)\n\n${usage.deploy}`);
  }
  const admin = adminFrom(values);
  const query: Record<string, string | string[] | undefined> = {
    routes: values.routes,
    activate: values.activate ? undefined : 'false',
    compatibility: values.compatibility,
  };
  let body: { data: Buffer; type: string };
  const started = Date.now();

  if (values.bundle) {
    const files = readDirectory(target, true);
    const options: Parameters<typeof build>[2] = { bundle: true };
    const entry = values.entry ?? (isFile ? path.basename(target) : undefined);
    if (entry) options.entry = entry;
    const hostNodeModules = nearestNodeModules(isFile ? path.dirname(target) : target);
    if (hostNodeModules) options.hostNodeModules = hostNodeModules;
    let built: Awaited<ReturnType<typeof build>>;
    try {
      built = await build(tenant, files, options);
    } catch (error) {
      throw new CliError(`islet deploy: local bundle failed: ${(error as Error).message}`);
    }
    const entryPath = built.manifest.entry;
    const map = built.files.get(`${entryPath}.map`);
    let code = built.files.get(entryPath)!.toString('utf8');
    // the server re-reads this inline map, so its own map still leads to the original sources
    if (map) code += `\n//# sourceMappingURL=data:application/json;base64,${map.toString('base64')}\n`;
    if (wrangler) {
      // the bundle travels with the project's wrangler file, whose bindings and routes the server reads
      const config = fs.readFileSync(path.join(target, wrangler.file));
      body = { data: await packFolder(new Map([[entryPath, Buffer.from(code)], [wrangler.file, config]])), type: 'application/gzip' };
    } else body = { data: Buffer.from(code), type: 'application/javascript' };
    query.entry = entryPath;
  } else if (isFile) {
    const ext = path.extname(target);
    const typescript = ext === '.ts' || ext === '.tsx' || ext === '.mts';
    body = { data: fs.readFileSync(target), type: typescript ? 'application/typescript' : 'application/javascript' };
    query.entry = path.basename(target);
  } else {
    // Built here first: errors show before anything is sent, packages are read from the nearest
    // node_modules only as imported, and only the files the build read are packed (under the
    // same paths, so the server's build of them resolves alike).
    const files = readDirectory(target, true);
    const options: Parameters<typeof build>[2] = {};
    if (values.entry) options.entry = values.entry;
    const hostNodeModules = nearestNodeModules(target);
    if (hostNodeModules) options.hostNodeModules = hostNodeModules;
    let inputs: Map<string, Buffer>;
    try {
      inputs = (await build(tenant, files, options)).inputs;
    } catch (error) {
      throw new CliError(`islet deploy: ${(error as Error).message}`);
    }
    body = { data: await packFolder(inputs), type: 'application/gzip' };
    if (values.entry) query.entry = values.entry;
  }

  const result = await call(
    admin,
    'POST',
    `/v1/tenants/${encodeURIComponent(tenant)}/deployments${queryString(query)}`,
    body,
  );
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  for (const warning of result.warnings ?? []) console.error(`warning: ${warning}`);
  console.log(
    `deployed ${result.id} to ${tenant} in ${Date.now() - started} ms ` +
      `(${(body.data.length / 1024).toFixed(1)} KiB sent)${result.active ? '' : ', not active'}`,
  );
  console.log(result.url);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function simple(command: string, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'admin-url': { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const need = command === 'deployments' ? 1 : command === 'rollback' ? 2 : 0;
  if (positionals.length !== need)
    throw new CliError(`islet ${command}: expected ${need} argument${need === 1 ? '' : 's'}\n\n${usage[command]}`);
  const admin = adminFrom(values);
  const print = (json: unknown, text: () => string) =>
    console.log(values.json ? JSON.stringify(json, null, 2) : text());

  if (command === 'tenants') {
    const result = await call(admin, 'GET', '/v1/tenants');
    print(result, () =>
      result.tenants.length === 0
        ? 'no tenants'
        : table([
            ['NAME', 'ACTIVE', 'URL', 'ROUTES'],
            ...result.tenants.map((t: any) => [t.name, t.active ?? '-', t.url, t.routes.join(',') || '-']),
          ]),
    );
  } else if (command === 'deployments') {
    const tenant = positionals[0]!;
    const result = await call(admin, 'GET', `/v1/tenants/${encodeURIComponent(tenant)}/deployments`);
    print(result, () =>
      result.deployments.length === 0
        ? `tenant ${tenant} has no deployments`
        : table([
            ['', 'ID', 'CREATED', 'FORMAT', 'MODULES', 'SIZE', 'ROUTES'],
            ...result.deployments.map((d: any) => [
              d.id === result.active ? '*' : '',
              d.id,
              d.createdAt,
              d.format,
              String(d.modules.length),
              `${(d.size / 1024).toFixed(1)} KiB`,
              d.routes.join(',') || '-',
            ]),
          ]),
    );
  } else {
    const [tenant, id] = positionals as [string, string];
    const result = await call(
      admin,
      'POST',
      `/v1/tenants/${encodeURIComponent(tenant)}/deployments/${encodeURIComponent(id)}/activate`,
    );
    print(result, () => `${tenant}: ${result.id} is active again (was ${result.previous ?? 'none'})\n${result.url}`);
  }
}

export async function run(command: string, args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log((usage[command] ?? '') + commonHelp);
    return;
  }
  try {
    if (command === 'deploy') await deploy(args);
    else if (command in usage) await simple(command, args);
    else throw new CliError(`islet: unknown deploy command '${command}'`);
  } catch (error) {
    // parseArgs reports unknown flags with its own error type; show the command's usage with it
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      throw new CliError(`islet ${command}: ${(error as Error).message}\n\n${usage[command] ?? ''}${commonHelp}`);
    }
    throw error;
  }
}
