import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { checkReachable, expectThat, type SmokeSuite } from '../lib/verify/smoke.js';

const run$ = promisify(execFile);
const ETCD_URL = 'http://127.0.0.1:2379';

/** etcd's container name, by the stack's naming convention. */
export function etcdContainer(project: string, environment: string): string {
  return `${project}-${environment}-etcd`;
}

/** etcdctl inside the container: etcd is not published to the host by default (etcd.hostPort null). */
async function etcdctl(container: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run$(
      'docker',
      ['exec', container, 'etcdctl', `--endpoints=${ETCD_URL}`, '--command-timeout=5s', ...args],
      { timeout: 15_000 },
    );
    return `${stdout}${stderr}`.trim();
  } catch (error) {
    const err = error as { stderr?: string; message: string };
    throw new Error(`etcd (docker exec ${container}): ${(err.stderr || err.message).trim()}`);
  }
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  expectThat(response.ok, `${url} answered HTTP ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

export const etcdSuite: SmokeSuite = async ({ config, connection }, run, retry) => {
  if (!config.milvus.enabled) return run.skip('configured', 'milvus (and with it etcd) is disabled');
  const published = connection.etcd;
  if (published) {
    const base = `http://${published.host}:${published.port}`;
    if (!(await checkReachable(run, published, retry))) return;
    await run.check('health', async () => {
      const health = await getJson(`${base}/health`);
      expectThat(
        health.health === 'true',
        `etcd at ${published.host}:${published.port} reports ${JSON.stringify(health)}`,
      );
      return 'endpoint healthy';
    });
    await run.check('version', async () => `etcd ${(await getJson(`${base}/version`)).etcdserver}`);
    return;
  }
  if (config.target !== 'docker')
    return run.skip('health', 'etcd is not published; check it from inside the cluster');
  const container = etcdContainer(config.project, config.environment);
  await run.check(
    'health',
    async () => {
      const out = await etcdctl(container, ['endpoint', 'health']);
      expectThat(/is healthy/.test(out), `etcd in ${container}: ${out}`);
      return `endpoint healthy (docker exec ${container})`;
    },
    { required: true },
  );
  await run.check('version', async () => {
    const out = await etcdctl(container, ['version']);
    return out.split('\n').join(', ');
  });
  await run.check('milvus metadata', async () => {
    const keys = await etcdctl(container, [
      'get',
      '--prefix',
      '--keys-only',
      '--limit=1',
      `${config.milvus.rootPath}/`,
    ]);
    expectThat(
      keys.length > 0,
      `no keys under ${config.milvus.rootPath}/ in etcd: Milvus has not written its metadata`,
    );
    return `Milvus keys present under ${config.milvus.rootPath}/`;
  });
};
