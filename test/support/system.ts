// Tests that need a program of the operating system (a browser, promtool, a PostgreSQL server)
// ask for it here. On a developer's machine without it the test is skipped with one line that
// names the program and the command that installs it, so `npm test` on a bare machine passes
// and says what it did not run. With CI=true the program is mandatory: `.ci/run` installs it, so
// its absence there is a broken CI image, and the test fails instead of hiding the gap.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export interface SystemProgram {
  /** what the program is, as a reader would name it */
  name: string;
  /** the command that installs it on Debian */
  install: string;
  /** where it was found, or null */
  path: string | null;
}

const inCI = process.env.CI === 'true';

/** the first executable named `command` on PATH (or the absolute path itself), else null */
export function findExecutable(command: string): string | null {
  if (path.isAbsolute(command)) return isExecutable(command) ? command : null;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The test option that skips a test (or suite) when `program` is missing, or false to run it.
 * Use as `test('…', needs(chromium), async () => …)` or `describe('…', needs(promtool), …)`.
 * With CI=true a missing program does not skip: the test runs and fails where it uses it, and a
 * diagnostic line says why.
 */
export function needs(...programs: SystemProgram[]): { skip: string | false } {
  const missing = programs.filter((p) => !p.path);
  if (missing.length === 0) return { skip: false };
  const reason = missing.map((p) => `${p.name} is not installed (${p.install})`).join('; ');
  if (inCI) {
    process.stderr.write(`CI=true and ${reason}: .ci/run must install it\n`);
    return { skip: false };
  }
  return { skip: reason };
}

/** Debian's chromium, or the browser ISLET_CHROMIUM names */
export const chromium: SystemProgram = {
  name: 'chromium',
  install: 'apt-get install -y chromium, or set ISLET_CHROMIUM',
  path: findExecutable(process.env.ISLET_CHROMIUM ?? 'chromium'),
};

/** Prometheus's promtool (Debian's prometheus package) */
export const promtool: SystemProgram = {
  name: 'promtool',
  install: 'apt-get install -y prometheus',
  path: findExecutable('promtool'),
};

/** the Prometheus server (Debian's prometheus package) */
export const prometheus: SystemProgram = {
  name: 'prometheus',
  install: 'apt-get install -y prometheus',
  path: findExecutable('prometheus'),
};

/** PostgreSQL 15's server binaries (Debian's postgresql-15 package), or ISLET_PG_BIN */
export const postgres: SystemProgram = {
  name: 'PostgreSQL 15',
  install: 'apt-get install -y postgresql-15',
  path: findExecutable(path.join(process.env.ISLET_PG_BIN ?? '/usr/lib/postgresql/15/bin', 'postgres')),
};

/** runs `program --version` and returns its first line, for a test's diagnostic output */
export function versionOf(program: SystemProgram): string {
  if (!program.path) return 'absent';
  const result = spawnSync(program.path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return (result.stdout || result.stderr || '').split('\n')[0]!.trim();
}
