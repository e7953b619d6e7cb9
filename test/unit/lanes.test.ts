import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLanes } from '../../lib/util/lanes.js';

describe('lanes', () => {
  it('runs lanes side by side, prefixes each line with its lane, and reports every exit code', async () => {
    // A rendezvous: each lane leaves a file and waits (bounded) for the other's; run one after the other, the first
    // would give up (exit 4).
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lanes-'));
    const lane = (me: string, other: string, code: number, err = false) =>
      `const fs = require('fs'), p = require('path');
       fs.writeFileSync(p.join(${JSON.stringify(dir)}, '${me}'), '');
       const until = Date.now() + 10000;
       const tick = () => {
         if (fs.existsSync(p.join(${JSON.stringify(dir)}, '${other}'))) {
           console.log('${me} met ${other}');
           ${err ? `console.error('${me} on stderr');` : ''}
           process.exit(${code});
         }
         if (Date.now() > until) process.exit(4);
         setTimeout(tick, 20);
       };
       tick();`;
    const lines: string[] = [];
    const results = await runLanes(
      [
        { name: 'a', command: process.execPath, args: ['-e', lane('a', 'bee', 0, true)] },
        { name: 'bee', command: process.execPath, args: ['-e', lane('bee', 'a', 3)] },
      ],
      (line) => lines.push(line),
    );
    expect(results.map((r) => `${r.name} ${r.exitCode}`)).toEqual(['a 0', 'bee 3']);
    expect(lines.sort()).toEqual(['[a  ] a met bee', '[a  ] a on stderr', '[bee] bee met a']);
  });

  it('a command that cannot start is a failed lane, named', async () => {
    const lines: string[] = [];
    const results = await runLanes([{ name: 'x', command: '/nonexistent/vitest', args: [] }], (l) =>
      lines.push(l),
    );
    expect(results[0]!.exitCode).toBe(1);
    expect(lines[0]).toMatch(/^\[x\] cannot start \/nonexistent\/vitest: spawn \/nonexistent\/vitest ENOENT/);
  });
});
