// The consistency report as a table for people and as JSON for tools (fixed key order, no secrets).
import { renderTable } from '../../util/table.js';
import { type ConsistencyReport, type Finding, TABLES } from './types.js';

const SAMPLE_SHOWN = 3;

function sample(f: Finding): string {
  if (f.sample.length === 0) return '';
  const shown = f.sample.slice(0, SAMPLE_SHOWN).join(', ');
  return f.found > SAMPLE_SHOWN ? `${shown}, …` : shown;
}

/** Inconsistencies the report leaves unresolved (what makes the exit code 2). */
export function unresolved(report: ConsistencyReport): number {
  const repairing = report.mode === 'repair';
  return (
    report.orphanedChunks.found +
    (repairing ? report.outbox.pendingAfter : report.outbox.pendingBefore) +
    report.collections.reduce(
      (sum, c) =>
        sum +
        c.vectorsWithoutChunk.found -
        c.vectorsWithoutChunk.repaired +
        c.embeddedWithoutVector.found -
        c.embeddedWithoutVector.repaired,
      0,
    )
  );
}

/** One row per check: what, where, how many found, what the run did about them, the first ids. */
export function consistencyTable(report: ConsistencyReport): string {
  const repairing = report.mode === 'repair';
  const done = (n: number, verb: string) => (repairing ? `${n} ${verb}` : '-');
  const rows: (string | number)[][] = [
    [
      'pending outbox entries (vectors of deleted chunks)',
      `${report.schema}.${TABLES.outbox}`,
      report.outbox.pendingBefore,
      done(report.outbox.drained, 'applied'),
      '',
    ],
    [
      'orphaned chunks (document gone)',
      `${report.schema}.${TABLES.chunks}`,
      report.orphanedChunks.found,
      repairing ? 'never (rows are not deleted)' : '-',
      sample(report.orphanedChunks),
    ],
  ];
  for (const c of report.collections) {
    rows.push([
      'vectors without a chunk',
      c.collection,
      c.vectorsWithoutChunk.found,
      done(c.vectorsWithoutChunk.repaired, 'deleted'),
      sample(c.vectorsWithoutChunk),
    ]);
    if (c.required)
      rows.push([
        'embedded chunks without a vector',
        c.collection,
        c.embeddedWithoutVector.found,
        done(c.embeddedWithoutVector.repaired, 'marked pending'),
        sample(c.embeddedWithoutVector),
      ]);
  }
  const left = unresolved(report);
  const verdict =
    left === 0
      ? repairing
        ? 'consistent after repair'
        : 'consistent'
      : `${left} inconsistenc${left === 1 ? 'y' : 'ies'} ${repairing ? 'left' : 'found'}${repairing ? '' : ' (npm run consistency -- --repair fixes all but orphaned chunks)'}`;
  const s = report.stats;
  return [
    renderTable(['check', 'where', 'found', repairing ? 'repaired' : 'repair', 'first ids'], rows),
    `${report.chunks.total} chunks (${report.chunks.embedded} embedded) compared with ${report.collections.length} collection(s): ${report.collections.map((c) => `${c.collection} ${c.vectors}`).join(', ')}`,
    `${s.postgresRows} PostgreSQL rows and ${s.milvusIds} Milvus ids read in ${s.seconds} s, peak RSS ${s.maxRssMb} MB (${s.startRssMb} MB before the check): ${verdict}`,
  ].join('\n');
}

export function consistencyJson(report: ConsistencyReport): string {
  return JSON.stringify(report, null, 2);
}
