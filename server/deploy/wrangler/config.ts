// What a Workers project's wrangler file means to islet: the worker's name (the tenant `islet
// deploy <dir>` deploys to), its entry (`main`), compatibility date and flags, routes, and the
// bindings it declares (`vars`, `kv_namespaces`, `services`, `triggers.crons`). Keys wrangler knows
// that islet does not offer (Durable Objects, R2, D1, queues...) and keys nobody knows are
// warnings listed in the deploy answer, never errors; a known key with a bad value is an error
// naming the file, the key and what was expected.
import { checkDeclarations, type BindingDeclarations } from '../../bindings/declarations';
import { DeployError } from '../../errors';
import { parseRoute } from '../../front/router';
import type { FoundConfig } from './parse';

export interface WranglerConfig {
  file: string;
  name?: string;
  main?: string;
  compatibility?: { compatibility_date?: string; compatibility_flags?: string[] };
  /** islet route patterns; absent when the file declares none */
  routes?: string[];
  bindings: BindingDeclarations;
  warnings: string[];
}

/** read here */
const used = new Set([
  'name',
  'main',
  'compatibility_date',
  'compatibility_flags',
  'routes',
  'route',
  'vars',
  'kv_namespaces',
  'services',
  'triggers',
]);

/** wrangler settings about its own build, upload or dashboard: nothing to do for islet, no warning */
const quiet = new Set([
  '$schema',
  'account_id',
  'workers_dev',
  'preview_urls',
  'minify',
  'keep_vars',
  'keep_names',
  'send_metrics',
  'upload_source_maps',
  'observability',
  'placement',
  'logpush',
  'limits',
  'dev',
  'build',
  'rules',
  'no_bundle',
  'find_additional_modules',
  'base_dir',
  'preserve_file_names',
  'alias',
  'define',
  'jsx_factory',
  'jsx_fragment',
  'tsconfig',
  'legacy_env',
  'usage_model',
  'first_party_worker',
  'node_compat',
  'compliance_region',
]);

/** wrangler bindings and features islet does not offer (yet) */
const unsupported = new Set([
  'durable_objects',
  'migrations',
  'r2_buckets',
  'd1_databases',
  'queues',
  'analytics_engine_datasets',
  'ai',
  'vectorize',
  'hyperdrive',
  'browser',
  'mtls_certificates',
  'dispatch_namespaces',
  'workflows',
  'send_email',
  'assets',
  'site',
  'unsafe',
  'wasm_modules',
  'text_blobs',
  'data_blobs',
  'containers',
  'secrets_store_secrets',
  'version_metadata',
  'images',
  'pipelines',
  'tail_consumers',
  'logfwdr',
  'unsafe_hello_world',
  'worker_loaders',
  'ratelimits',
]);

const tenantName = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const datePattern = /^\d{4}-\d{2}-\d{2}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (v: unknown) => JSON.stringify(v) ?? String(v);

/** a wrangler route (string or { pattern, custom_domain?, zone_name?, zone_id? }) as an islet pattern */
function routePattern(value: unknown, where: string, problems: string[]): string | null {
  let pattern: unknown = value;
  let customDomain = false;
  if (isObject(value)) {
    pattern = value.pattern;
    customDomain = value.custom_domain === true;
  }
  if (typeof pattern !== 'string' || pattern === '') {
    problems.push(
      `${where}: expected a route pattern such as "shop.example.com/*" or { pattern = "..." }, got ${shown(value)}`,
    );
    return null;
  }
  // a custom domain is a whole host name: every path of it
  const islet = customDomain && !pattern.includes('/') ? `${pattern}/*` : pattern;
  if (/^\*[^.]/.test(islet)) {
    problems.push(
      `${where}: '${pattern}': islet routes match subdomains as "*.example.com/..." (no bare "*example.com")`,
    );
    return null;
  }
  try {
    parseRoute(islet);
  } catch (error) {
    problems.push(`${where}: ${(error as Error).message}`);
    return null;
  }
  return islet;
}

