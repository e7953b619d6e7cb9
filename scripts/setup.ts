#!/usr/bin/env tsx
// npm run setup [-- --check] [--offline] [--force COMPONENT]... [--json] [--quiet]
// Prepares this host to run the real stack: Docker engine, a Terraform-compatible CLI, providers, images.
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { cacheDir } from '../lib/paths.js';
import { DEFAULT_SETUP_STEPS, runSetup, SETUP_STEPS, type SetupStepName } from '../lib/setup/run.js';
import { Progress } from '../lib/util/progress.js';
import { renderTable } from '../lib/util/table.js';

const USAGE = [
  'usage: npm run setup -- [--check] [--offline] [--force COMPONENT]... [--json] [--quiet]',
  '  --check     report only; exit 1 if anything is missing',
  '  --offline   build local images and providers even where the public ones are reachable',
  '  --force     rebuild a component even if cached (tofu, minio, mc, image:postgres, image:debian, ...)',
  `  --only      run only these steps (repeatable): ${SETUP_STEPS.join(', ')}; the Docker engine is always checked`,
  '  --tests     also prepare what only the test suite needs (envtest: a Kubernetes API server built from source;',
  '              cluster: a single-node Kubernetes cluster, see npm run cluster;',
  '              chroma: Chroma 0.4.24 and 1.5.9 server venvs, hash-pinned from PyPI)',
  `  cache: ${cacheDir()} (override with VECTORSTACK_CACHE_DIR)`,
].join('\n');

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    boolean: ['check', 'offline', 'quiet', 'tests'],
    string: ['force', 'only'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  const force = ([] as string[]).concat(flags.force ?? []);
  const only = ([] as string[]).concat(flags.only ?? []);
  for (const name of only) {
    if (!(SETUP_STEPS as readonly string[]).includes(name)) {
      throw new UsageError(`--only ${name}: unknown step; allowed: ${SETUP_STEPS.join(', ')}`);
    }
  }
  const report = await runSetup({
    cacheDir: cacheDir(),
    checkOnly: flags.check,
    offline: flags.offline,
    force,
    only:
      only.length > 0
        ? (only as SetupStepName[])
        : flags.tests
          ? [...DEFAULT_SETUP_STEPS, 'envtest', 'cluster', 'chroma']
          : undefined,
    testImages: flags.tests,
    progress: new Progress(),
  });
  if (flags.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const rows = report.results.map((r) => [
      r.component,
      r.source,
      r.version,
      r.status,
      r.seconds.toFixed(1),
    ]);
    if (!flags.quiet || !report.ok)
      console.log(renderTable(['component', 'source', 'version', 'status', 'seconds'], rows));
    for (const r of report.results.filter((x) => x.status === 'failed' || x.status === 'missing')) {
      console.error(`${r.component}: ${r.status}${r.detail ? `: ${r.detail}` : ''}`);
    }
    for (const remedy of report.remedies) console.error(remedy);
  }
  return report.ok ? 0 : 1;
});
