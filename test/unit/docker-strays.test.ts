import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeObjects, objectsInState, strays } from '../../lib/targets/docker/strays.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vs-strays-'));

/** A local-backend state as Terraform 1.x writes it (trimmed to what is read). */
function stateFile(resources: unknown[]): string {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.tfstate`);
  writeFileSync(file, JSON.stringify({ version: 4, terraform_version: '1.11.4', resources }));
  return file;
}

describe('objects no Terraform state records', () => {
  it('reads the networks, volumes and containers a state manages, by name, and nothing else', () => {
    const file = stateFile([
      {
        mode: 'managed',
        type: 'docker_network',
        name: 'network',
        instances: [{ attributes: { name: 'p-local' } }],
      },
      {
        mode: 'managed',
        type: 'docker_volume',
        name: 'etcd-data',
        instances: [{ attributes: { name: 'p-local-etcd-data' } }],
      },
      {
        mode: 'managed',
        type: 'docker_image',
        name: 'img',
        instances: [{ attributes: { name: 'etcd:3.5' } }],
      },
      {
        mode: 'managed',
        type: 'docker_container',
        name: 'c',
        instances: [{ attributes: { name: 'p-local-etcd' } }],
      },
      // A data source reads an object someone else owns.
      {
        mode: 'data',
        type: 'docker_network',
        name: 'other',
        instances: [{ attributes: { name: 'bridge' } }],
      },
    ]);
    expect(objectsInState(file)).toEqual([
      { kind: 'network', name: 'p-local' },
      { kind: 'volume', name: 'p-local-etcd-data' },
      { kind: 'container', name: 'p-local-etcd' },
    ]);
  });

  it('an absent state file, or one destroyed to nothing, records nothing', () => {
    expect(objectsInState(path.join(dir, 'never-written.tfstate'))).toEqual([]);
    expect(objectsInState(stateFile([]))).toEqual([]);
  });

  it('a stray is what the engine has and no state records, matched by kind and name', () => {
    const found = [
      { kind: 'network' as const, name: 'p-local' },
      { kind: 'volume' as const, name: 'p-local' }, // same name, other kind: still a stray
      { kind: 'container' as const, name: 'p-local-redis' },
    ];
    const known = [{ kind: 'network' as const, name: 'p-local' }];
    const left = strays(found, known);
    expect(left).toEqual(found.slice(1));
    expect(describeObjects(left)).toBe('volume p-local, container p-local-redis');
  });
});
