// Docker objects that carry an environment's labels but that its Terraform state does not know: left by a run whose
// state directory is gone (a killed test, a deleted checkout) or made from another directory with the same project and
// environment. `up` refuses to create over them (it names each and the way out); `destroy` removes them.
import { existsSync, readFileSync } from 'node:fs';
import { $ } from 'zx';
import { labelFilters } from './containers.js';

export type StrayKind = 'container' | 'network' | 'volume';

export interface DockerObject {
  kind: StrayKind;
  name: string;
}

/** Every container, network and volume on the engine carrying all of `labels`. */
export async function labelledObjects(labels: Record<string, string>): Promise<DockerObject[]> {
  const filters = labelFilters(labels);
  const names = async (kind: StrayKind, listed: Promise<{ stdout: string }>) =>
    (await listed).stdout
      .split('\n')
      .map((n) => n.trim())
      .filter(Boolean)
      .map((name) => ({ kind, name }));
  const $q = $({ quiet: true });
  return [
    ...(await names('container', $q`docker ps -a --format ${'{{.Names}}'} ${filters}`)),
    ...(await names('network', $q`docker network ls --format ${'{{.Name}}'} ${filters}`)),
    ...(await names('volume', $q`docker volume ls --format ${'{{.Name}}'} ${filters}`)),
  ];
}

const RESOURCE_KIND: Record<string, StrayKind> = {
  docker_container: 'container',
  docker_network: 'network',
  docker_volume: 'volume',
};

/** The Docker objects a local Terraform state file records (none when the file is absent). */
export function objectsInState(stateFile: string): DockerObject[] {
  if (!existsSync(stateFile)) return [];
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as {
    resources?: { mode?: string; type: string; instances?: { attributes?: { name?: string } }[] }[];
  };
  return (state.resources ?? []).flatMap((r) => {
    const kind = RESOURCE_KIND[r.type];
    if (!kind || r.mode === 'data') return []; // a data source reads an object, it does not own it
    return (r.instances ?? []).flatMap((i) =>
      i.attributes?.name ? [{ kind, name: i.attributes.name }] : [],
    );
  });
}

/** Objects on the engine that no state file records. */
export function strays(found: DockerObject[], known: DockerObject[]): DockerObject[] {
  const key = (o: DockerObject) => `${o.kind}/${o.name}`;
  const recorded = new Set(known.map(key));
  return found.filter((o) => !recorded.has(key(o)));
}

/**
 * The docker command that removes objects of each kind, in the order they must go: containers first (they hold the
 * network), then networks, then volumes. `removeObjects` runs them; `removalCommands` shows the same ones to a user.
 */
const REMOVAL: readonly [StrayKind, readonly string[]][] = [
  ['container', ['rm', '-f']],
  ['network', ['network', 'rm']],
  ['volume', ['volume', 'rm', '-f']],
];

/** Per kind with something to remove: the docker arguments that remove exactly those objects. */
function removals(objects: DockerObject[]): string[][] {
  return REMOVAL.flatMap(([kind, command]) => {
    const names = objects.filter((o) => o.kind === kind).map((o) => o.name);
    return names.length > 0 ? [[...command, ...names]] : [];
  });
}

export async function removeObjects(objects: DockerObject[]): Promise<void> {
  for (const args of removals(objects)) await $({ quiet: true })`docker ${args}`;
}

/** `docker rm -f a b; docker network rm c`: what `removeObjects` would run, for a remedy a user can follow. */
export function removalCommands(objects: DockerObject[]): string {
  return removals(objects)
    .map((args) => `docker ${args.join(' ')}`)
    .join('; ');
}

/** `container vschaos-local-etcd, network vschaos-local`: for messages. */
export function describeObjects(objects: DockerObject[]): string {
  return objects.map((o) => `${o.kind} ${o.name}`).join(', ');
}
