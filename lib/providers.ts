/**
 * Terraform providers the stacks use. `bindingVersion` is the version the prebuilt @cdktf/provider-* package was
 * generated from and is the constraint users get from the public registry. A host that builds its providers from
 * the Go module proxy (npm run setup) gets the version the proxy serves; setup records it and synthesis pins that
 * exact version instead, so the lock file and `version` output tell the truth about what runs.
 */
export const PROVIDERS = {
  docker: { namespace: 'kreuzwerker', type: 'docker', bindingVersion: '3.6.2' },
  kubernetes: { namespace: 'hashicorp', type: 'kubernetes', bindingVersion: '2.38.0' },
  helm: { namespace: 'hashicorp', type: 'helm', bindingVersion: '3.1.1' },
  random: { namespace: 'hashicorp', type: 'random', bindingVersion: '3.7.2' },
} as const;

export type ProviderName = keyof typeof PROVIDERS;
export const PROVIDER_NAMES = Object.keys(PROVIDERS) as ProviderName[];

/** The providers each target's stacks use: a host that only runs the Docker stack builds only the Docker provider. */
export const PROVIDERS_BY_TARGET: Record<'docker' | 'kubernetes', ProviderName[]> = {
  docker: ['docker'],
  kubernetes: ['kubernetes', 'helm', 'random'],
};
