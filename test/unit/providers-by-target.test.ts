import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import type { ConfigOverrides } from '../../lib/config/schema.js';
import { PROVIDERS, PROVIDERS_BY_TARGET } from '../../lib/providers.js';
import { buildDockerStacks } from '../../stacks/docker/docker-stacks.js';
import { buildKubernetesStack } from '../../stacks/kubernetes/kubernetes-stack.js';
import { testDeployment } from './helpers.js';

/** Milvus from its Helm chart (the production option that brings the Helm provider in). */
const HELM_MILVUS: ConfigOverrides = {
  kubernetes: {
    context: 'prod-cluster',
    operators: { milvus: { mode: 'helm-cluster' }, apiServerCidrs: ['10.0.0.1/32'] },
  },
};

/** The provider sources a synthesized stack requires (terraform.required_providers). */
function required(json: string): string[] {
  const parsed = JSON.parse(json) as {
    terraform: { required_providers: Record<string, { source: string }> };
  };
  // A source without a namespace is the registry's hashicorp one.
  return Object.values(parsed.terraform.required_providers).map((p) =>
    p.source.includes('/') ? p.source : `hashicorp/${p.source}`,
  );
}
const sources = (names: (keyof typeof PROVIDERS)[]) =>
  names.map((n) => `${PROVIDERS[n].namespace}/${PROVIDERS[n].type}`).sort();

// `up` builds only the providers of its target: a provider missing from this list would fail `terraform init`
// offline on a host that ran only `up` for that target.
describe('providers per target', () => {
  it('the Docker stacks require exactly the Docker target providers', () => {
    const stacks = buildDockerStacks(Testing.app(), { deployment: testDeployment('local') });
    const used = [
      ...new Set([...required(Testing.synth(stacks.base)), ...required(Testing.synth(stacks.services))]),
    ];
    expect(used.sort()).toEqual(sources(PROVIDERS_BY_TARGET.docker));
  });

  it('the Kubernetes stack requires the Kubernetes target providers (Helm when Milvus runs from its chart)', () => {
    const plain = buildKubernetesStack(Testing.app(), { deployment: testDeployment('staging') });
    expect(required(Testing.synth(plain)).sort()).toEqual(sources(['kubernetes', 'random']));
    const charted = buildKubernetesStack(Testing.app(), {
      deployment: testDeployment('production', HELM_MILVUS),
    });
    expect(required(Testing.synth(charted)).sort()).toEqual(sources(PROVIDERS_BY_TARGET.kubernetes));
  });
});
