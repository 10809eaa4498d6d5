// `npm run wpt -- --wpt <checkout> [--dirs fetch/api,url] [--filter regex] [--only islet|workerd]
//   [--jobs 2] [--timeout-multiplier 1.5] [--out bench/results/wpt.json] [--details file.json]`
// Runs web-platform-tests from a WPT checkout outside the repository against islet and workerd,
// the same files in the same run, and writes per directory the subtests each side passed
// (JSON, and a markdown table beside it). See bench/wpt/README.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machineInfo } from '../lib/machine';
import { workerdPackage } from '../peers/systems/workerd';
import { runIslet } from './islet-side';
import { consoleProgress, type SideResults } from './jobs';
import { buildManifest, defaultDirs } from './manifest';
import { startStaticServer } from './static-server';
import { markdown, tally } from './tally';
import { runWorkerd } from './workerd-side';

const repoRoot = path.resolve(__dirname, '../../..');

interface Args {
  wpt: string;
  dirs: string[];
  filter?: RegExp;
  only?: 'islet' | 'workerd';
  jobs: number;
  timeoutMultiplier: number;
  out: string;
  details?: string;
}

const usage =
  'usage: npm run wpt -- --wpt <wpt checkout> [--dirs a,b] [--filter regex] [--only islet|workerd]\n' +
  '                      [--jobs 2] [--timeout-multiplier 1.5] [--out results.json] [--details all-subtests.json]';

function parseArgs(argv: string[]): Args {
  let wpt: string | undefined;
  const args: Omit<Args, 'wpt'> = {
    dirs: defaultDirs,
    jobs: 2,
    timeoutMultiplier: 1.5,
    out: path.join(repoRoot, 'bench/results/wpt.json'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`wpt: ${a} needs a value\n${usage}`);
      return v;
    };
    if (a === '--wpt') wpt = path.resolve(value());
    else if (a === '--dirs') args.dirs = value().split(',').filter(Boolean);
    else if (a === '--filter') args.filter = new RegExp(value());
    else if (a === '--only') {
      const side = value();
      if (side !== 'islet' && side !== 'workerd') throw new Error(`wpt: --only takes islet or workerd, not '${side}'`);
      args.only = side;
    } else if (a === '--jobs') args.jobs = Number(value());
    else if (a === '--timeout-multiplier') args.timeoutMultiplier = Number(value());
    else if (a === '--out') args.out = path.resolve(value());
    else if (a === '--details') args.details = path.resolve(value());
    else if (a === '--help' || a === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`wpt: unknown argument '${a}'\n${usage}`);
  }
  if (!wpt) throw new Error(`wpt: --wpt <path of a WPT checkout> is required\n${usage}`);
  if (!fs.existsSync(path.join(wpt, 'resources/testharness.js'))) {
    throw new Error(`wpt: ${wpt} is not a WPT checkout (no resources/testharness.js)`);
  }
  if (!Number.isInteger(args.jobs) || args.jobs < 1) throw new Error('wpt: --jobs takes a positive integer');
  if (!(args.timeoutMultiplier > 0)) throw new Error('wpt: --timeout-multiplier takes a positive number');
  return { wpt, ...args };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-wpt-'));
  const resources = await startStaticServer(args.wpt);
  try {
    const manifest = buildManifest(args.wpt, args.dirs, {
      baseUrl: resources.baseUrl,
      timeoutMultiplier: args.timeoutMultiplier,
      filter: args.filter,
    });
    const { jobs } = manifest;
    process.stderr.write(`wpt: ${jobs.length} jobs, ${manifest.notApplicable.length} files not applicable\n`);
    const ctx = { repoRoot, tmpDir, upstreamUrl: resources.baseUrl };
    const progress = consoleProgress(jobs.length);
    const sides: Partial<Record<'islet' | 'workerd', SideResults>> = {};
    if (args.only !== 'workerd') sides.islet = await runIslet(ctx, jobs, { concurrency: args.jobs, progress });
    if (args.only !== 'islet') sides.workerd = await runWorkerd(ctx, jobs, { concurrency: args.jobs, progress });
    const counted = tally(args.dirs, jobs, manifest.notApplicable, sides);
    const wptVersion = fs.existsSync(path.join(args.wpt, 'versions.json'))
      ? JSON.parse(fs.readFileSync(path.join(args.wpt, 'versions.json'), 'utf8'))
      : null;
    const output = {
      command: `npm run wpt -- ${process.argv.slice(2).join(' ')}`,
      date: new Date().toISOString(),
      seconds: Math.round((Date.now() - started) / 1000),
      machine: machineInfo(repoRoot),
      workerd: { version: workerdPackage().version, compatibilityDate: workerdPackage().compatibilityDate },
      wptVersions: wptVersion,
      ...counted,
    };
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, `${JSON.stringify(output, null, 1)}\n`);
    const table = markdown(
      counted,
      `WPT subtests passed, islet and workerd ${workerdPackage().version} on the same files in one run ` +
        `(\`${output.command}\`, ${output.date.slice(0, 10)}):`,
    );
    fs.writeFileSync(args.out.replace(/\.json$/, '.md'), table);
    if (args.details) {
      const details = jobs.map((job) => ({
        id: job.id,
        islet: sides.islet?.get(job.id),
        workerd: sides.workerd?.get(job.id),
      }));
      fs.writeFileSync(args.details, JSON.stringify(details, null, 1));
    }
    console.log(table);
  } finally {
    await resources.close();
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
