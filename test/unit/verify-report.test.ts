import { describe, expect, it } from 'vitest';
import {
  type CheckResult,
  checksJson,
  checksJUnit,
  checksTable,
  escapeXml,
  summarize,
} from '../../lib/verify/report.js';
import { CheckRunner } from '../../lib/verify/smoke.js';

const results: CheckResult[] = [
  {
    service: 'postgres',
    check: 'reachable',
    status: 'pass',
    ms: 4.2,
    message: 'TCP 127.0.0.1:15432 accepts connections',
  },
  {
    service: 'redis',
    check: 'reachable',
    status: 'fail',
    ms: 812,
    message: 'redis at 127.0.0.1:16379 is unreachable after 3 attempt(s): connect ECONNREFUSED <"x" & \'y\'>',
  },
  { service: 'redis', check: 'authenticated', status: 'skip', ms: 0, message: 'not run: reachable failed' },
];

/** A minimal XML well-formedness check: balanced tags, quoted attributes, only escaped markup in text. */
function assertWellFormedXml(xml: string): string[] {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const seen: string[] = [];
  const tag =
    /<(\/?)([A-Za-z][\w-]*)((?:\s+[\w-]+="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    expect(text, 'text between tags').not.toMatch(/[<>]|&(?!(amp|lt|gt|quot|apos);)/);
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else if (!selfClosing) stack.push(name!);
    if (!closing) seen.push(name!);
  }
  expect(body.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  return seen;
}

describe('smoke reports', () => {
  it('summarises: any failure makes the run fail', () => {
    expect(summarize(results)).toEqual({ passed: 1, failed: 1, skipped: 1, ok: false });
    expect(summarize(results.slice(0, 1)).ok).toBe(true);
    expect(summarize([]).ok).toBe(false);
  });

  it('table has check, service, ms, result columns and the failing message', () => {
    const table = checksTable(results);
    expect(table.split('\n')[1]).toMatch(/check\s+│ service\s+│ ms\s+│ result/);
    expect(table).toContain('FAIL: redis at 127.0.0.1:16379 is unreachable');
    expect(table).toMatch(/reachable\s+│ postgres\s+│ 4\s+│ ok: TCP/);
  });

  it('JSON carries the summary and every check', () => {
    const parsed = JSON.parse(checksJson(results));
    expect(parsed.summary).toEqual({ passed: 1, failed: 1, skipped: 1, ok: false });
    expect(parsed.checks).toEqual(results);
  });

  it('JUnit XML is well-formed, with one suite per service, a failure and a skip', () => {
    const xml = checksJUnit(results);
    const tags = assertWellFormedXml(xml);
    expect(tags.filter((t) => t === 'testsuite')).toHaveLength(2);
    expect(tags.filter((t) => t === 'testcase')).toHaveLength(3);
    expect(xml).toMatch(/<testsuites name="vectorstack smoke" tests="3" failures="1" skipped="1"/);
    expect(xml).toMatch(
      /<testsuite name="redis" tests="2" failures="1" skipped="1" errors="0" time="0.812">/,
    );
    expect(xml).toContain(
      '<failure message="redis at 127.0.0.1:16379 is unreachable after 3 attempt(s): connect ECONNREFUSED &lt;&quot;x&quot; &amp; &apos;y&apos;&gt;"',
    );
    expect(xml).toContain('<skipped message="not run: reachable failed"/>');
  });

  it('XML escaping drops control characters', () => {
    expect(escapeXml('a\u0001b\tc<')).toBe('ab\tc&lt;');
  });
});

describe('check runner', () => {
  it('times checks, records failures, and skips the rest of a service after a required failure', async () => {
    const run = new CheckRunner('svc');
    expect(await run.check('one', async () => 'fine')).toBe(true);
    expect(await run.check('optional', async () => Promise.reject(new Error('meh')))).toBe(false);
    expect(run.usable).toBe(true);
    expect(
      await run.check('gate', async () => Promise.reject(new Error('down at 127.0.0.1:1')), {
        required: true,
      }),
    ).toBe(false);
    let ran = false;
    expect(
      await run.check('after', async () => {
        ran = true;
        return 'x';
      }),
    ).toBe(false);
    expect(ran).toBe(false);
    expect(run.results.map((r) => [r.check, r.status, r.message])).toEqual([
      ['one', 'pass', 'fine'],
      ['optional', 'fail', 'meh'],
      ['gate', 'fail', 'down at 127.0.0.1:1'],
      ['after', 'skip', 'not run: gate failed'],
    ]);
  });
});