export function readWranglerConfig(found: FoundConfig): WranglerConfig {
  const { file, raw } = found;
  const problems: string[] = [];
  const warnings: string[] = [];
  const config: WranglerConfig = { file, bindings: {}, warnings };
  if (found.ignored.length)
    warnings.push(`${file} is read; ${found.ignored.join(', ')} ignored (one config file at a time)`);

  if (raw.name !== undefined) {
    if (typeof raw.name !== 'string' || !tenantName.test(raw.name)) {
      problems.push(
        `name: expected a worker name of lower-case letters, digits and '-' (it names the tenant), got ${shown(raw.name)}`,
      );
    } else config.name = raw.name;
  }
  if (raw.main !== undefined) {
    if (typeof raw.main !== 'string' || raw.main === '')
      problems.push(`main: expected the entry module's path, got ${shown(raw.main)}`);
    else config.main = raw.main.replace(/^\.\//, '');
  }
  const compatibility: NonNullable<WranglerConfig['compatibility']> = {};
  if (raw.compatibility_date !== undefined) {
    const date = raw.compatibility_date;
    if (typeof date !== 'string' || !datePattern.test(date) || Number.isNaN(Date.parse(date))) {
      problems.push(`compatibility_date: expected a date as YYYY-MM-DD, got ${shown(date)}`);
    } else compatibility.compatibility_date = date;
  }
  if (raw.compatibility_flags !== undefined) {
    const flags = raw.compatibility_flags;
    if (!Array.isArray(flags) || flags.some((f) => typeof f !== 'string' || !/^[a-z0-9_]{1,64}$/.test(f))) {
      problems.push(
        `compatibility_flags: expected a list of flag names such as ["nodejs_compat"], got ${shown(flags)}`,
      );
    } else compatibility.compatibility_flags = flags as string[];
  }
  if (Object.keys(compatibility).length) config.compatibility = compatibility;

  if (raw.route !== undefined && raw.routes !== undefined) problems.push(`route, routes: give one of them, not both`);
  const routeList = raw.routes !== undefined ? raw.routes : raw.route !== undefined ? [raw.route] : undefined;
  if (routeList !== undefined) {
    const key = raw.routes !== undefined ? 'routes' : 'route';
    if (!Array.isArray(routeList)) problems.push(`routes: expected a list of route patterns, got ${shown(routeList)}`);
    else {
      const routes = routeList
        .map((r, i) => routePattern(r, key === 'routes' ? `routes[${i}]` : 'route', problems))
        .filter((r): r is string => r !== null);
      config.routes = [...new Set(routes)];
    }
  }

  const declared: Record<string, unknown> = {};
  for (const key of ['vars', 'services'] as const) if (raw[key] !== undefined) declared[key] = raw[key];
  if (raw.kv_namespaces !== undefined) {
    // namespace ids are the tenant's own: a binding without an id (wrangler provisions one) uses its name
    declared.kv_namespaces = Array.isArray(raw.kv_namespaces)
      ? raw.kv_namespaces.map((ns) => (isObject(ns) && ns.id === undefined ? { ...ns, id: ns.binding } : ns))
      : raw.kv_namespaces;
    if (Array.isArray(raw.kv_namespaces)) {
      const extra = new Set<string>();
      for (const ns of raw.kv_namespaces) {
        if (isObject(ns))
          for (const k of Object.keys(ns)) if (!['binding', 'id', 'preview_id'].includes(k)) extra.add(k);
      }
      if (extra.size) warnings.push(`${file}: kv_namespaces: ${[...extra].join(', ')} ignored`);
    }
  }
  if (Array.isArray(raw.services)) {
    declared.services = raw.services.map((s) => {
      if (!isObject(s)) return s;
      const { environment, ...rest } = s;
      if (environment !== undefined) warnings.push(`${file}: services: environment '${String(environment)}' ignored`);
      return rest;
    });
  }
  if (raw.triggers !== undefined) {
    if (!isObject(raw.triggers))
      problems.push(`triggers: expected a table with crons = [...], got ${shown(raw.triggers)}`);
    else declared.crons = raw.triggers.crons ?? [];
  }
  const checked = checkDeclarations(declared);
  problems.push(...checked.problems.map((p) => p.replace(/^crons/, 'triggers.crons')));
  config.bindings = checked.declarations;

  const ignoredFeatures = Object.keys(raw).filter((k) => unsupported.has(k));
  if (ignoredFeatures.length) warnings.push(`${file}: not supported by islet, ignored: ${ignoredFeatures.join(', ')}`);
  if (raw.env !== undefined)
    warnings.push(`${file}: environments ([env.*]) are not applied: the top-level settings are deployed`);
  const unknown = Object.keys(raw).filter((k) => !used.has(k) && !quiet.has(k) && !unsupported.has(k) && k !== 'env');
  if (unknown.length) warnings.push(`${file}: unknown keys ignored: ${unknown.join(', ')}`);

  if (problems.length) {
    throw new DeployError(
      'ISLET_DEPLOY_BAD_CONFIG',
      problems.length === 1 ? `${file}: ${problems[0]}` : `${file}:\n  - ${problems.join('\n  - ')}`,
    );
  }
  return config;
}
