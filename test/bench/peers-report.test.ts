// BENCHMARKS.md and its charts are generated from the results JSON: the ratios, the aims verdict
// and the reasons a system was not measured must come out of it exactly.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { LoadResult } from '../../bench/lib/loadgen';
import { niceMax } from '../../bench/lib/svg-chart';
import { writeReport } from '../../bench/peers/report';
import type { PeerResults } from '../../bench/peers/results';
import { summarize } from '../../bench/peers/throughput';

function load(rps: number, p99: number): LoadResult {
  return {
    requestsPerSecond: rps,
    ok: rps * 5,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    bytesPerSecond: rps * 100,
    durationSeconds: 5,
    latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, max: p99 * 2 },
    statusCodes: { '200': rps * 5 },
  };
}

function sample(): PeerResults {
  const raw = {
    hello: {
      node: [
        { round: 1, result: load(30000, 2) },
        { round: 2, result: load(32000, 2) },
        { round: 3, result: load(31000, 2) },
      ],
      workerd: [
        { round: 1, result: load(10000, 8) },
        { round: 2, result: load(9000, 9) },
        { round: 3, result: load(11000, 10) },
      ],
      islet: [
        { round: 1, result: load(20000, 4) },
        { round: 2, error: 'islet (islet) failed to serve the workload: boom' },
        { round: 3, result: load(22000, 4) },
      ],
      'islet-w2': [],
    },
  };
  return {
    machine: {
      date: '2026-11-22T04:00:00.000Z',
      hostname: 'h',
      platform: 'linux x64',
      kernel: '6',
      cpuModel: 'cpu',
      cores: 2,
      memoryGiB: 24,
      node: 'v20',
      v8: '11',
      gitCommit: 'abc',
    },
    settings: {
      mode: 'quick',
      rounds: 3,
      systemWarmupSeconds: 1,
      warmupSeconds: 1,
      durationSeconds: 2,
      connections: 32,
      loadGenerator: 'autocannon',
      coldSamples: 1,
      memoryTenants: 10,
    },
    systems: [
      { id: 'node', label: 'node:http', describe: 'bare' },
      { id: 'workerd', label: 'workerd', describe: 'workerd serve' },
      { id: 'islet', label: 'islet', describe: 'islet serve' },
      {
        id: 'islet-w2',
        label: 'islet --workers 2',
        describe: 'supervisor',
        unavailable: 'multi-worker serving is not implemented yet',
      },
    ],
    workloads: [{ id: 'hello', label: 'hello world', describe: 'GET' }],
    throughput: { raw, median: summarize(raw) },
    coldStart: [
      { system: 'workerd (process)', measures: 'spawn to first 200', samplesMs: [20, 30, 25], medianMs: 25, p90Ms: 30 },
    ],
    memory: [{ system: 'islet', measures: 'rss', tenants: 10, error: 'deploying tenant m0 answered 400' }],
    elapsedSeconds: 60,
  };
}

test('medians are taken over the rounds that produced numbers', () => {
  const m = summarize(sample().throughput.raw);
  assert.equal(m.hello.node.requestsPerSecond, 31000);
  assert.equal(m.hello.workerd.p99Ms, 9);
  assert.equal(m.hello.islet.requestsPerSecond, 21000);
  assert.equal(m.hello.islet.rounds, 2);
  assert.equal(m.hello['islet-w2'], undefined);
});

test('BENCHMARKS.md shows ratios, the aims verdict and why a system has no numbers', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-report-'));
  try {
    const files = writeReport(sample(), root)
      .map((f) => path.relative(root, f))
      .sort();
    assert.deepEqual(files, ['BENCHMARKS.md', 'bench/charts/peers-p99.svg', 'bench/charts/peers-rps.svg']);
    const md = fs.readFileSync(path.join(root, 'BENCHMARKS.md'), 'utf8');
    // islet 21000 vs node 31000 and workerd 10000; p99 4 vs 2 and 9 (columns in system order)
    assert.match(md, /\| hello world \| 0\.68x \| 2\.10x \| 2\.00x \| 0\.44x \|/);
    assert.match(
      md,
      /\| hello world \| 31,000 \(30,000–32,000\) \| 10,000 \(9,000–11,000\) \| 21,000 \(20,000–22,000\) \|/,
    );
    assert.match(md, /islet throughput vs workerd \| ≥ 2x \| 2\.10x \| yes/);
    assert.match(md, /islet throughput vs node:http \| ≥ 0\.70x \| 0\.68x \| \*\*no\*\*/);
    assert.match(md, /islet --workers 2 \| \*\*not measured\*\*: multi-worker serving is not implemented yet/);
    assert.match(md, /islet hello round 2: islet \(islet\) failed to serve the workload: boom/);
    assert.match(md, /\| islet \| not measured: deploying tenant m0 answered 400/);
    assert.match(md, /\| workerd \(process\) \| spawn to first 200 \| 25\.0 ms/);
    const svg = fs.readFileSync(path.join(root, 'bench/charts/peers-rps.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<title>islet: 21\.0k<\/title>/);
    assert.ok(!svg.includes('islet --workers 2'), 'a system without numbers gets no bar');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('chart axes end on a round number at or above the largest value', () => {
  assert.equal(niceMax(0), 1);
  assert.equal(niceMax(7), 10);
  assert.equal(niceMax(31000), 50000);
  assert.equal(niceMax(1200), 2000);
  assert.equal(niceMax(100), 100);
});

test('--contention results get their section: kept share, hog cores, islet vs workerd under the same hog', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-report-'));
  try {
    const results = sample();
    const raw = {
      hello: {
        node: [{ round: 1, result: load(15500, 4) }],
        workerd: [{ round: 1, result: load(6000, 12) }],
        islet: [{ round: 1, result: load(9900, 6) }],
        'islet-w2': [],
      },
    };
    results.contention = {
      hogThreads: 1,
      workloads: ['hello'],
      throughput: { raw, median: summarize(raw) },
      hogCores: { hello: { node: [0.9], workerd: [0.7, 0.8, 0.75], islet: [0.5] } },
    };
    const files = writeReport(results, root).map((f) => path.relative(root, f));
    assert.ok(files.includes('bench/charts/peers-contention.svg'));
    const md = fs.readFileSync(path.join(root, 'BENCHMARKS.md'), 'utf8');
    assert.match(md, /## Under contention \(a CPU hog beside every system\)/);
    // alone 31,000 (median of the main phase), beside the hog 15,500: kept 0.50x; hog median 0.75 beside workerd
    assert.match(md, /\| hello \| node:http \| 31,000 \| 15,500 \| 0\.50x \| 2\.00 \| 4\.00 \| 0\.90 \|/);
    assert.match(md, /\| hello \| workerd \| 10,000 \| 6,000 \| 0\.60x \| 9\.00 \| 12\.0 \| 0\.75 \|/);
    assert.match(md, /islet hello world vs workerd, same hog \| ≥ 1\.5x \| 1\.65x \| yes/);
    assert.match(md, /islet p99 vs workerd, same hog \| ≤ 1x \| 0\.50x \| yes/);
    const svg = fs.readFileSync(path.join(root, 'bench/charts/peers-contention.svg'), 'utf8');
    assert.match(svg, /beside the hog/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('without --contention there is no contention section', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-report-'));
  try {
    writeReport(sample(), root);
    assert.ok(!fs.readFileSync(path.join(root, 'BENCHMARKS.md'), 'utf8').includes('Under contention'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
