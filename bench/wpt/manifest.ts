// Which WPT test files run, as what, and which are not applicable: read from a WPT checkout (never
// from the repository). A test file's `// META:` lines name its globals, its script dependencies,
// its timeout, its title and its variants; each variant is one job (a fresh global, as WPT runs
// it). The rules deciding that a file is not applicable look at the file and its dependencies
// only, never at a result, so they hold for islet and workerd alike.
import fs from 'node:fs';
import path from 'node:path';
import { evalHiddenNames, importedScripts } from './script-facts';

/** the directories the issue names, in report order */
export const defaultDirs = [
  'fetch/api',
  'encoding',
  'url',
  'streams',
  'FileAPI',
  'xhr/formdata',
  'dom/events',
  'dom/abort',
  'html/webappapis/structured-clone',
  'html/webappapis/timers',
  'compression',
  'WebCryptoAPI',
];

export interface Script {
  /** the script's path in the WPT tree, e.g. /resources/testharness.js */
  name: string;
  code: string;
  /** top-level names an indirect eval would keep local (script-facts.ts) */
  hidden: string[];
}

export interface Job {
  /** `<test path><variant>`, unique in a run */
  id: string;
  dir: string;
  test: string;
  variant: string;
  /** the URL the test sees as `location` (its worker script's URL on the static server) */
  url: string;
  title: string | null;
  timeoutMs: number;
  scripts: Script[];
}

export interface NotApplicable {
  dir: string;
  test: string;
  reason: string;
}

export interface Manifest {
  jobs: Job[];
  notApplicable: NotApplicable[];
}

interface Meta {
  globals: string[] | null;
  scripts: string[];
  long: boolean;
  title: string | null;
  variants: string[];
}

function readMeta(code: string): Meta {
  const meta: Meta = { globals: null, scripts: [], long: false, title: null, variants: [] };
  for (const line of code.split('\n')) {
    const m = /^\/\/ META: *([a-z]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const value = m[2].trim();
    if (m[1] === 'global') meta.globals = value.split(',').map((g) => g.trim());
    else if (m[1] === 'script') meta.scripts.push(value);
    else if (m[1] === 'timeout') meta.long = value === 'long';
    else if (m[1] === 'title') meta.title = value;
    else if (m[1] === 'variant') meta.variants.push(value);
  }
  return meta;
}

/** WPT's worker scopes; an .any.js with none of them runs only in a window (a document) */
const workerGlobals = /^(worker|dedicatedworker|sharedworker|serviceworker)(-module)?$|^jsshell$/;

/** a .window.js that touches none of these runs the same in a worker (the "where it makes sense") */
const documentOnly = /\bdocument\b|\bwindow\.|\biframe\b|\bframes\b|MediaSource|\bopen\(/;

/**
 * Dynamic parts of the WPT server the runner does not have: Python handlers (`*.py`), `{{...}}`
 * substitutions, its other hosts and ports (get_host_info). The runner serves the WPT tree's files
 * as they are, so a test that needs one of these is not applicable on either side.
 */
function needsWptServer(code: string): string | null {
  if (/\.py\b/.test(code)) return 'needs the WPT server (a Python handler)';
  if (/\{\{[a-z_]+(\[|\}\})/.test(code)) return 'needs the WPT server ({{...}} substitution)';
  if (/get_host_info\s*\(/.test(code)) return "needs the WPT server's other hosts (get_host_info)";
  return null;
}

function resolveScript(testPath: string, script: string): string {
  return script.startsWith('/') ? script : path.posix.join(path.posix.dirname(testPath), script);
}

function listTests(root: string, dir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = path.posix.join(rel, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'resources' && entry.name !== 'support') walk(child);
      } else if (/\.(any|window|worker)\.js$/.test(entry.name)) found.push(child);
    }
  };
  walk(dir);
  return found.sort();
}

/** the URL a test's worker script has on the WPT server: foo.any.js runs as foo.any.worker.js */
function workerUrl(base: string, test: string): string {
  const name = test.endsWith('.any.js')
    ? test.replace(/\.js$/, '.worker.js')
    : test.endsWith('.window.js')
      ? test.replace(/\.js$/, '.html')
      : test;
  return `${base}/${name}`;
}

export function buildManifest(
  root: string,
  dirs: string[],
  options: { baseUrl: string; timeoutMultiplier: number; filter?: RegExp },
): Manifest {
  const jobs: Job[] = [];
  const notApplicable: NotApplicable[] = [];
  const files = new Map<string, Script>();
  /** the script at a WPT path (/a/b.js), read and parsed once per run */
  const script = (name: string): Script => {
    let s = files.get(name);
    if (s === undefined) {
      const code = fs.readFileSync(path.join(root, name), 'utf8');
      s = { name, code, hidden: evalHiddenNames(code) };
      files.set(name, s);
    }
    return s;
  };
  const harness = script('/resources/testharness.js');
  for (const dir of dirs) {
    if (!fs.existsSync(path.join(root, dir))) throw new Error(`wpt: ${dir} is not a directory of ${root}`);
    for (const rel of listTests(root, dir)) {
      if (options.filter && !options.filter.test(rel)) continue;
      const test = `/${rel}`;
      const code = script(test).code;
      const meta = readMeta(code);
      const skip = (reason: string) => notApplicable.push({ dir, test, reason });
      const globals = meta.globals ?? ['window', 'dedicatedworker'];
      if (rel.endsWith('.any.js') && !globals.some((g) => workerGlobals.test(g))) {
        skip(`runs only in ${globals.join(', ')}, not in a worker`);
        continue;
      }
      if (rel.endsWith('.window.js') && (documentOnly.test(code) || /shadowrealm/i.test(rel))) {
        skip('a window test that needs a document, a frame or a shadow realm');
        continue;
      }
      const scripts: Script[] = [harness];
      let missing: string | null = null;
      // A worker test loads its own dependencies with importScripts; they are evaluated ahead of
      // it, and the harness worker's importScripts() accepts those it already ran.
      const dependencies = rel.endsWith('.worker.js') ? importedScripts(code) : meta.scripts;
      for (const s of dependencies) {
        const name = resolveScript(test, s);
        if (name === harness.name) continue;
        if (!fs.existsSync(path.join(root, name))) {
          missing = name;
          break;
        }
        scripts.push(script(name));
      }
      if (missing) {
        skip(`its META script ${missing} is not in this WPT checkout`);
        continue;
      }
      // The harness's own libraries under /resources/ are not the test's: a test needs the
      // server when it or a script of its own does.
      const own = [code, ...scripts.filter((s) => !s.name.startsWith('/resources/')).map((s) => s.code)];
      const server = own.map(needsWptServer).find((r) => r !== null);
      if (server) {
        skip(server);
        continue;
      }
      scripts.push(script(test));
      const timeoutMs = Math.round((meta.long ? 60_000 : 10_000) * options.timeoutMultiplier);
      for (const variant of meta.variants.length ? meta.variants : ['']) {
        jobs.push({
          id: test + variant,
          dir,
          test,
          variant,
          url: workerUrl(options.baseUrl, rel) + variant,
          title: meta.title,
          timeoutMs,
          scripts,
        });
      }
    }
  }
  return { jobs, notApplicable };
}
