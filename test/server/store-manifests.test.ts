// deploy/ (docker-compose.yml, nginx.conf, kubernetes/*.yaml) cannot be started here (no
// container engine), so this keeps them from rotting: they parse, every ISLET_* variable they set
// is a setting islet knows and their values pass its validation (a shared store's requirements
// included), the ports they publish, probe and balance over are the ports the nodes listen on,
// and the commands they run are islet commands.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { checkSharedStore, loadConfig, settings, type Config } from '../../server/config';
import { generateSecretKey } from '../../server/store/postgres/secrets';

const root = path.resolve(__dirname, '../../..');
const deploy = path.join(root, 'deploy');
const known = new Set(settings.map((s) => s.env));

type Env = Record<string, string>;

/** the config a node would load from `env`: every ISLET_* name known, every value valid */
function nodeConfig(env: Env, where: string): Config {
  for (const name of Object.keys(env)) {
    if (name.startsWith('ISLET_')) assert.ok(known.has(name), `${where}: ${name} is not a setting (config/README.md)`);
  }
  const config = loadConfig({ env, cwd: root });
  checkSharedStore(config);
  return config;
}

/** docker compose's ${VAR:-default} / ${VAR:?message} with the variables an operator exports */
function interpolate(value: string, exported: Env): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, rest: string) => {
    if (exported[name] !== undefined) return exported[name]!;
    assert.notEqual(op, '?', `compose needs ${name} exported: ${rest}`);
    return op === '-' ? rest : '';
  });
}

/** the islet command a container runs: must be one `islet --help` lists, with a subcommand its help names */
function checkCommand(command: string[], where: string): void {
  assert.deepEqual(command.slice(0, 2), ['node', 'bin/islet.js'], `${where}: runs the islet entry point`);
  const help = spawnSync(
    process.execPath,
    ['--no-node-snapshot', path.join(root, 'bin/islet.js'), ...command.slice(2, 3), '--help'],
    { encoding: 'utf8' },
  );
  assert.equal(help.status, 0, `${where}: 'islet ${command.slice(2).join(' ')}' is a command (${help.stderr})`);
  if (command[3])
    assert.match(
      help.stdout,
      new RegExp(`\\b${command[3]}\\b`),
      `${where}: '${command[3]}' is a subcommand of 'islet ${command[2]}'`,
    );
}

test('docker-compose.yml: PostgreSQL, a migration step, two nodes and nginx, agreeing with the config', () => {
  const compose = parse(fs.readFileSync(path.join(deploy, 'docker-compose.yml'), 'utf8')) as {
    services: Record<
      string,
      {
        image?: string;
        build?: unknown;
        command?: string[];
        environment?: Env;
        ports?: string[];
        volumes?: string[];
        depends_on?: unknown;
      }
    >;
  };
  const exported: Env = {
    ISLET_SECRET_KEY: generateSecretKey('compose'),
    ISLET_ADMIN_TOKEN: 'operator-token',
    POSTGRES_PASSWORD: 'pw',
  };
  const { services } = compose;
  assert.match(services.postgres?.image ?? '', /^postgres:\d+/, 'PostgreSQL from the public image');
  const nodes = Object.entries(services).filter(([, s]) => s.command?.includes('serve'));
  assert.ok(nodes.length >= 2, 'at least two islet nodes');
  const ports = new Set<number>();
  for (const [name, service] of [...nodes, ['migrate', services.migrate!] as const]) {
    checkCommand(service.command!, `compose ${name}`);
    const env = Object.fromEntries(
      Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), exported)]),
    );
    const config = nodeConfig(env, `compose ${name}`);
    assert.match(
      config.store.url,
      /^postgres:\/\/islet:pw@postgres:5432\/islet$/,
      `${name}: shares the compose database`,
    );
    assert.equal(config.dataDir, '/data');
    ports.add(config.port).add(config.adminPort);
    if (name !== 'migrate')
      assert.ok(
        service.volumes?.some((v) => v.endsWith(':/data')),
        `${name}: its node cache in a volume of its own`,
      );
  }
  assert.equal(new Set(nodes.map(([, s]) => s.volumes?.[0])).size, nodes.length, 'no two nodes share a cache volume');
  // nginx publishes both ports and spreads each over every node, on the ports the nodes listen on
  const lb = services.lb!;
  assert.match(lb.image ?? '', /^(nginx|haproxy):/);
  const published = (lb.ports ?? []).map((p) => Number(p.split(':').at(-1)));
  for (const port of ports) assert.ok(published.includes(port), `the load balancer publishes ${port}`);
  const nginx = fs.readFileSync(path.join(deploy, 'nginx.conf'), 'utf8');
  assert.ok(
    lb.volumes?.some((v) => v.startsWith('./nginx.conf:')),
    'nginx.conf is mounted',
  );
  for (const [name] of nodes) {
    for (const port of ports)
      assert.ok(nginx.includes(`server ${name}:${port}`), `nginx balances over ${name}:${port}`);
  }
  for (const port of ports) assert.match(nginx, new RegExp(`listen ${port};`));
});

