// islet's settings: config/default.json, then an optional `--config <file>`, then ISLET_*
// environment variables, each layer overriding the one before. Every setting is declared once in
// config-settings.ts (its path, its environment variable, what values it accepts), so validation,
// error messages and config/README.md describe the same thing. All problems are collected and
// reported together, each naming the setting, where the bad value came from and what is expected,
// so an operator fixes a broken config in one pass.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors';
import { parseSecretKeys } from './store/postgres/secrets';
import { cfProblems } from './front/cf/settings';

export { ConfigError } from './errors';
export type { Config, DeploySettings, Kind, Limits, LogLevel, RequestLimits, Setting } from './config-types';
export { limitSettings, settings } from './config-settings';
import type { Config, Kind, Limits } from './config-types';
import { limitSettings, settings } from './config-settings';

const byKey = new Map(settings.map((s) => [s.key, s]));

function describe(kind: Kind): string {
  switch (kind.type) {
    case 'int':
      return (
        `an integer from ${kind.min} to ` +
        `${kind.max}${kind.unit ? ` (${kind.unit})` : ''}${kind.auto ? ` or "auto" (${kind.auto.doc})` : ''}`
      );
    case 'string':
      return kind.expected ?? 'a string';
    case 'bool':
      return 'true or false';
    case 'ratio':
      return 'a number from 0 to 1';
    case 'enum':
      return `one of ${kind.values.join(', ')}`;
    case 'list':
      return 'a list of strings';
  }
}

/** Checks one value from a JSON file (already typed) or an env var (a string); returns the value or a problem. */
function coerce(kind: Kind, raw: unknown, fromEnv: boolean, secret = false): { value?: unknown; problem?: string } {
  const shown = secret ? 'a value (not shown: it is secret)' : JSON.stringify(raw);
  const bad = () => ({ problem: `got ${shown}, expected ${describe(kind)}` });
  switch (kind.type) {
    case 'int': {
      let n: unknown = raw;
      if (kind.auto && raw === 'auto') return { value: kind.auto.value() };
      if (fromEnv) n = /^\s*-?\d+\s*$/.test(String(raw)) ? Number(raw) : NaN;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < kind.min || n > kind.max) return bad();
      return { value: n };
    }
    case 'string':
      if (typeof raw !== 'string' || (kind.pattern && !kind.pattern.test(raw))) return bad();
      return { value: raw };
    case 'bool':
      if (typeof raw === 'boolean') return { value: raw };
      if (fromEnv && /^(true|1|yes)$/i.test(String(raw))) return { value: true };
      if (fromEnv && /^(false|0|no)$/i.test(String(raw))) return { value: false };
      return bad();
    case 'ratio': {
      const n = fromEnv ? (/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(String(raw)) ? Number(raw) : NaN) : raw;
      if (typeof n !== 'number' || !(n >= 0 && n <= 1)) return bad();
      return { value: n };
    }
    case 'enum':
      if (typeof raw !== 'string' || !kind.values.includes(raw)) return bad();
      return { value: raw };
    case 'list':
      if (fromEnv)
        return {
          value: String(raw)
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        };
      if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string')) return bad();
      return { value: [...raw] };
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts[parts.length - 1]!] = value;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a partial limits object (config `tenants.<name>.limits` or a tenant record); `where` names its source. */
export function validateLimits(raw: unknown, where: string): { limits: Partial<Limits>; problems: string[] } {
  const limits: Partial<Limits> = {};
  const problems: string[] = [];
  if (!isObject(raw)) return { limits, problems: [`${where}: expected an object of limits`] };
  for (const [name, value] of Object.entries(raw)) {
    const setting = limitSettings[name as keyof Limits];
    if (!setting) {
      problems.push(`${where}.${name}: unknown limit (known: ${Object.keys(limitSettings).join(', ')})`);
      continue;
    }
    const { value: v, problem } = coerce(setting.kind, value, false);
    if (problem) problems.push(`${where}.${name}: ${problem}`);
    else limits[name as keyof Limits] = v as number;
  }
  return { limits, problems };
}

