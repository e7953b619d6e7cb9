import { renderTable } from '../util/table.js';

export type CheckStatus = 'pass' | 'fail' | 'skip';

/** One smoke check's outcome. `message` says what was found, or why it failed or was not run. */
export interface CheckResult {
  service: string;
  check: string;
  status: CheckStatus;
  ms: number;
  message: string;
}

export interface CheckSummary {
  passed: number;
  failed: number;
  skipped: number;
  ok: boolean;
}

export function summarize(results: readonly CheckResult[]): CheckSummary {
  const count = (status: CheckStatus) => results.filter((r) => r.status === status).length;
  const failed = count('fail');
  return { passed: count('pass'), failed, skipped: count('skip'), ok: failed === 0 && results.length > 0 };
}

const RESULT_LABEL: Record<CheckStatus, string> = { pass: 'ok', fail: 'FAIL', skip: 'skipped' };

export function checksTable(results: readonly CheckResult[]): string {
  return renderTable(
    ['check', 'service', 'ms', 'result'],
    results.map((r) => [r.check, r.service, Math.round(r.ms), `${RESULT_LABEL[r.status]}: ${r.message}`]),
  );
}

export function checksJson(results: readonly CheckResult[]): string {
  return JSON.stringify({ summary: summarize(results), checks: results }, null, 2);
}

/** XML 1.0 text: escapes markup characters and drops control characters XML cannot carry. */
export function escapeXml(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing exactly those characters is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/** JUnit XML as CI systems read it: one <testsuite> per service, failures and skips with their message. */
export function checksJUnit(results: readonly CheckResult[], name = 'vectorstack smoke'): string {
  const services = [...new Set(results.map((r) => r.service))];
  const total = summarize(results);
  const totalMs = results.reduce((sum, r) => sum + r.ms, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(name)}" tests="${results.length}" failures="${total.failed}" skipped="${total.skipped}" errors="0" time="${seconds(totalMs)}">`,
  ];
  for (const service of services) {
    const own = results.filter((r) => r.service === service);
    const sum = summarize(own);
    const ms = own.reduce((s, r) => s + r.ms, 0);
    lines.push(
      `  <testsuite name="${escapeXml(service)}" tests="${own.length}" failures="${sum.failed}" skipped="${sum.skipped}" errors="0" time="${seconds(ms)}">`,
    );
    for (const r of own) {
      const open = `    <testcase classname="smoke.${escapeXml(service)}" name="${escapeXml(r.check)}" time="${seconds(r.ms)}"`;
      if (r.status === 'pass') {
        lines.push(`${open}>`, `      <system-out>${escapeXml(r.message)}</system-out>`, '    </testcase>');
      } else if (r.status === 'fail') {
        lines.push(
          `${open}>`,
          `      <failure message="${escapeXml(r.message)}" type="SmokeCheckFailure">${escapeXml(r.message)}</failure>`,
          '    </testcase>',
        );
      } else {
        lines.push(`${open}>`, `      <skipped message="${escapeXml(r.message)}"/>`, '    </testcase>');
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
