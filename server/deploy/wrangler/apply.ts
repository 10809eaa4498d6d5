// A deploy's options with its wrangler file applied (server/deploy/build.ts calls this first):
// what the upload's options say wins (an explicit entry, routes, compatibility), the file fills
// in the rest, and its bindings go into the manifest, where the tenant layer reads them.
import type { BindingDeclarations } from '../../bindings/declarations';
import { isEmpty } from '../../bindings/declarations';
import { readWranglerConfig, type WranglerConfig } from './config';
import { findConfig } from './parse';

export interface WranglerOptions {
  entry?: string;
  routes?: string[];
  compatibility?: Record<string, unknown>;
}

export interface AppliedConfig<O extends WranglerOptions> {
  options: O;
  /** the config file read (to keep among the build's inputs), or null */
  file: string | null;
  /** what the file declares, or undefined when nothing */
  bindings?: BindingDeclarations;
  warnings: string[];
}

/** the upload's wrangler config, read; null when it has none (throws DeployError for a bad one) */
export function wranglerConfig(files: ReadonlyMap<string, Buffer>): WranglerConfig | null {
  const found = findConfig(files);
  return found ? readWranglerConfig(found) : null;
}

export function applyWrangler<O extends WranglerOptions>(
  tenant: string,
  files: ReadonlyMap<string, Buffer>,
  options: O,
): AppliedConfig<O> {
  const config = wranglerConfig(files);
  if (!config) return { options, file: null, warnings: [] };
  const warnings = [...config.warnings];
  if (config.name && config.name !== tenant) {
    warnings.push(`${config.file} names the worker '${config.name}'; it is deployed as tenant '${tenant}'`);
  }
  const next: O = { ...options };
  if (next.entry === undefined && config.main !== undefined) next.entry = config.main;
  if (!next.routes?.length && config.routes !== undefined) next.routes = config.routes;
  if (config.compatibility) next.compatibility = { ...config.compatibility, ...next.compatibility };
  const applied: AppliedConfig<O> = { options: next, file: config.file, warnings };
  if (!isEmpty(config.bindings)) applied.bindings = config.bindings;
  return applied;
}
