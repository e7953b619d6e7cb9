import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { BASE_IMAGE, ensureDebianBase } from './debian-base.js';
import {
  ENVTEST_KUBERNETES_VERSION,
  KUBE_APISERVER,
  KUBE_CONTROLLER_MANAGER,
  kubeProgram,
} from './envtest-build.js';
import { ensureGoBinary, type GoProgram, goEnv } from './go-build.js';
import { hashStrings, sha256File } from './hash.js';
import { ensureImage } from './image-build.js';
import type { ToolchainRecord } from './toolchain-file.js';
import { type SetupContext, SetupError, type StepOutcome } from './types.js';

/**
 * Everything the single-node cluster (lib/localcluster, `npm run cluster`) needs besides the Docker engine: host
 * packages from Debian, Kubernetes' node binaries, CoreDNS, kube-router and local-path-provisioner from the Go module
 * proxy, and the pause and CoreDNS images (imported into the cluster's containerd at `cluster up`).
 */
export const CLUSTER_APT_PACKAGES = [
  'containerd',
  'runc',
  'containernetworking-plugins',
  'conntrack',
  'iptables',
  'ipset',
  'socat',
  'iproute2',
  'openssl',
  'gcc',
  'libc6-dev',
];

export const COREDNS_VERSION = '1.15.0';
export const KUBE_ROUTER_VERSION = 'v2.6.3-k3s1';
export const LOCAL_PATH_PROVISIONER_VERSION = 'v0.0.30';
/** The pause.c of build/pause in the kubernetes module; 3.10.1 is that release's pause image tag. */
export const PAUSE_VERSION = '3.10.1';

export const KUBELET = kubeProgram('kubelet');
export const KUBE_PROXY = kubeProgram('kube-proxy');
export const KUBE_SCHEDULER = kubeProgram('kube-scheduler');
export const KUBECTL = kubeProgram('kubectl');

export const COREDNS: GoProgram = {
  name: 'coredns',
  moduleDir: 'toolchain/coredns',
  pkg: 'vectorstack.local/toolchain/coredns',
  version: COREDNS_VERSION,
};

export const KUBE_ROUTER: GoProgram = {
  name: 'kube-router',
  moduleDir: 'toolchain/kube-router',
  pkg: 'github.com/cloudnativelabs/kube-router/v2/cmd/kube-router',
  version: KUBE_ROUTER_VERSION,
  ldflags: `-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=${KUBE_ROUTER_VERSION}`,
};

export const LOCAL_PATH_PROVISIONER: GoProgram = {
  name: 'local-path-provisioner',
  moduleDir: 'toolchain/local-path-provisioner',
  pkg: 'github.com/rancher/local-path-provisioner',
  version: LOCAL_PATH_PROVISIONER_VERSION,
};

export interface ClusterToolchain {
  kubernetesVersion: string;
  binaries: {
    kubeApiserver: string;
    kubeControllerManager: string;
    kubeScheduler: string;
    kubelet: string;
    kubeProxy: string;
    kubectl: string;
    kubeRouter: string;
    localPathProvisioner: string;
  };
  /** Docker tags imported into the cluster's containerd by `up`. */
  images: { pause: string; coredns: string; helper: string };
  versions: {
    coredns: string;
    kubeRouter: string;
    localPathProvisioner: string;
    pause: string;
    containerd: string;
  };
}

async function dpkgInstalled(pkg: string): Promise<boolean> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, passed literally
  const r = await $({ quiet: true, nothrow: true })`dpkg-query -W -f ${'${Status}'} ${pkg}`;
  return r.ok && r.stdout.includes('install ok installed');
}

