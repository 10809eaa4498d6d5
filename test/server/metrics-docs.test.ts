// The Prometheus alert rules and the Grafana dashboard shipped in docs/: promtool accepts the
// rules (and the dashboard's queries, checked as recording rules with Grafana's variables filled
// in), and every metric they name is one islet exports, so a rename cannot silently leave an
// alert that never fires.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Metrics } from '../../server/observe/metrics/metrics';
import { needs, promtool } from '../support/system';

const root = path.resolve(__dirname, '../../..');
const rulesFile = path.join(root, 'docs', 'prometheus-alerts.yml');
const dashboardFile = path.join(root, 'docs', 'grafana-dashboard.json');

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

function dashboardQueries(): { title: string; expr: string }[] {
  const dashboard = JSON.parse(fs.readFileSync(dashboardFile, 'utf8')) as { panels: Panel[] };
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
}

/** Grafana's variables replaced by values Prometheus accepts */
function grafanaFilled(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h').replaceAll('$tenant', '.*');
}

function promtoolCheck(file: string): { status: number | null; output: string } {
  const result = spawnSync(promtool.path ?? 'promtool', ['check', 'rules', file], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('observability docs', () => {
  it('promtool check rules accepts docs/prometheus-alerts.yml', needs(promtool), () => {
    const { status, output } = promtoolCheck(rulesFile);
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS: \d+ rules found/);
  });

  it('promtool accepts every query of the Grafana dashboard', needs(promtool), () => {
    const queries = dashboardQueries();
    assert.ok(queries.length >= 15);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-grafana-'));
    try {
      const file = path.join(dir, 'queries.yml');
      const rules = queries
        .map((q, i) => `      - record: grafana_query_${i}\n        expr: ${JSON.stringify(grafanaFilled(q.expr))}`)
        .join('\n');
      fs.writeFileSync(file, `groups:\n  - name: grafana\n    rules:\n${rules}\n`);
      const { status, output } = promtoolCheck(file);
      assert.equal(status, 0, output);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names only metrics islet exports', async () => {
    const registry = new Metrics({ defaultMetrics: false, rebalanceIntervalMs: 0 }).registry;
    const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    // the supervisor's scrape adds these to the sum of its workers (observe/metrics/cluster.ts)
    for (const name of ['islet_cluster_workers', 'islet_worker_restarts_total']) exported.add(name);
    const text =
      fs.readFileSync(rulesFile, 'utf8') +
      dashboardQueries()
        .map((q) => q.expr)
        .join('\n');
    const named = new Set([...text.matchAll(/\bislet_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
    assert.ok(named.size >= 10);
    for (const name of named) assert.ok(exported.has(name), `${name} is not a metric islet exports`);
  });
});
