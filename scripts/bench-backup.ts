#!/usr/bin/env tsx
// npm run bench:backup [-- --sizes 10000,200000] [--json]: backup and restore times of a loaded stack, side by side
// with a raw copy of the same Docker volumes (tar of each volume with the stack stopped, and its extraction into
// fresh volumes), measured in the same run. Uses its own stack (project vsbackup, ports 25901-25905), destroyed at the
// end. Run it under the integration lock: flock /tmp/vs/itest.lock npm run bench:backup
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandVectors, loadBackupData } from '../lib/bench/backup-data.js';
import { bootstrap } from '../lib/bootstrap/index.js';
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { loadConfig } from '../lib/config/load.js';
import type { ConfigOverrides } from '../lib/config/schema.js';
import { resolveDeployment } from '../lib/deployment/resolve.js';
import { takeBackup } from '../lib/ops/backup/backup.js';
import { restoreBackup } from '../lib/ops/backup/restore.js';
import { RestoreMismatchError } from '../lib/ops/backup/types.js';
import { driverFor } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';
import { renderTable } from '../lib/util/table.js';
import { DEFAULT_DATASET_DIR } from '../lib/verify/dataset.js';
import { readFvecs } from '../lib/verify/vectors.js';

const USAGE = 'usage: npm run bench:backup -- [--sizes 10000,200000] [--json]';
const PROJECT = 'vsbackup';

interface Figures {
  vectors: number;
  loadSeconds: number;
  backupSeconds: number;
  backupStores: Record<string, number>;
  setBytes: number;
  rawCopySeconds: number;
  rawBytes: number;
  restoreSeconds: number;
  restoreStores: Record<string, number>;
  verifySeconds: number;
  rawRestoreSeconds: number;
  recall: { target: string; before: number; after: number }[];
  verified: string;
}

