import { checkReachable, expectThat, type SmokeSuite } from '../lib/verify/smoke.js';
import { httpGet, plainMinio } from '../lib/verify/tls-probe.js';

export const minioSuite: SmokeSuite = async (stack, run, retry) => {
  const { config } = stack;
  const info = stack.endpoints.minio;
  if (!info) return run.skip('configured', 'minio is disabled or not published to this host');
  if (!(await checkReachable(run, info, retry))) return;
  const where = `${info.host}:${info.port}`;
  // https with tls.enabled, verified against the stack's CA.
  const base = info.endpoint;
  const s3 = stack.minio();
  await run.check('health', async () => {
    const response = await httpGet(`${base}/minio/health/live`, info.tls);
    expectThat(
      response.status === 200,
      `minio at ${where} /minio/health/live answered HTTP ${response.status}`,
    );
    return 'live';
  });
  await run.check(
    'authenticated',
    async () => {
      const anonymous = await httpGet(`${base}/${info.bucket}/`, info.tls);
      expectThat(
        anonymous.status === 403,
        `minio at ${where} answered an anonymous bucket listing with HTTP ${anonymous.status}, expected 403`,
      );
      await s3.listBuckets();
      return `signed requests as ${info.user} accepted; anonymous access refused`;
    },
    { required: true },
  );
  if (info.tls) {
    const caFile = info.tls.caFile;
    await run.check('tls', async () => {
      const plain = await stack.withOwnPath('minio', (own) =>
        plainMinio({ host: info.host, port: own.port }),
      );
      expectThat(plain.refused, `minio at ${where} served a plain (non-TLS) client`);
      return `HTTPS only, certificate verified against ${caFile}; a plain client gets ${plain.message}`;
    });
  }
  await run.check('bucket', async () => {
    expectThat(
      await s3.bucketExists(info.bucket),
      `bucket ${info.bucket} does not exist on minio at ${where}`,
    );
    // Milvus writes under its rootPath: a prefix there means Milvus has stored data in this bucket.
    const first = await new Promise<string | null>((resolve, reject) => {
      const stream = s3.listObjectsV2(info.bucket, `${config.milvus.rootPath}/`, false);
      stream.once('data', (item) => {
        resolve(item.prefix ?? item.name ?? null);
        stream.destroy();
      });
      stream.once('end', () => resolve(null));
      stream.once('error', reject);
    });
    return `bucket ${info.bucket} reachable${first ? `, holds ${first}` : ', empty under the Milvus root path'}`;
  });
};
