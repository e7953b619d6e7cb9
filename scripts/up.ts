#!/usr/bin/env tsx
// npm run up [-- --env local] [--show-secrets] [--json]: provision the local stack and wait until it is healthy.
import { parseFlags, runMain } from '../lib/cli.js';
import { loadConfig } from '../lib/config/load.js';
import { up } from '../lib/deploy/local-stack.js';
import { withSecrets } from '../lib/deploy/outputs.js';
import { checkSetup } from '../lib/setup/check.js';
import { Progress } from '../lib/util/progress.js';
import { renderTable } from '../lib/util/table.js';

const USAGE = 'usage: npm run up -- [--env local] [--show-secrets] [--json]';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['env'],
    boolean: ['show-secrets'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  // The configuration first: a typo is the cheapest mistake to report.
  const config = loadConfig({ env: flags.env });
  const progress = new Progress();
  progress.log('checking setup (npm run setup -- --check)');
  await checkSetup();
  const result = await up({ config, progress });
  const connection = flags['show-secrets']
    ? withSecrets(result.connection, result.credentials)
    : result.connection;
  if (flags.json) {
    console.log(
      JSON.stringify({ changed: result.changed, containers: result.containers, connection }, null, 2),
    );
    return;
  }
  const endpoints: Record<string, string> = {
    postgres: result.connection.postgres
      ? `${result.connection.postgres.host}:${result.connection.postgres.port}`
      : '-',
    redis: result.connection.redis ? `${result.connection.redis.host}:${result.connection.redis.port}` : '-',
    milvus: result.connection.milvus
      ? `${result.connection.milvus.host}:${result.connection.milvus.port}`
      : '-',
    minio: result.connection.minio?.endpoint ?? '-',
    etcd: result.connection.etcd
      ? `${result.connection.etcd.host}:${result.connection.etcd.port}`
      : 'private network',
  };
  const rows = result.containers
    .filter((c) => c.service !== 'minio-init')
    .map((c) => {
      const image = result.specs.find((s) => s.name === c.service)?.image ?? '-';
      return [c.service, endpoints[c.service] ?? '-', image, c.health];
    });
  console.log(renderTable(['service', 'endpoint', 'image (version)', 'health'], rows));
  console.log(
    `${result.changed ? 'applied changes' : 'no changes'}; connection details: ${result.outputsFile}`,
  );
  console.log(`credentials: ${result.credentialsFile} (mode 0600)`);
  if (flags['show-secrets']) console.log(JSON.stringify(connection, null, 2));
});