/** Applies one JSON layer (default.json or --config file) onto `target`, collecting problems. */
function applyFile(target: Record<string, unknown>, layer: unknown, file: string, problems: string[]): void {
  if (!isObject(layer)) {
    problems.push(`${file}: expected a JSON object at the top level`);
    return;
  }
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [name, value] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${name}` : name;
      if (key === 'tenants') {
        applyTenants(target, value, `${file}:tenants`, problems);
        continue;
      }
      const setting = byKey.get(key);
      if (setting) {
        const { value: v, problem } = coerce(setting.kind, value, false, setting.secret);
        if (problem) problems.push(`${file}:${key}: ${problem}`);
        else setPath(target, key, v);
      } else if (isObject(value) && settings.some((s) => s.key.startsWith(`${key}.`))) {
        walk(value, key);
      } else {
        problems.push(`${file}:${key}: unknown setting`);
      }
    }
  };
  walk(layer, '');
}

function applyTenants(target: Record<string, unknown>, raw: unknown, where: string, problems: string[]): void {
  if (!isObject(raw)) {
    problems.push(`${where}: expected an object { "<tenant>": { "limits": {...} } }`);
    return;
  }
  const tenants = target.tenants as Config['tenants'];
  for (const [name, entry] of Object.entries(raw)) {
    if (!isObject(entry)) {
      problems.push(`${where}.${name}: expected an object with "limits"`);
      continue;
    }
    for (const extra of Object.keys(entry).filter((k) => k !== 'limits'))
      problems.push(`${where}.${name}.${extra}: unknown setting`);
    if (entry.limits === undefined) continue;
    const { limits, problems: p } = validateLimits(entry.limits, `${where}.${name}.limits`);
    problems.push(...p);
    tenants[name] = { limits: { ...tenants[name]?.limits, ...limits } };
  }
}

function readJson(file: string, problems: string[]): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(
      `${file}: cannot read the config file ` + `(${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    problems.push(`${file}: not valid JSON (${(err as Error).message})`);
    return undefined;
  }
}

/** The value of `--name <value>` / `--name=<value>` in argv ('' when the value is missing), or undefined. */
function flagValue(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === name) return argv[i + 1] ?? '';
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
  }
  return undefined;
}

/** `--config <file>` / `--config=<file>` from argv, or undefined. */
export function configFileArg(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') return argv[i + 1] ?? '';
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return undefined;
}

export const defaultConfigFile = path.resolve(__dirname, '..', '..', 'config', 'default.json');

export interface LoadOptions {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** base of relative paths (dataDir, --config); default process.cwd() */
  cwd?: string;
  /** default.json to start from; tests point this elsewhere only to check error reporting */
  defaults?: string;
}

