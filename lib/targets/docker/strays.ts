// Docker objects that carry an environment's labels but that its Terraform state does not know: left by a run whose
// state directory is gone (a killed test, a deleted checkout) or made from another directory with the same project and
// environment. `up` refuses to create over them (it names each and the way out); `destroy` removes them.
import { existsSync, readFileSync } from 'node:fs';
import { $ } from 'zx';

export type StrayKind = 'container' | 'network' | 'volume';

export interface DockerObject {
  kind: StrayKind;
  name: string;
}

/** Every container, network and volume on the engine carrying all of `labels`. */
export async function labelledObjects(labels: Record<string, string>): Promise<DockerObject[]> {
  const filters = Object.entries(labels).flatMap(([key, value]) => ['--filter', `label=${key}=${value}`]);
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

/** Removes them: containers first (they hold the network), then networks, then volumes. */
export async function removeObjects(objects: DockerObject[]): Promise<void> {
  const of = (kind: StrayKind) => objects.filter((o) => o.kind === kind).map((o) => o.name);
  const $q = $({ quiet: true });
  if (of('container').length > 0) await $q`docker rm -f ${of('container')}`;
  if (of('network').length > 0) await $q`docker network rm ${of('network')}`;
  if (of('volume').length > 0) await $q`docker volume rm -f ${of('volume')}`;
}

/** `container vschaos-local-etcd, network vschaos-local`: for messages. */
export function describeObjects(objects: DockerObject[]): string {
  return objects.map((o) => `${o.kind} ${o.name}`).join(', ');
}
