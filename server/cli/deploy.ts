// `islet deploy`: a function folder or file from a terminal to the admin API. A folder is checked
// by a local build first, and the files that build read (its node_modules, or the nearest one
// above it, read only as imported) are sent as a tar.gz: the server builds them again with its own
// limits and checks. With --bundle it is bundled here and sent as one module whose inline source
// map still points at the original files. `-m` stores a message with the deployment, shown by
// `islet deployments` and the dashboard. A Workers project deploys with no flags: its wrangler.toml /
// wrangler.json(c) names the tenant (`name`) and the server reads the rest of it (entry, routes,
// vars, KV namespaces, service bindings, cron triggers).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { build } from '../deploy/build';
import { nearestNodeModules, readDirectory } from '../deploy/directory';
import { wranglerConfig } from '../deploy/wrangler/apply';
import type { WranglerConfig } from '../deploy/wrangler/config';
import { CliError } from '../errors';
import { type Body, queryString, tenantRoute } from './admin-client';
import { type CommandModule, clientFor, commonHelp, kib, parseCommand } from './command';

export const usage: Record<string, string> = {
  deploy: `usage: islet deploy <dir|file> [--tenant <name>] [options]

Uploads a function folder (as tar.gz) or a single .js/.ts file as a new deployment and prints its URL.
A Workers project deploys as it is: its wrangler.toml / wrangler.json(c) names the tenant (name),
the entry (main), routes, vars, KV namespaces, service bindings and cron triggers.

options:
  --tenant, -t <name>     tenant to deploy to (default: the wrangler file's name; created when the
                          operator deploys to a new name)
  --message, -m <text>    what changed: stored with the deployment, shown in lists and the dashboard
  --entry <path>          entry module inside the folder (default: package.json main, index.ts, index.js...)
  --bundle                bundle locally into one module (bare imports may come from node_modules above the folder)
  --no-activate           store the deployment without making it active
  --routes <patterns>     custom routes, comma-separated host/path-prefix* (repeatable)
  --compatibility <json>  compatibility metadata stored with the deployment
${commonHelp}`,
};

/** The folder under this name inside the archive: the server drops one common top folder. */
const TOP = 'function/';

/**
 * A tar.gz of `files` under one top folder. The server strips a single common top folder (what
 * `tar czf fn.tgz fn/` makes); without one of our own, a folder whose files all sit under src/
 * would lose its src/ and an `--entry src/app.ts` would no longer be found.
 */
export async function packFolder(files: Map<string, Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, data] of files)
    pack.entry({ name: TOP + name, size: data.length, mode: 0o644, mtime: new Date(0) }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return zlib.gzipSync(Buffer.concat(chunks));
}

type BuildOptions = Parameters<typeof build>[2];

async function bundleLocally(
  tenant: string,
  target: string,
  isFile: boolean,
  entry: string | undefined,
  wrangler: WranglerConfig | null,
): Promise<Body & { entry: string }> {
  const files = readDirectory(target, true);
  const options: BuildOptions = { bundle: true };
  const chosen = entry ?? (isFile ? path.basename(target) : undefined);
  if (chosen) options.entry = chosen;
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
    const files = new Map([
      [entryPath, Buffer.from(code)],
      [wrangler.file, config],
    ]);
    return { data: await packFolder(files), type: 'application/gzip', entry: entryPath };
  }
  return { data: Buffer.from(code), type: 'application/javascript', entry: entryPath };
}

/** the folder's wrangler config, read as the server will read it (a bad one is reported here first) */
function localWranglerConfig(dir: string): WranglerConfig | null {
  try {
    return wranglerConfig(readDirectory(dir, true));
  } catch (error) {
    throw new CliError(`islet deploy: ${(error as Error).message}`);
  }
}

/**
 * Built here first: errors show before anything is sent, packages are read from the nearest
 * node_modules only as imported, and only the files the build read are packed (under the same
 * paths, so the server's build of them resolves alike).
 */
async function packChecked(tenant: string, target: string, entry?: string): Promise<Body> {
  const files = readDirectory(target, true);
  const options: BuildOptions = {};
  if (entry) options.entry = entry;
  const hostNodeModules = nearestNodeModules(target);
  if (hostNodeModules) options.hostNodeModules = hostNodeModules;
  let inputs: Map<string, Buffer>;
  try {
    inputs = (await build(tenant, files, options)).inputs;
  } catch (error) {
    throw new CliError(`islet deploy: ${(error as Error).message}`);
  }
  return { data: await packFolder(inputs), type: 'application/gzip' };
}

async function deploy(args: string[]): Promise<void> {
  const help = usage.deploy!;
  const parsed = parseCommand('deploy', help, args, {
    tenant: { type: 'string', short: 't' },
    message: { type: 'string', short: 'm' },
    entry: { type: 'string' },
    bundle: { type: 'boolean', default: false },
    activate: { type: 'boolean', default: true },
    routes: { type: 'string', multiple: true },
    compatibility: { type: 'string' },
  });
  if (!parsed) return;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new CliError(`islet deploy: give exactly one folder or file\n\n${help}`);
  const target = path.resolve(positionals[0]!);
  if (!fs.existsSync(target)) throw new CliError(`islet deploy: ${target} does not exist`);
  const isFile = fs.statSync(target).isFile();
  const wrangler = isFile ? null : localWranglerConfig(target);
  const tenant = values.tenant ?? wrangler?.name;
  if (!tenant) {
    throw new CliError(`islet deploy: --tenant is required (or a wrangler file naming the worker)\n\n${help}`);
  }
  const admin = clientFor(values);
  const query: Record<string, string | string[] | undefined> = {
    routes: values.routes,
    activate: values.activate ? undefined : 'false',
    compatibility: values.compatibility,
    message: values.message,
  };
  let body: Body;
  const started = Date.now();
  if (values.bundle) {
    const bundled = await bundleLocally(tenant, target, isFile, values.entry, wrangler);
    body = bundled;
    query.entry = bundled.entry;
  } else if (isFile) {
    const typescript = ['.ts', '.tsx', '.mts'].includes(path.extname(target));
    body = { data: fs.readFileSync(target), type: typescript ? 'application/typescript' : 'application/javascript' };
    query.entry = path.basename(target);
  } else {
    body = await packChecked(tenant, target, values.entry);
    if (values.entry) query.entry = values.entry;
  }

  const result = await admin.json('POST', tenantRoute(tenant, `/deployments${queryString(query)}`), body);
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  for (const warning of result.warnings ?? []) console.error(`warning: ${warning}`);
  console.log(
    `deployed ${result.id} to ${tenant} in ${Date.now() - started} ms ` +
      `(${kib(body.data.length)} sent)${result.active ? '' : ', not active'}`,
  );
  console.log(result.url);
}

export const run: CommandModule['run'] = (_command, args) => deploy(args);
