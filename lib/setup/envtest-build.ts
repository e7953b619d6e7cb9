import { $ } from 'zx';
import { ensureGoBinary, type GoProgram } from './go-build.js';
import type { ToolchainRecord } from './toolchain-file.js';
import type { SetupContext, StepOutcome } from './types.js';

/** Kubernetes release of the throwaway control plane (toolchain/envtest pins it and its v0.X.Y staging modules). */
export const ENVTEST_KUBERNETES_VERSION = '1.35.4';

/** What hack/lib/version.sh stamps; without it the binaries report v0.0.0-master. */
function versionLdflags(version: string): string {
  const [major, minor] = version.split('.');
  return ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']
    .flatMap((pkg) => [
      `-X ${pkg}.gitVersion=v${version}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    ])
    .join(' ');
}

export function kubeProgram(name: string): GoProgram {
  return {
    name,
    moduleDir: 'toolchain/envtest',
    pkg: `k8s.io/kubernetes/cmd/${name}`,
    version: ENVTEST_KUBERNETES_VERSION,
    ldflags: versionLdflags(ENVTEST_KUBERNETES_VERSION),
  };
}

/** API server and controller manager (namespace deletion, garbage collection, StatefulSet/Job pods); no kubelet. */
export const KUBE_APISERVER = kubeProgram('kube-apiserver');
export const KUBE_CONTROLLER_MANAGER = kubeProgram('kube-controller-manager');

async function reportedVersion(binary: string): Promise<string | null> {
  const result = await $({ quiet: true, nothrow: true })`${binary} --version`;
  return /Kubernetes v(\S+)/.exec(result.stdout)?.[1] ?? null;
}

/** Builds kube-apiserver and kube-controller-manager from the Go module proxy (content-addressed cache). */
export async function ensureEnvtest(ctx: SetupContext, record: ToolchainRecord): Promise<StepOutcome> {
  const apiserver = await ensureGoBinary(ctx, KUBE_APISERVER);
  const controllerManager = await ensureGoBinary(ctx, KUBE_CONTROLLER_MANAGER);
  for (const binary of [apiserver.binary, controllerManager.binary]) {
    const version = await reportedVersion(binary);
    if (version !== ENVTEST_KUBERNETES_VERSION)
      throw new Error(`${binary} reports version ${version}, expected ${ENVTEST_KUBERNETES_VERSION}`);
  }
  record.envtest = {
    apiserver: apiserver.binary,
    controllerManager: controllerManager.binary,
    version: ENVTEST_KUBERNETES_VERSION,
  };
  return {
    status: apiserver.built || controllerManager.built ? 'built' : 'found',
    source: 'Go module proxy',
    version: ENVTEST_KUBERNETES_VERSION,
  };
}
