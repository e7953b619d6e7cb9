import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeObjects, objectsInState, removalCommands, strays } from '../../lib/targets/docker/strays.js';
import { scratchFiles } from './helpers.js';

const write = scratchFiles('vs-strays');
let written = 0;

/** A local-backend state as Terraform 1.x writes it (trimmed to what is read). */
function stateFile(resources: unknown[]): string {
  written++;
  return write(`s${written}.tfstate`, JSON.stringify({ version: 4, terraform_version: '1.11.4', resources }));
}

/** One resource of a state file with one instance named `name`. */
const resource = (mode: 'managed' | 'data', type: string, name: string) => ({
  mode,
  type,
  name: 'r',
  instances: [{ attributes: { name } }],
});

describe('objects no Terraform state records', () => {
  it('reads the networks, volumes and containers a state manages, by name, and nothing else', () => {
    const file = stateFile([
      resource('managed', 'docker_network', 'p-local'),
      resource('managed', 'docker_volume', 'p-local-etcd-data'),
      resource('managed', 'docker_image', 'etcd:3.5'),
      resource('managed', 'docker_container', 'p-local-etcd'),
      resource('data', 'docker_network', 'bridge'), // a data source reads an object someone else owns
    ]);
    expect(objectsInState(file)).toEqual([
      { kind: 'network', name: 'p-local' },
      { kind: 'volume', name: 'p-local-etcd-data' },
      { kind: 'container', name: 'p-local-etcd' },
    ]);
  });

  it('an absent state file, or one destroyed to nothing, records nothing', () => {
    expect(objectsInState(path.join(write.dir, 'never-written.tfstate'))).toEqual([]);
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

  it('the commands shown to a user are the ones removal runs: containers, then networks, then volumes', () => {
    const objects = [
      { kind: 'volume' as const, name: 'p-local-redis-data' },
      { kind: 'network' as const, name: 'p-local' },
      { kind: 'container' as const, name: 'p-local-etcd' },
      { kind: 'container' as const, name: 'p-local-redis' },
    ];
    expect(removalCommands(objects)).toBe(
      'docker rm -f p-local-etcd p-local-redis; docker network rm p-local; docker volume rm -f p-local-redis-data',
    );
    expect(removalCommands(objects.filter((o) => o.kind === 'network'))).toBe('docker network rm p-local');
    expect(removalCommands([])).toBe('');
  });
});
