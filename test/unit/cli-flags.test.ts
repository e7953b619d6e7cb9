import { describe, expect, it } from 'vitest';
import { parseFlags, UsageError } from '../../lib/cli.js';

const spec = { boolean: ['plan'], negatable: ['wait'], string: ['env'], usage: 'usage: x' };

describe('flag parsing', () => {
  it('a negatable flag is on when absent and off with --no-<flag>; plain booleans are off when absent', () => {
    expect(parseFlags(['--env', 'staging'], spec)).toMatchObject({ env: 'staging', wait: true, plan: false });
    expect(parseFlags(['--no-wait', '--plan'], spec)).toMatchObject({ wait: false, plan: true });
  });

  it('an unknown flag is a usage error naming it', () => {
    expect(() => parseFlags(['--wiat'], spec)).toThrow(UsageError);
    expect(() => parseFlags(['--wiat'], spec)).toThrow('unknown flag --wiat');
  });
});
