// Module resolution inside an upload, done by islet rather than esbuild so that it can only ever
// look at the uploaded files: relative imports, an import map (`import_map.json`, or `imports`
// in the root package.json), and packages under node_modules (package.json `exports` with the
// conditions a Workers-style runtime matches, else `module`/`main`/index). Node built-ins
// (`node:x` or the bare name, as Workers' nodejs_compat allows) and `cloudflare:workers` resolve
// to islet's built-in modules, which stay imports for the isolate's linker; other URLs are refused.
import { builtinModules } from 'node:module';
import path from 'node:path';
import { builtinRegistry } from '../tenants/builtins';
import type { UploadFs } from './upload-fs';

export interface Resolved {
  path: string;
  /** reached through a bare specifier (a package or an import map entry), not a relative path */
  bare: boolean;
}

/** one of islet's built-in modules, by its id (node:buffer, cloudflare:workers) */
export interface ResolvedBuiltin {
  builtin: string;
}

export type Resolution = Resolved | ResolvedBuiltin | { error: string };

/** matched in the order a package lists them; `require` only when nothing else matches */
const conditions = new Set(['workerd', 'worker', 'browser', 'import', 'module', 'default']);
const fallbackConditions = new Set([...conditions, 'require']);
const probeExtensions = ['.ts', '.tsx', '.js', '.mjs', '.jsx', '.cjs', '.mts', '.json'];

/** Node's built-in module names, as a bare specifier may name them (`buffer`, `fs/promises`) */
const nodeBuiltins = new Set(builtinModules.filter((name) => !name.startsWith('_')));

/** the built-in module `specifier` names, an error when it names one islet does not have, or
 *  undefined when it is no built-in name at all */
export function resolveBuiltin(specifier: string, where: string): ResolvedBuiltin | { error: string } | undefined {
  let id: string;
  if (specifier.startsWith('node:')) id = specifier;
  else if (specifier.startsWith('cloudflare:')) id = specifier;
  else if (nodeBuiltins.has(specifier)) id = `node:${specifier}`;
  else return undefined;
  if (Object.prototype.hasOwnProperty.call(builtinRegistry().modules, id)) return { builtin: id };
  if (id.startsWith('cloudflare:')) {
    return { error: `cannot resolve ${where}: islet offers cloudflare:workers, not ${id}` };
  }
  return { error: `cannot resolve ${where}: ${id} is not a Node.js built-in module islet offers` };
}

type ExportsTarget = string | null | ExportsTarget[] | { [key: string]: ExportsTarget };

function join(base: string, rel: string): string | null {
  const joined = path.posix.normalize(path.posix.join(base, rel));
  if (joined === '..' || joined.startsWith('../') || path.posix.isAbsolute(joined)) return null;
  return joined === '.' ? '' : joined;
}

export class Resolver {
  #fs: UploadFs;
  #importMap: Record<string, string>;

  constructor(fs: UploadFs) {
    this.#fs = fs;
    this.#importMap = this.#loadImportMap();
  }

  /** the import map in force (specifier or prefix -> target), for the manifest */
  get importMap(): Record<string, string> {
    return this.#importMap;
  }