const docker = (...args: string[]) =>
  execFileSync('docker', args, { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n')
    .filter(Boolean);

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += statSync(path.join(entry.parentPath, entry.name)).size;
  return total;
}

/** tar of every volume of the stopped stack into `out`, then extraction of each into a fresh volume: seconds each. */
function rawCopy(
  volumes: string[],
  image: string,
  out: string,
): { copy: number; restore: number; bytes: number } {
  const tar = (args: string[]) => docker('run', '--rm', '--network', 'none', '--user', '0', ...args);
  let begun = Date.now();
  for (const v of volumes)
    tar(['-v', `${v}:/v:ro`, '-v', `${out}:/out`, image, 'tar', '-C', '/v', '-cf', `/out/${v}.tar`, '.']);
  const copy = (Date.now() - begun) / 1000;
  const bytes = dirBytes(out);
  begun = Date.now();
  for (const v of volumes) {
    docker('volume', 'create', `${v}-rawcheck`);
    tar(['-v', `${v}-rawcheck:/v`, '-v', `${out}:/out:ro`, image, 'tar', '-C', '/v', '-xf', `/out/${v}.tar`]);
  }
  const restore = (Date.now() - begun) / 1000;
  docker('volume', 'rm', '-f', ...volumes.map((v) => `${v}-rawcheck`));
  return { copy, restore, bytes };
}

async function measure(count: number, progress: Progress): Promise<Figures> {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'vsbackup-bench-'));
  const overrides = {
    project: PROJECT,
    embedding: { dimension: 128, metric: 'l2' },
    postgres: { hostPort: 25901 },
    minio: { hostPort: 25902 },
    milvus: { hostPort: 25903, metricsHostPort: 25904 },
    redis: { hostPort: 25905 },
  } as ConfigOverrides;
  const deployment = resolveDeployment(loadConfig({ cwd, environ: {}, overrides }), { cwd });
  const driver = driverFor(deployment, { progress });
  const up = async () => {
    await driver.apply();
    const stack = await driver.open();
    await bootstrap({ stack, progress });
    return stack;
  };
  await driver.destroy(); // what an earlier run killed midway left (destroy also removes what no state records)
  try {
    const base = readFvecs(path.join(DEFAULT_DATASET_DIR, 'siftsmall_base.fvecs'));
    const vectors = count <= base.count ? readFvecs(base.file, { limit: count }) : expandVectors(base, count);
    let stack = await up();
    let begun = Date.now();
    await loadBackupData(stack, vectors, progress);
    const loadSeconds = (Date.now() - begun) / 1000;
    const sets = path.join(cwd, 'sets');
    begun = Date.now();
    const backup = await takeBackup({ stack, to: sets, progress });
    const backupSeconds = (Date.now() - begun) / 1000;
    await stack.close();

    progress.log(
      'raw copy: stopping the stack (volumes kept), tar of each volume, extraction into fresh volumes',
    );
    await driver.down();
    const volumes = docker('volume', 'ls', '-q', '--filter', `label=vectorstack.project=${PROJECT}`);
    const out = mkdtempSync(path.join(os.tmpdir(), 'vsbackup-raw-'));
    const raw = rawCopy(volumes, deployment.images.postgres, out);
    rmSync(out, { recursive: true, force: true });

    await driver.destroy();
    stack = await up();
    begun = Date.now();
    let verified = 'identical';
    let restore: Awaited<ReturnType<typeof restoreBackup>> | undefined;
    try {
      restore = await restoreBackup({ stack, from: backup.dir, progress });
    } catch (error) {
      if (!(error instanceof RestoreMismatchError)) throw error;
      verified = `mismatch: ${error.problems.join('; ')}`;
    }
    const restoreSeconds = (Date.now() - begun) / 1000;
    await stack.close();
    return {
      vectors: count,
      loadSeconds,
      backupSeconds,
      backupStores: backup.seconds as Record<string, number>,
      setBytes: dirBytes(backup.dir),
      rawCopySeconds: raw.copy,
      rawBytes: raw.bytes,
      restoreSeconds,
      restoreStores: (restore?.seconds ?? {}) as Record<string, number>,
      verifySeconds: restore?.verifySeconds ?? 0,
      rawRestoreSeconds: raw.restore,
      recall: restore?.recall ?? [],
      verified,
    };
  } finally {
    await driver.destroy();
    rmSync(cwd, { recursive: true, force: true });
  }
}

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['sizes'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const sizes = String(flags.sizes ?? '10000,200000')
    .split(',')
    .map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 100))
    throw new UsageError(`--sizes: whole numbers of at least 100, got ${flags.sizes}`, { remedy: USAGE });
  const progress = new Progress(undefined, !flags.json);
  const results: Figures[] = [];
  for (const size of sizes) results.push(await measure(size, progress));
  if (flags.json) return void console.log(JSON.stringify(results, null, 2));
  const s = (n: number) => n.toFixed(1);
  const stores = (m: Record<string, number>) =>
    Object.entries(m)
      .map(([k, v]) => `${k} ${s(v)}`)
      .join(', ');
  console.log(
    renderTable(
      [
        'vectors',
        'backup s (per store)',
        'raw copy s',
        'ratio',
        'restore s (per store)',
        'raw restore s',
        'ratio',
        'set MB',
        'raw MB',
        'verified',
      ],
      results.map((r) => [
        r.vectors,
        `${s(r.backupSeconds)} (${stores(r.backupStores)})`,
        s(r.rawCopySeconds),
        (r.backupSeconds / r.rawCopySeconds).toFixed(1),
        `${s(r.restoreSeconds)} (${stores(r.restoreStores)}, verify ${s(r.verifySeconds)})`,
        s(r.rawRestoreSeconds),
        (r.restoreSeconds / r.rawRestoreSeconds).toFixed(1),
        (r.setBytes / 1e6).toFixed(1),
        (r.rawBytes / 1e6).toFixed(1),
        r.verified,
      ]),
    ),
  );
  for (const r of results)
    for (const x of r.recall)
      console.log(
        `${r.vectors} vectors: recall@10 ${x.target}: ${x.before.toFixed(4)} at backup, ${x.after.toFixed(4)} after restore`,
      );
  return 0;
});
