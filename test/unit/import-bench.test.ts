import { describe, expect, it } from 'vitest';
import { DEFAULT_PAGE_SETTING, parsePageSettings } from '../../lib/transfer/import-bench.js';

describe('bench:import --pages', () => {
  it('parses SIZE:AHEAD settings in order', () => {
    expect(parsePageSettings('1000:2, 2500:4')).toEqual([
      { pageSize: 1000, readAhead: 2 },
      { pageSize: 2500, readAhead: 4 },
    ]);
    expect(DEFAULT_PAGE_SETTING).toEqual({ pageSize: 1000, readAhead: 2 });
  });

  it('refuses a malformed or out-of-range part, naming it and the allowed form', () => {
    expect(() => parsePageSettings('1000:2,2500')).toThrow(
      '--pages 2500: expected SIZE:AHEAD with SIZE 1-100000 records and AHEAD 0-16 pages, e.g. 1000:2',
    );
    expect(() => parsePageSettings('0:2')).toThrow(/--pages 0:2: expected SIZE:AHEAD/);
    expect(() => parsePageSettings('1000:17')).toThrow(/--pages 1000:17: expected SIZE:AHEAD/);
  });
});