  #json(file: string): any {
    const data = this.#fs.read(file);
    if (!data) return null;
    try {
      return JSON.parse(data.toString('utf8'));
    } catch (error) {
      throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
    }
  }

  #loadImportMap(): Record<string, string> {
    const map: Record<string, string> = {};
    const pkg = this.#json('package.json');
    if (pkg && typeof pkg.imports === 'object' && pkg.imports) {
      for (const [key, value] of Object.entries(pkg.imports as Record<string, ExportsTarget>)) {
        const target = this.#pickTarget(value, conditions) ?? this.#pickTarget(value, fallbackConditions);
        if (typeof target === 'string') map[key] = target;
      }
    }
    const importMap = this.#json('import_map.json');
    if (importMap) {
      if (typeof importMap.imports !== 'object' || importMap.imports === null) {
        throw new Error('import_map.json must have an "imports" object');
      }
      for (const [key, value] of Object.entries(importMap.imports)) {
        if (typeof value !== 'string') throw new Error(`import_map.json: the target of "${key}" must be a string`);
        map[key] = value;
      }
    }
    return map;
  }

  /** resolves `specifier` imported by the module at `importer` (a path inside the upload) */
  resolve(specifier: string, importer: string, hops = 0, original = specifier): Resolution {
    const where = `'${specifier}' imported by ${importer}`;
    if (hops > 16) return { error: `cannot resolve '${original}' imported by ${importer}: the import map sends it round in a loop` };
    const mapped = this.#fromImportMap(specifier);
    if (mapped !== undefined) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(mapped)) return { error: `cannot resolve ${where}: the import map points it at ${mapped}, and islet does not fetch modules from URLs` };
      if (mapped.startsWith('./') || mapped.startsWith('../') || mapped.startsWith('/')) {
        const file = join('', mapped.replace(/^\/+/, ''));
        const found = file === null ? null : this.#probeFile(file);
        return found ? { path: found, bare: true } : { error: `cannot resolve ${where}: the import map points it at '${mapped}', which is not in the upload` };
      }
      if (mapped !== specifier) return this.resolve(mapped, importer, hops + 1, original);
    }
    if (specifier.startsWith('./') || specifier.startsWith('../') || specifier === '.' || specifier === '..') {
      const file = join(path.posix.dirname(importer), specifier);
      if (file === null) return { error: `cannot resolve ${where}: it points outside the upload` };
      const found = this.#probeFile(file) ?? this.#probeDir(file);
      return found ? { path: found, bare: false } : { error: `cannot resolve ${where}: no such file in the upload` };
    }
    if (specifier.startsWith('/')) {
      return { error: `cannot resolve ${where}: absolute paths are not allowed, use a relative import` };
    }
    const builtin = resolveBuiltin(specifier, where);
    if (builtin !== undefined) return builtin;
    if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) {
      return { error: `cannot resolve ${where}: URL imports are not supported, put the module in the upload` };
    }
    return this.#resolvePackage(specifier, importer, where);
  }

  #fromImportMap(specifier: string): string | undefined {
    const exact = this.#importMap[specifier];
    if (exact !== undefined) return exact;
    let best: string | undefined;
    for (const key of Object.keys(this.#importMap)) {
      if (key.endsWith('/') && specifier.startsWith(key) && (!best || key.length > best.length)) best = key;
    }
    if (best === undefined) return undefined;
    return this.#importMap[best] + specifier.slice(best.length);
  }

  #probeFile(file: string): string | null {
    if (file !== '' && this.#fs.isFile(file)) return file;
    for (const ext of probeExtensions) if (this.#fs.isFile(file + ext)) return file + ext;
    // TypeScript sources import their siblings by the name they will have once compiled
    const js = /\.(m|c)?jsx?$/.exec(file);
    if (js) {
      const stem = file.slice(0, -js[0].length);
      for (const ext of ['.ts', '.tsx', '.mts', '.cts']) if (this.#fs.isFile(stem + ext)) return stem + ext;
    }
    return null;
  }

  #probeDir(dir: string): string | null {
    if (!this.#fs.isDir(dir)) return null;
    const pkg = this.#json(dir === '' ? 'package.json' : `${dir}/package.json`);
    for (const field of ['module', 'main']) {
      if (pkg && typeof pkg[field] === 'string') {
        const target = join(dir, pkg[field]);
        const found = target === null ? null : this.#probeFile(target) ?? this.#probeDir(target);
        if (found) return found;
      }
    }
    return this.#probeFile(dir === '' ? 'index' : `${dir}/index`);
  }

  #resolvePackage(specifier: string, importer: string, where: string): Resolution {
    const parts = specifier.split('/');
    const nameLength = specifier.startsWith('@') ? 2 : 1;
    const name = parts.slice(0, nameLength).join('/');
    const subpath = parts.length > nameLength ? './' + parts.slice(nameLength).join('/') : '.';
    if (!name || (nameLength === 2 && parts.length < 2)) return { error: `cannot resolve ${where}: not a valid package name` };
    // node_modules folders from the importer's folder up to the root, nearest first
    let dir = path.posix.dirname(importer);
    for (;;) {
      const base = dir === '.' || dir === '' ? '' : dir;
      const candidate = `${base ? base + '/' : ''}node_modules/${name}`;
      if (this.#fs.isDir(candidate)) {
        const found = this.#resolveInPackage(candidate, subpath, where);
        return typeof found === 'string' ? { path: found, bare: true } : found;
      }
      if (base === '') break;
      dir = path.posix.dirname(base);
    }
    return { error: `cannot resolve ${where}: package '${name}' is not in the upload (add it under node_modules/, map it in import_map.json, or deploy with bundle=true from a folder that has it)` };
  }

  #resolveInPackage(pkgDir: string, subpath: string, where: string): string | { error: string } {
    const pkg = this.#json(`${pkgDir}/package.json`) ?? {};
    if (pkg.exports !== undefined && pkg.exports !== null) {
      const target = this.#resolveExports(pkg.exports as ExportsTarget, subpath);
      if (target === null) return { error: `cannot resolve ${where}: ${pkgDir}/package.json does not export '${subpath}'` };
      const file = join(pkgDir, target);
      const found = file === null ? null : this.#probeFile(file);
      return found ?? { error: `cannot resolve ${where}: ${pkgDir}/package.json exports '${subpath}' as '${target}', which is not in the upload` };
    }
    const file = subpath === '.' ? pkgDir : join(pkgDir, subpath);
    const found = file === null ? null : (subpath === '.' ? this.#probeDir(file) : this.#probeFile(file) ?? this.#probeDir(file));
    return found ?? { error: `cannot resolve ${where}: no entry file found in ${pkgDir}` };
  }

  #resolveExports(exports: ExportsTarget, subpath: string): string | null {
    const isSubpathMap =
      typeof exports === 'object' && exports !== null && !Array.isArray(exports) && Object.keys(exports).some((k) => k.startsWith('.'));
    if (!isSubpathMap) return subpath === '.' ? this.#pick(exports) : null;
    const map = exports as Record<string, ExportsTarget>;
    if (subpath in map) return this.#pick(map[subpath]!);
    // subpath patterns: the longest key before its `*` wins
    let bestKey: string | null = null;
    let bestMatch = '';
    for (const key of Object.keys(map)) {
      const star = key.indexOf('*');
      if (star < 0) continue;
      const prefix = key.slice(0, star);
      const suffix = key.slice(star + 1);
      if (subpath.startsWith(prefix) && subpath.endsWith(suffix) && subpath.length >= key.length - 1) {
        if (bestKey === null || prefix.length > bestKey.indexOf('*')) {
          bestKey = key;
          bestMatch = subpath.slice(prefix.length, subpath.length - suffix.length);
        }
      }
    }
    if (bestKey === null) return null;
    const target = this.#pick(map[bestKey]!);
    return target === null ? null : target.replaceAll('*', bestMatch);
  }

  #pick(target: ExportsTarget): string | null {
    return this.#pickTarget(target, conditions) ?? this.#pickTarget(target, fallbackConditions);
  }

  #pickTarget(target: ExportsTarget, active: Set<string>, depth = 0): string | null {
    if (typeof target === 'string') return target;
    if (target === null || typeof target !== 'object') return null;
    // real packages nest conditions a few levels deep; a hostile one must not exhaust the stack
    if (depth > 32) throw new Error('a package.json "exports"/"imports" entry nests conditions more than 32 levels deep');
    if (Array.isArray(target)) {
      for (const item of target) {
        const picked = this.#pickTarget(item, active, depth + 1);
        if (picked !== null) return picked;
      }
      return null;
    }
    for (const [key, value] of Object.entries(target)) {
      if (!active.has(key)) continue;
      const picked = this.#pickTarget(value, active, depth + 1);
      if (picked !== null) return picked;
    }
    return null;
  }
}
