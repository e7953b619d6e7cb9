// Summary tables of a backup and of a restore, for the command line (JSON output is the result objects themselves).
import { renderTable } from '../../util/table.js';
import type { BackupResult } from './backup.js';
import type { Manifest } from './manifest.js';
import type { RestoreResult } from './restore.js';

const short = (sha: string) => `${sha.slice(0, 12)}…`;
const seconds = (s: number | undefined) => (s === undefined ? '' : s.toFixed(1));

/** One row per table, collection and Redis database: rows, checksum, recall@k measured. */
function objectRows(
  manifest: Manifest,
): { store: string; object: string; rows: number; checksum: string; recall: string }[] {
  const out: { store: string; object: string; rows: number; checksum: string; recall: string }[] = [];
  const pg = manifest.stores.postgres;
  for (const t of pg?.tables ?? []) {
    const recall = pg!.recall.filter((r) => r.target.startsWith(`${t.schema}.${t.name}.`));
    out.push({
      store: 'postgres',
      object: `${t.schema}.${t.name}`,
      rows: t.rows,
      checksum: short(t.sha256),
      recall: recall.map((r) => r.recall.toFixed(4)).join(' '),
    });
  }
  for (const c of manifest.stores.milvus?.collections ?? [])
    out.push({
      store: 'milvus',
      object: `${c.database}/${c.name}`,
      rows: c.rows,
      checksum: short(c.sha256),
      recall: c.recall.map((r) => r.recall.toFixed(4)).join(' '),
    });
  for (const d of manifest.stores.redis?.databases ?? [])
    out.push({ store: 'redis', object: `db${d.db}`, rows: d.keys, checksum: short(d.digest), recall: '' });
  return out;
}

export function backupTable(result: BackupResult): string {
  const { manifest } = result;
  const rows = objectRows(manifest).map((r) => [r.store, r.object, r.rows, r.checksum, r.recall]);
  const stores = (['postgres', 'milvus', 'redis'] as const)
    .filter((s) => manifest.stores[s])
    .map((s) => [s, 'store total', '', '', '', seconds(result.seconds[s])]);
  return renderTable(
    [
      'store',
      'object',
      'rows / keys',
      'checksum',
      `recall@${manifest.stores.milvus?.collections[0]?.recall[0]?.k ?? 10}`,
      'seconds',
    ],
    [...rows.map((r) => [...r, '']), ...stores],
  );
}

export function restoreTable(result: RestoreResult): string {
  const rows = objectRows(result.manifest).map((r) => {
    const recall = result.recall
      .filter((x) => x.store === r.store && (x.target.startsWith(`${r.object}.`) || x.target === r.object))
      .map((x) => `${x.before.toFixed(4)} → ${x.after.toFixed(4)}`)
      .join(' ');
    return [r.store, r.object, r.rows, 'identical', recall, ''];
  });
  const stores = (['postgres', 'milvus', 'redis'] as const)
    .filter((s) => result.manifest.stores[s])
    .map((s) => [
      s,
      result.resumed.some((x) => x.startsWith(s)) ? 'store total (resumed)' : 'store total',
      '',
      '',
      '',
      seconds(result.seconds[s]),
    ]);
  return renderTable(
    ['store', 'object', 'rows / keys', 'verified', 'recall backup → restore', 'seconds'],
    [...rows, ...stores, ['all', 'verification', '', '', '', seconds(result.verifySeconds)]],
  );
}
