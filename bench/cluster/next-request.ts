// What the very next request sees after the admin API answered a write, the way the issue counted
// it on `npm start`: for redeploys, env changes and deploys that declare a route, one request on
// a fresh connection right after the answer, and whether it saw the change. Run by main.ts on
// both islets of the bench (the one that waits for every worker, the one that answers at once).
import { Agent, request } from 'undici';

export interface Target {
  label: string;
  port: number;
  adminPort: number;
  token: string;
}

export interface NextRequestCounts {
  redeploy: { saw: number; of: number };
  env: { saw: number; of: number };
  route: { saw: number; of: number };
}

const source = (mark: string) =>
  `export default { fetch(req, env) { return new Response(${JSON.stringify(mark)} + ' ' + (env.N ?? '-')); } };`;

async function adminWrite(target: Target, method: string, path: string, body: string, type: string): Promise<void> {
  const res = await request(`http://127.0.0.1:${target.adminPort}${path}`, {
    method: method as 'POST',
    headers: { authorization: `Bearer ${target.token}`, 'content-type': type },
    body,
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${target.label}: ${method} ${path} answered ${res.statusCode} ${text}`);
}

/** one GET on a fresh connection (the supervisor routes it), its body or `<status>` */
async function next(target: Target, host: string): Promise<string> {
  const agent = new Agent({ connections: 1 });
  try {
    const res = await request(`http://127.0.0.1:${target.port}/`, { headers: { host }, dispatcher: agent });
    const text = await res.body.text();
    return res.statusCode === 200 ? text : `<${res.statusCode}>`;
  } finally {
    await agent.close();
  }
}

export async function countNextRequests(
  target: Target,
  tenant: string,
  rounds = { redeploy: 20, env: 10, route: 5 },
): Promise<NextRequestCounts> {
  const host = `${tenant}.localhost`;
  const deploy = (mark: string, query = '') =>
    adminWrite(target, 'POST', `/v1/tenants/${tenant}/deployments${query}`, source(mark), 'application/javascript');
  const counts: NextRequestCounts = {
    redeploy: { saw: 0, of: rounds.redeploy },
    env: { saw: 0, of: rounds.env },
    route: { saw: 0, of: rounds.route },
  };
  await deploy('start');
  for (let i = 0; i < rounds.redeploy; i++) {
    await deploy(`v${i}`);
    if ((await next(target, host)) === `v${i} -`) counts.redeploy.saw++;
  }
  for (let i = 0; i < rounds.env; i++) {
    await adminWrite(
      target,
      'PUT',
      `/v1/tenants/${tenant}/env`,
      JSON.stringify({ vars: { N: String(i) } }),
      'application/json',
    );
    if ((await next(target, host)).endsWith(` ${i}`)) counts.env.saw++;
  }
  for (let i = 0; i < rounds.route; i++) {
    const route = `${tenant}-r${i}.example.test`;
    await deploy(`routed${i}`, `?routes=${encodeURIComponent(`${route}/*`)}`);
    if ((await next(target, route)).startsWith(`routed${i} `)) counts.route.saw++;
  }
  return counts;
}
