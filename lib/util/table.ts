import Table from 'cli-table3';

/** A plain table for terminals and CI logs (no colours, so logs stay readable). */
export function renderTable(head: string[], rows: (string | number)[][]): string {
  const table = new Table({ head, style: { head: [], border: [], compact: true } });
  for (const row of rows) table.push(row.map(String));
  return table.toString();
}