/** Loads and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(options: LoadOptions = {}): Config {
  const { argv = [], env = process.env, cwd = process.cwd() } = options;
  const problems: string[] = [];
  const config = {
    server: {},
    limits: {},
    pool: {},
    deploy: {},
    hostnames: {},
    exceptions: {},
    egress: {},
    cluster: {},
    cf: {},
    cache: {},
    cron: {},
    logs: {},
    dashboard: {},
    tracing: {},
    profiles: {},
    nodes: {},
    store: {},
    tenants: {},
  } as Record<string, unknown>;

  const defaultsFile = options.defaults ?? defaultConfigFile;
  applyFile(config, readJson(defaultsFile, problems), path.relative(cwd, defaultsFile) || defaultsFile, problems);

  const file = configFileArg(argv);
  if (file !== undefined) {
    if (!file) problems.push('--config: expected a file path after --config');
    else {
      const full = path.resolve(cwd, file);
      const layer = readJson(full, problems);
      if (layer !== undefined) applyFile(config, layer, file, problems);
    }
  }

  for (const setting of settings) {
    const raw = env[setting.env];
    if (raw === undefined || raw === '') continue;
    const { value, problem } = coerce(setting.kind, raw, true, setting.secret);
    if (problem) problems.push(`${setting.env} (${setting.key}): ${problem}`);
    else setPath(config, setting.key, value);
  }

  // command-line flags win over everything: `--workers N` (islet serve)
  const workersFlag = flagValue(argv, '--workers');
  if (workersFlag !== undefined) {
    const { value, problem } = coerce(byKey.get('workers')!.kind, workersFlag, true);
    if (problem) problems.push(`--workers: ${problem}`);
    else config.workers = value;
  }

  for (const setting of settings) {
    const [head, tail] = setting.key.split('.');
    const value = tail ? (config[head!] as Record<string, unknown>)[tail] : config[head!];
    if (value === undefined)
      problems.push(`${setting.key}: missing (set it in ${path.basename(defaultsFile)} ` + `or ${setting.env})`);
  }
  const result = config as unknown as Config;
  if (problems.length === 0 && result.limits.wallMs < result.limits.cpuMs) {
    problems.push(
      `limits.wallMs (${result.limits.wallMs}) must be at least limits.cpuMs ` +
        `(${result.limits.cpuMs}): CPU time cannot exceed wall time`,
    );
  }
  if (problems.length === 0) problems.push(...storeProblems(result), ...cfProblems(result, cwd));
  if (problems.length) throw new ConfigError(problems);
  result.dataDir = path.resolve(cwd, result.dataDir);
  return result;
}

/** The store settings checked at load: a secret key that parses, a CA file that exists. */
function storeProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.store.secretKey) {
    try {
      parseSecretKeys(config.store.secretKey);
    } catch (error) {
      problems.push(`store.secretKey (ISLET_SECRET_KEY): ${(error as Error).message}`);
    }
  }
  if (config.store.sslCaFile && !fs.existsSync(config.store.sslCaFile)) {
    problems.push(`store.sslCaFile (ISLET_STORE_SSL_CA_FILE): ${config.store.sslCaFile} does not exist`);
  }
  return problems;
}

/**
 * What serving on a shared (PostgreSQL) store needs besides its URL: a secret key (tenant secrets
 * are encrypted with it) and an operator token every node accepts alike (a generated one would
 * differ per node). Throws ConfigError; `islet serve` calls it, store tools need less.
 */
export function checkSharedStore(config: Config): void {
  if (!/^postgres(ql)?:/.test(config.store.url)) return;
  const problems: string[] = [];
  if (!config.store.secretKey) {
    problems.push(
      'store.secretKey (ISLET_SECRET_KEY): required with a postgres:// store.url, ' +
        'it encrypts tenant secrets (`islet store keygen` prints one)',
    );
  }
  if (!config.adminToken) {
    problems.push(
      'adminToken (ISLET_ADMIN_TOKEN): required with a postgres:// store.url: ' +
        'every node must accept the same operator token',
    );
  }
  if (problems.length) throw new ConfigError(problems);
}

/**
 * The limits that apply to one tenant: config defaults, then `tenants.<name>.limits` from the
 * config, then the tenant record's `limits` from the store (set through the admin API). Invalid
 * store values are skipped and reported through `onProblem` so one bad record cannot stop serving.
 */
export function resolveLimits(
  config: Config,
  tenant: string,
  recordLimits?: Record<string, number>,
  onProblem?: (problem: string) => void,
): Limits {
  const fromConfig = config.tenants[tenant]?.limits;
  let fromRecord: Partial<Limits> = {};
  if (recordLimits) {
    const { limits, problems } = validateLimits(recordLimits, `tenant ${tenant} limits`);
    fromRecord = limits;
    for (const p of problems) onProblem?.(p);
  }
  return { ...config.limits, ...fromConfig, ...fromRecord };
}
