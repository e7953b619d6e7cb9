import { renderTable } from '../util/table.js';
import type { BootstrapResult } from './index.js';
import { EXIT_DRIFT } from './types.js';

/** Machine-readable result. Deterministic (no timings, fixed key order): two plans of one state print the same. */
export function bootstrapJson(result: BootstrapResult): string {
  return JSON.stringify(
    {
      mode: result.mode,
      exitCode: result.exitCode,
      stores: result.stores.map((s) => ({
        store: s.store,
        serverVersion: s.serverVersion,
        actions: s.actions.map(({ kind, target, detail, destructive }) => ({
          kind,
          target,
          detail,
          destructive,
        })),
        drift: s.drift.map(({ target, field, expected, actual, resolution }) => ({
          target,
          field,
          expected,
          actual,
          resolution,
        })),
        warnings: s.warnings,
      })),
      applied: result.applied.length,
    },
    null,
    2,
  );
}

/** Summary for a terminal: planned actions, drift, warnings, and one closing line. */
export function renderBootstrapReport(result: BootstrapResult): string {
  const lines: string[] = [];
  const actions = result.stores.flatMap((s) => s.actions);
  const verb = result.mode === 'plan' ? 'planned' : 'applied';
  if (actions.length > 0)
    lines.push(
      renderTable(
        ['store', 'action', 'target', 'detail'],
        actions.map((a) => [a.store, a.destructive ? `${a.kind} (DESTRUCTIVE)` : a.kind, a.target, a.detail]),
      ),
    );
  const drift = result.stores.flatMap((s) => s.drift);
  if (drift.length > 0) {
    lines.push('drift (not changed by this run):');
    lines.push(
      renderTable(
        ['store', 'object', 'field', 'expected', 'actual'],
        drift.map((d) => [d.store, d.target, d.field, d.expected, d.actual]),
      ),
    );
    for (const resolution of new Set(drift.map((d) => `${d.store}: ${d.resolution}`)))
      lines.push(`  fix ${resolution}`);
  }
  for (const store of result.stores)
    for (const w of store.warnings) lines.push(`warning: ${store.store}: ${w}`);
  const versions = result.stores.map((s) => `${s.store} ${s.serverVersion}`).join(', ');
  lines.push(
    `${actions.length === 0 ? 'no changes' : `${verb} ${actions.length} action(s)`}${result.mode === 'plan' && actions.length > 0 ? ' (run without --plan to apply)' : ''}; servers: ${versions}`,
  );
  if (result.exitCode === EXIT_DRIFT) lines.push(`drift found: exit ${EXIT_DRIFT}`);
  return lines.join('\n');
}
