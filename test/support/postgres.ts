// A private PostgreSQL cluster for a test file: initdb into a temp folder (as the `postgres` user
// when the tests run as root, since PostgreSQL refuses to run as root), a free port on 127.0.0.1,
// its unix socket inside the temp folder, torn down after the file (and killed with it if the
// test process dies: a small shell watchdog stops the server once its owner's pid is gone).
// Without PostgreSQL installed the suites skip with one line saying how to install it, unless
// CI=true, where they must run (system.ts; ISLET_PG_BIN points at other server binaries).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { needs, postgres } from './system';

const binDir = postgres.path ? path.dirname(postgres.path) : null;
const asRoot = process.getuid?.() === 0;

/**
 * The option that skips a PostgreSQL suite when the server binaries are missing (see
 * system.ts: never with CI=true), or when running as root without a `postgres` user to run
 * the server as. Use as `describe('…', needsPostgres(), …)`.
 */
export function needsPostgres(): { skip: string | false } {
  const option = needs(postgres);
  if (option.skip || process.env.CI === 'true') return option;
  if (asRoot && spawnSync('id', ['-u', 'postgres']).status !== 0)
    return { skip: `running as root without a 'postgres' user to run PostgreSQL as (${postgres.install})` };
  return option;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** runs a program as the postgres user when we are root, else as ourselves */
function asPostgres(program: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args];
}

// The server runs under a shell that stops it when the test process (its owner) is gone.
const watchdog = `bin=$1; data=$2; port=$3; sock=$4; owner=$5; log=$6; shift 6
"$bin" -D "$data" -p "$port" -k "$sock" -c listen_addresses=127.0.0.1 "$@" >>"$log" 2>&1 &
pg=$!
trap 'kill -INT $pg 2>/dev/null' INT TERM
while kill -0 $pg 2>/dev/null; do
  if [ -d /proc/self ] && [ ! -d "/proc/$owner" ]; then kill -INT $pg 2>/dev/null; fi
  sleep 0.5
done
wait $pg`;

export interface PostgresOptions {
  /** fsync on (benchmarks comparing durable writes); off by default: tests kill clients, not the server */
  durable?: boolean;
  /** serve TLS with a self-signed certificate for localhost / 127.0.0.1 (needs openssl) */
  ssl?: boolean;
}

export class PostgresCluster {
  readonly dir: string;
  readonly port: number;
  readonly #options: PostgresOptions;
  #child: ChildProcess | null = null;
  #databases = 0;

  private constructor(dir: string, port: number, options: PostgresOptions) {
    this.dir = dir;
    this.port = port;
    this.#options = options;
  }

  static async start(options: PostgresOptions = {}): Promise<PostgresCluster> {
    assert.ok(binDir, `${postgres.name} is not installed (${postgres.install}); CI=true requires it`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-pg-'));
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
      fs.chownSync(dir, uid, gid);
    }
    const cluster = new PostgresCluster(dir, await freePort(), options);
    process.once('exit', () => cluster.#kill());
    const [program, args] = asPostgres(path.join(binDir, 'initdb'), [
      '-D',
      cluster.dataDir,
      '-U',
      'islet',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--no-locale',
      '--no-sync',
      '--no-instructions',
    ]);
    const init = spawnSync(program, args, { encoding: 'utf8' });
    assert.equal(init.status, 0, `initdb failed: ${init.stderr || init.error?.message}`);
    if (options.ssl) cluster.#makeCertificate();
    await cluster.startServer();
    return cluster;
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  /** the self-signed certificate (also its own CA) when started with ssl */
  get certificate(): string {
    return path.join(this.dir, 'server.crt');
  }

  url(database = 'postgres'): string {
    return `postgres://islet@127.0.0.1:${this.port}/${database}`;
  }

  /** a fresh, empty database; resolves with its URL */
  async createDatabase(): Promise<string> {
    const name = `islet_test_${++this.#databases}`;
    await this.sql(`CREATE DATABASE ${name} STRATEGY FILE_COPY`);
    return this.url(name);
  }

  async sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    database = 'postgres',
    params: unknown[] = [],
  ): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.url(database) });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query<R>(text, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** ends every session of `applicationName` the way an operator would (pg_terminate_backend) */
  async terminate(applicationName: string): Promise<number> {
    const rows = await this.sql<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
      'postgres',
      [applicationName],
    );
    return rows.filter((r) => r.ok).length;
  }

  async startServer(): Promise<void> {
    const settings = ['-c', 'max_connections=200'];
    if (!this.#options.durable)
      settings.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
    if (this.#options.ssl)
      settings.push(
        '-c',
        'ssl=on',
        '-c',
        `ssl_cert_file=${this.certificate}`,
        '-c',
        `ssl_key_file=${path.join(this.dir, 'server.key')}`,
      );
    const logFile = path.join(this.dir, 'postgres.log');
    const [program, args] = asPostgres('sh', [
      '-c',
      watchdog,
      'sh',
      path.join(binDir!, 'postgres'),
      this.dataDir,
      String(this.port),
      this.dir,
      String(process.pid),
      logFile,
      ...settings,
    ]);
    const child = spawn(program, args, { stdio: 'ignore' });
    this.#child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`postgres exited (${code}):\n${this.log().slice(-2000)}`))),
    );
    exited.catch(() => {});
    const until = Date.now() + 30_000;
    for (;;) {
      try {
        await Promise.race([this.sql('SELECT 1'), exited]);
        return;
      } catch (error) {
        if (Date.now() > until || /postgres exited/.test((error as Error).message)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** fast shutdown (SIGINT): sessions are cut, the server exits; start it again with startServer() */
  async stopServer(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    this.#signal('SIGINT');
    await exited;
    this.#child = null;
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'postgres.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async teardown(): Promise<void> {
    await this.stopServer().catch(() => {});
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  #signal(signal: NodeJS.Signals): void {
    try {
      const pid = Number(fs.readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, signal);
    } catch {
      // not running
    }
  }

  /** the test process is exiting without teardown: stop the server now and remove its files */
  #kill(): void {
    if (this.#child && this.#child.exitCode === null) this.#signal('SIGKILL');
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // the watchdog still stops the server; only the folder may stay behind in /tmp
    }
  }

  #makeCertificate(): void {
    const { key } = makeCertificate(this.dir, 'server');
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
      fs.chownSync(key, uid, gid);
      fs.chownSync(this.certificate, uid, gid);
    }
  }
}

/** a self-signed certificate (its own CA) for localhost and 127.0.0.1: `<dir>/<name>.crt` and `.key` */
export function makeCertificate(dir: string, name: string): { certificate: string; key: string } {
  const key = path.join(dir, `${name}.key`);
  const certificate = path.join(dir, `${name}.crt`);
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      certificate,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(made.status, 0, `openssl could not make a certificate: ${made.stderr || made.error?.message}`);
  fs.chmodSync(key, 0o600);
  return { certificate, key };
}
