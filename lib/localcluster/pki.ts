import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LocalClusterError } from './errors.js';

/** A certificate and its key in a PKI directory: <dir>/<name>.crt, <dir>/<name>.key (0600). */
export interface CertFiles {
  cert: string;
  key: string;
}

export interface CertRequest {
  /** File name stem. */
  name: string;
  commonName: string;
  /** Subject organisation: Kubernetes maps it to a group (system:masters, system:nodes). */
  organization?: string;
  /** Subject alternative names, e.g. ['IP:127.0.0.1', 'DNS:localhost']. */
  altNames?: string[];
  usage: 'server' | 'client' | 'server+client';
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(cwd: string, args: string[]): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0)
    throw new LocalClusterError(
      'pki',
      `openssl ${args[0]} in ${cwd} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr?.trim()}`,
      'install openssl (Debian: apt-get install openssl)',
    );
}

/** A self-signed CA (EC P-256) in `dir` unless one is there. */
export function ensureCa(dir: string, commonName: string, days: number): CertFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
  if (existsSync(files.cert) && existsSync(files.key)) return files;
  openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    String(days),
  ]);
  return files;
}

/** A certificate signed by the CA in `dir`, unless one with that name is there. */
export function ensureCert(dir: string, request: CertRequest, days: number): CertFiles {
  const files = { cert: path.join(dir, `${request.name}.crt`), key: path.join(dir, `${request.name}.key`) };
  if (existsSync(files.cert) && existsSync(files.key)) return files;
  const subject = `${request.organization ? `/O=${request.organization}` : ''}/CN=${request.commonName}`;
  openssl(dir, [
    'req',
    ...EC,
    '-keyout',
    `${request.name}.key`,
    '-out',
    `${request.name}.csr`,
    '-subj',
    subject,
  ]);
  const usage = {
    server: 'serverAuth',
    client: 'clientAuth',
    'server+client': 'serverAuth,clientAuth',
  }[request.usage];
  const ext = [
    ...(request.altNames?.length ? [`subjectAltName=${request.altNames.join(',')}`] : []),
    `extendedKeyUsage=${usage}`,
    'keyUsage=critical,digitalSignature,keyEncipherment',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, `${request.name}.ext`), ext);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${request.name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    String(days),
    '-extfile',
    `${request.name}.ext`,
    '-out',
    `${request.name}.crt`,
  ]);
  rmSync(path.join(dir, `${request.name}.csr`), { force: true });
  rmSync(path.join(dir, `${request.name}.ext`), { force: true });
  return files;
}

/** RSA key pair that signs and verifies service-account tokens: <dir>/sa.key (0600), <dir>/sa.pub. */
export function ensureServiceAccountKey(dir: string): { key: string; pub: string } {
  const files = { key: path.join(dir, 'sa.key'), pub: path.join(dir, 'sa.pub') };
  if (existsSync(files.key) && existsSync(files.pub)) return files;
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  writeFileSync(files.pub, pair.publicKey);
  writeFileSync(files.key, pair.privateKey, { mode: 0o600 });
  return files;
}

/** The users the host agents authenticate as (their certificates' CN); addons.ts binds their roles. */
export const KUBE_ROUTER_USER = 'system:vectorstack:kube-router';
export const LOCAL_PATH_PROVISIONER_USER = 'system:vectorstack:local-path-provisioner';

/** Identities of the cluster's components: who they are to the API server's RBAC (CN = user, O = group). */
export interface ClusterPki {
  ca: CertFiles;
  apiserver: CertFiles;
  apiserverKubeletClient: CertFiles;
  admin: CertFiles;
  controllerManager: CertFiles;
  scheduler: CertFiles;
  kubelet: CertFiles;
  kubeletServing: CertFiles;
  kubeProxy: CertFiles;
  /** Host agents with RBAC of their own (lib/localcluster/addons.ts). */
  kubeRouter: CertFiles;
  localPathProvisioner: CertFiles;
  serviceAccount: { key: string; pub: string };
}

/** Every certificate of the cluster, created once and reused by later `up`s (valid for a year). */
export function ensureClusterPki(
  dir: string,
  opts: { nodeName: string; nodeIp: string; apiServiceIp: string; clusterDomain: string },
): ClusterPki {
  const days = 365;
  const ca = ensureCa(dir, 'vectorstack-cluster-ca', days);
  const cert = (request: CertRequest) => ensureCert(dir, request, days);
  return {
    ca,
    apiserver: cert({
      name: 'apiserver',
      commonName: 'kube-apiserver',
      usage: 'server',
      altNames: [
        `IP:${opts.nodeIp}`,
        `IP:${opts.apiServiceIp}`,
        'IP:127.0.0.1',
        'DNS:localhost',
        'DNS:kubernetes',
        'DNS:kubernetes.default',
        'DNS:kubernetes.default.svc',
        `DNS:kubernetes.default.svc.${opts.clusterDomain}`,
      ],
    }),
    // The API server's identity towards kubelets (logs, exec, port-forward).
    apiserverKubeletClient: cert({
      name: 'apiserver-kubelet-client',
      commonName: 'kube-apiserver-kubelet-client',
      organization: 'system:masters',
      usage: 'client',
    }),
    admin: cert({
      name: 'admin',
      commonName: 'vectorstack-admin',
      organization: 'system:masters',
      usage: 'client',
    }),
    controllerManager: cert({
      name: 'controller-manager',
      commonName: 'system:kube-controller-manager',
      usage: 'client',
    }),
    scheduler: cert({ name: 'scheduler', commonName: 'system:kube-scheduler', usage: 'client' }),
    kubelet: cert({
      name: 'kubelet',
      commonName: `system:node:${opts.nodeName}`,
      organization: 'system:nodes',
      usage: 'client',
    }),
    kubeletServing: cert({
      name: 'kubelet-serving',
      commonName: opts.nodeName,
      usage: 'server',
      altNames: [`IP:${opts.nodeIp}`, 'IP:127.0.0.1', `DNS:${opts.nodeName}`],
    }),
    kubeProxy: cert({ name: 'kube-proxy', commonName: 'system:kube-proxy', usage: 'client' }),
    kubeRouter: cert({ name: 'kube-router', commonName: KUBE_ROUTER_USER, usage: 'client' }),
    localPathProvisioner: cert({
      name: 'local-path-provisioner',
      commonName: LOCAL_PATH_PROVISIONER_USER,
      usage: 'client',
    }),
    serviceAccount: ensureServiceAccountKey(dir),
  };
}