/** Installs the missing Debian packages (root + apt); returns the ones it installed. */
async function ensureAptPackages(ctx: SetupContext): Promise<string[]> {
  const missing: string[] = [];
  for (const pkg of CLUSTER_APT_PACKAGES) if (!(await dpkgInstalled(pkg))) missing.push(pkg);
  if (missing.length === 0) return [];
  if (ctx.checkOnly) throw new Error(`Debian packages missing: ${missing.join(', ')}`);
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get'))
    throw new SetupError(
      `the local cluster needs the Debian packages ${missing.join(', ')}`,
      `as root: apt-get update && apt-get install -y ${missing.join(' ')}`,
    );
  ctx.progress.log(`cluster: apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await $({ quiet: true, env })`apt-get update -q`;
  await $({ quiet: true, env })`apt-get install -y -q --no-install-recommends ${missing}`;
  return missing;
}

/** pause.c from the kubernetes module (already pinned by toolchain/envtest's go.sum), compiled statically. */
async function ensurePauseBinary(ctx: SetupContext): Promise<{ binary: string; built: boolean }> {
  const moduleDir = path.join(ctx.repoRoot, 'toolchain/envtest');
  const env = goEnv(ctx);
  const dir = (
    await $({
      quiet: true,
      cwd: moduleDir,
      env,
    })`go mod download -json ${`k8s.io/kubernetes@v${ENVTEST_KUBERNETES_VERSION}`}`
  ).stdout;
  const moduleRoot = (JSON.parse(dir) as { Dir: string }).Dir;
  const source = path.join(moduleRoot, 'build/pause/linux/pause.c');
  const flags = ['-Os', '-Wall', '-Werror', '-static', `-DVERSION=v${PAUSE_VERSION}-vectorstack`];
  const key = hashStrings(await sha256File(source), flags.join(' ')).slice(0, 12);
  const binary = path.join(ctx.cacheDir, 'bin', `pause-${PAUSE_VERSION}-${key}`);
  if (existsSync(binary) && !ctx.force.has('pause')) return { binary, built: false };
  if (ctx.checkOnly) throw new Error('pause is not built');
  mkdirSync(path.dirname(binary), { recursive: true });
  await $({ quiet: true })`gcc ${flags} -o ${`${binary}.partial`} ${source}`;
  renameSync(`${binary}.partial`, binary);
  return { binary, built: true };
}

async function containerdVersion(): Promise<string> {
  const r = await $({ quiet: true, nothrow: true })`containerd --version`;
  return /containerd\S*\s+\S+\s+v?(\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
}

/** The `cluster` setup step (run by `npm run setup -- --tests` and by `npm run cluster -- up`). */
export async function ensureClusterToolchain(
  ctx: SetupContext,
  record: ToolchainRecord,
): Promise<StepOutcome> {
  const installed = await ensureAptPackages(ctx);
  let built = 0;
  const go = async (program: GoProgram) => {
    const result = await ensureGoBinary(ctx, program);
    if (result.built) built++;
    return result.binary;
  };
  // One build at a time: the Kubernetes binaries share most packages, so each after the first is mostly linking.
  const binaries = {
    kubeApiserver: await go(KUBE_APISERVER),
    kubeControllerManager: await go(KUBE_CONTROLLER_MANAGER),
    kubeScheduler: await go(KUBE_SCHEDULER),
    kubelet: await go(KUBELET),
    kubeProxy: await go(KUBE_PROXY),
    kubectl: await go(KUBECTL),
    kubeRouter: await go(KUBE_ROUTER),
    localPathProvisioner: await go(LOCAL_PATH_PROVISIONER),
  };
  const coredns = await go(COREDNS);
  const pause = await ensurePauseBinary(ctx);
  if (pause.built) built++;

  // Images: the pause and CoreDNS images hold only their static binary; the helper pods of local-path-provisioner
  // use the kit's Debian base image.
  await ensureDebianBase(ctx);
  const image = async (name: 'pause' | 'coredns', binary: string, version: string) => {
    const result = await ensureImage(
      ctx,
      {
        component: `image:${name}`,
        dockerDir: `images/${name}`,
        repository: `vectorstack-offline/${name}`,
        version,
        artifactIdentities: [`${name}=${await sha256File(binary)}`],
        artifacts: async () => [{ from: binary, to: name, identity: binary }],
      },
      BASE_IMAGE,
    );
    if (result.built) built++;
    return result.tag;
  };
  const images = {
    pause: await image('pause', pause.binary, PAUSE_VERSION),
    coredns: await image('coredns', coredns, COREDNS_VERSION),
    helper: BASE_IMAGE,
  };
  record.cluster = {
    kubernetesVersion: ENVTEST_KUBERNETES_VERSION,
    binaries,
    images,
    versions: {
      coredns: COREDNS_VERSION,
      kubeRouter: KUBE_ROUTER_VERSION,
      localPathProvisioner: LOCAL_PATH_PROVISIONER_VERSION,
      pause: PAUSE_VERSION,
      containerd: await containerdVersion(),
    },
  };
  record.kubectl = { binary: binaries.kubectl, version: ENVTEST_KUBERNETES_VERSION };
  return {
    status: installed.length > 0 ? 'installed' : built > 0 ? 'built' : 'found',
    source: 'Debian packages + Go module proxy',
    version: `Kubernetes ${ENVTEST_KUBERNETES_VERSION}, containerd ${record.cluster.versions.containerd}`,
    ...(installed.length > 0 ? { detail: `apt: ${installed.join(', ')}` } : {}),
  };
}
