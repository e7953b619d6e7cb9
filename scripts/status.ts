#!/usr/bin/env tsx
// npm run status [-- --env local] [--json]: what runs, and whether it is healthy. Exit 1 unless all are healthy.
import { parseFlags, runMain } from '../lib/cli.js';
import { status } from '../lib/deploy/local-stack.js';
import { renderTable } from '../lib/util/table.js';

const USAGE = 'usage: npm run status -- [--env local] [--json]';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const { specs, containers } = await status({ env: flags.env });
  const rows = specs
    .filter((s) => !s.job)
    .map((spec) => {
      const c = containers.find((x) => x.service === spec.name);
      return {
        service: spec.name,
        container: c?.name ?? '-',
        image: spec.image,
        health: c?.health ?? 'absent',
      };
    });
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else
    console.log(
      renderTable(
        ['service', 'container', 'image', 'health'],
        rows.map((r) => Object.values(r)),
      ),
    );
  return rows.every((r) => r.health === 'healthy') ? 0 : 1;
});
