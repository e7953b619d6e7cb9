import { etcdctlFlags } from '../lib/services/specs.js';
import { checkReachable, expectThat, type SmokeSuite } from '../lib/verify/smoke.js';

async function getJson(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  expectThat(response.ok, `${url} answered HTTP ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

/**
 * etcd serves Milvus alone and is unpublished by default: the checks run etcdctl inside its container or pod (the
 * target decides how; with TLS, with the CA and etcd's own client certificate), or go over HTTP when a plain host port
 * is published. With TLS, etcd wants a client certificate the
 * kit's own clients do not hold, so the checks stay inside the container and add a `tls` check.
 */
export const etcdSuite: SmokeSuite = async (stack, run, retry) => {
  const { config } = stack;
  if (!stack.deployment.specs.some((s) => s.name === 'etcd'))
    return run.skip('configured', 'milvus (and with it etcd) is disabled');
  const tls = config.tls.enabled;
  const published = tls ? undefined : stack.endpoints.etcd;
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
  const etcdctl = async (args: string[], flags = etcdctlFlags(tls)) => {
    const { stdout, stderr } = await stack.exec(
      'etcd',
      ['etcdctl', ...flags, '--command-timeout=5s', ...args],
      {
        timeoutMs: 15_000,
      },
    );
    return `${stdout}${stderr}`.trim();
  };
  await run.check(
    'health',
    async () => {
      const out = await etcdctl(['endpoint', 'health']);
      expectThat(/is healthy/.test(out), `etcd: ${out}`);
      return 'endpoint healthy (etcdctl inside the etcd container)';
    },
    { required: true },
  );
  await run.check('version', async () => (await etcdctl(['version'])).split('\n').join(', '));
  if (tls)
    await run.check('tls', async () => {
      // The same request without the client certificate, then in plain text: etcd must refuse both.
      const noCert = await etcdctl(
        ['endpoint', 'health'],
        etcdctlFlags(true, { clientCertificate: false }),
      ).catch((e) => String(e));
      expectThat(
        /is unhealthy/.test(noCert),
        `etcd did not refuse a TLS client without a certificate: ${noCert}`,
      );
      const plain = await etcdctl(['endpoint', 'health'], etcdctlFlags(false)).catch((e) => String(e));
      expectThat(/is unhealthy/.test(plain), `etcd did not refuse a plain (non-TLS) client: ${plain}`);
      return 'mutual TLS: a client without a certificate the CA signed, and a plain one, are refused';
    });
  await run.check('milvus metadata', async () => {
    const keys = await etcdctl(['get', '--prefix', '--keys-only', '--limit=1', `${config.milvus.rootPath}/`]);
    expectThat(
      keys.length > 0,
      `no keys under ${config.milvus.rootPath}/ in etcd: Milvus has not written its metadata`,
    );
    return `Milvus keys present under ${config.milvus.rootPath}/`;
  });
};