test('kubernetes/: Deployment (/healthz readiness), Services, PDB, ConfigMap/Secret and migration Job agree', () => {
  const docs = fs
    .readdirSync(path.join(deploy, 'kubernetes'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(fs.readFileSync(path.join(deploy, 'kubernetes', f), 'utf8')).map((d) => ({
        file: f,
        doc: d.toJS(),
      })),
    );
  const byKind = (kind: string) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
  for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'ConfigMap', 'Secret', 'Job'])
    assert.ok(byKind(kind).length > 0, `a ${kind}`);

  const [configMap] = byKind('ConfigMap');
  const [secret] = byKind('Secret');
  // the Secret ships placeholders: give them real-shaped values, keep every name as it is
  const secretEnv: Env = {
    ...secret.stringData,
    ISLET_SECRET_KEY: generateSecretKey('k8s'),
    ISLET_STORE_URL: 'postgres://islet:pw@db:5432/islet',
  };
  for (const name of Object.keys(secret.stringData)) assert.ok(name in secretEnv);
  const env: Env = { ...configMap.data, ...secretEnv };
  const config = nodeConfig(env, 'ConfigMap + Secret');
  if (config.store.sslCaFile === '')
    assert.ok(
      ['require', 'disable', 'auto'].includes(config.store.sslMode),
      'verify-* needs a CA file or the system CAs',
    );

  const [deployment] = byKind('Deployment');
  const pod = deployment.spec.template;
  assert.deepEqual(deployment.spec.selector.matchLabels, pod.metadata.labels);
  const container = pod.spec.containers[0];
  checkCommand(container.command, 'Deployment');
  const sources = container.envFrom.map(
    (e: { configMapRef?: { name: string }; secretRef?: { name: string } }) => e.configMapRef?.name ?? e.secretRef?.name,
  );
  assert.deepEqual(sources.sort(), [configMap.metadata.name, secret.metadata.name].sort());
  const portOf = (name: string) => container.ports.find((p: { name: string }) => p.name === name)?.containerPort;
  assert.equal(portOf('tenant'), config.port);
  assert.equal(portOf('admin'), config.adminPort);
  for (const probe of [container.readinessProbe, container.livenessProbe]) {
    assert.equal(probe.httpGet.path, '/healthz');
    assert.equal(portOf(probe.httpGet.port), config.adminPort, 'probed on the admin port');
  }
  assert.ok(
    container.volumeMounts.some((m: { mountPath: string }) => m.mountPath === config.dataDir),
    'the node cache is mounted at the data folder',
  );
  assert.ok(
    pod.spec.terminationGracePeriodSeconds * 1000 > config.server.shutdownTimeoutMs,
    'Kubernetes waits longer than islet drains',
  );

  for (const service of byKind('Service')) {
    assert.deepEqual(service.spec.selector, pod.metadata.labels, `${service.metadata.name} selects the islet pods`);
    for (const port of service.spec.ports)
      assert.ok(
        portOf(port.targetPort),
        `${service.metadata.name}: target port '${port.targetPort}' is a container port`,
      );
  }
  const [pdb] = byKind('PodDisruptionBudget');
  assert.deepEqual(pdb.spec.selector.matchLabels, pod.metadata.labels);
  assert.ok(pdb.spec.maxUnavailable < deployment.spec.replicas || pdb.spec.minAvailable > 0);

  const [job] = byKind('Job');
  const migrate = job.spec.template.spec.containers[0];
  checkCommand(migrate.command, 'Job');
  assert.deepEqual(migrate.command.slice(2), ['store', 'migrate']);
  assert.equal(migrate.image, container.image, 'the Job migrates with the image the pods run');
});
