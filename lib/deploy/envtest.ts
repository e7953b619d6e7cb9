import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { $ } from 'zx';
import { readImageOverrides, resolveImages } from '../images.js';
import { imagesFile } from '../paths.js';
import { readToolchain } from '../setup/toolchain-file.js';
import { NotSetUpError } from './terraform-cli.js';

/**
 * A throwaway Kubernetes control plane on 127.0.0.1 (the envtest pattern): etcd in a container, kube-apiserver and
 * kube-controller-manager as local processes built by `npm run setup` (step envtest). No scheduler, no kubelet: objects
 * are admitted and reconciled by the controllers (StatefulSets create their Pods and claims, namespaces finalize,
 * garbage collection runs), but no pod ever runs.
 */
export interface ControlPlaneOptions {
  /** Kube context name written to the kubeconfig. @default 'vectorstack-envtest' */
  context?: string;
  /** Run kube-controller-manager (needed for namespace deletion and garbage collection). @default true */
  controllerManager?: boolean;
  /** etcd image, present locally (nothing is pulled). @default the local stack's etcd image (setup's offline build) */
  etcdImage?: string;
  /** Bound on every start-up wait. @default 120_000 */
  timeoutMs?: number;
  environ?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  kubeconfig: string;
  context: string;
  /** PEM of the CA that signed the serving certificate. */
  ca: string;
  version: string;
  /** Authenticated request (system:masters) to the API server; JSON in, JSON out. */
  request<T = unknown>(method: string, apiPath: string, body?: unknown): Promise<ApiResponse<T>>;
  /** GET that fails on anything but 200. */
  get<T = unknown>(apiPath: string): Promise<T>;
  /** Last lines of a component's log (kube-apiserver, kube-controller-manager, etcd). */
  logTail(component: 'kube-apiserver' | 'kube-controller-manager' | 'etcd', lines?: number): string;
  /** Stops the processes, removes the container, network and temporary files. Idempotent. */
  stop(): Promise<void>;
}

export class ControlPlaneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlPlaneError';
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function openssl(cwd: string, args: string[]): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0)
    throw new ControlPlaneError(
      `openssl ${args[0]} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr?.trim()}`,
    );
}

/** CA, serving certificate for 127.0.0.1/localhost, service-account key pair, static admin token. */
function writeCredentials(dir: string): { token: string } {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-subj',
    '/CN=vectorstack-envtest-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
  ]);
  openssl(dir, [
    'req',
    ...ec,
    '-keyout',
    'apiserver.key',
    '-out',
    'apiserver.csr',
    '-subj',
    '/CN=kube-apiserver',
  ]);
  writeFileSync(
    path.join(dir, 'apiserver.ext'),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'extendedKeyUsage=serverAuth',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      '',
    ].join('\n'),
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'apiserver.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'apiserver.ext',
    '-out',
    'apiserver.crt',
  ]);
  const sa = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  writeFileSync(path.join(dir, 'sa.pub'), sa.publicKey);
  writeFileSync(path.join(dir, 'sa.key'), sa.privateKey, { mode: 0o600 });
  const token = randomBytes(24).toString('hex');
  writeFileSync(path.join(dir, 'tokens.csv'), `${token},envtest-admin,envtest-admin,"system:masters"\n`, {
    mode: 0o600,
  });
  return { token };
}

/** Starts etcd, kube-apiserver and (by default) kube-controller-manager; stops whatever started if a step fails. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const environ = options.environ ?? process.env;
  const record = readToolchain(environ).envtest;
  const log = options.log ?? (() => {});
  const wantKcm = options.controllerManager ?? true;
  if (!record || !existsSync(record.apiserver))
    throw new NotSetUpError('kube-apiserver is not built (setup step envtest)');
  if (wantKcm && (!record.controllerManager || !existsSync(record.controllerManager)))
    throw new NotSetUpError('kube-controller-manager is not built (setup step envtest)');
  const timeoutMs = options.timeoutMs ?? 120_000;
  const context = options.context ?? 'vectorstack-envtest';
  const etcdImage = options.etcdImage ?? resolveImages({}, readImageOverrides(imagesFile(environ))).etcd;
  const id = randomBytes(4).toString('hex');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vs-envtest-'));
  const network = `vs-envtest-${id}`;
  const container = `vs-envtest-etcd-${id}`;
  const children = new Map<string, ChildProcess>();
  const logFile = (name: string) => path.join(dir, `${name}.log`);

  // Watchdog for a runner killed by a signal (no 'exit' event, no afterAll): once this process is gone it kills the
  // processes listed in ./pids and removes the container, network and directory.
  const watchdog = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$VS_PARENT" 2>/dev/null; do sleep 2; done; ' +
        '[ -f pids ] && kill -9 $(cat pids) 2>/dev/null; ' +
        'docker rm -f -v "$VS_CONTAINER" >/dev/null 2>&1; docker network rm "$VS_NETWORK" >/dev/null 2>&1; ' +
        'rm -rf "$VS_DIR"',
    ],
    {
      cwd: dir,
      detached: true,
      stdio: 'ignore',
      env: {
        PATH: environ.PATH,
        VS_PARENT: String(process.pid),
        VS_CONTAINER: container,
        VS_NETWORK: network,
        VS_DIR: dir,
      },
    },
  );
  watchdog.unref();

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stopOnExit);
    watchdog.kill('SIGKILL');
    await Promise.all(
      [...children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const inTime = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
        if (!inTime) {
          child.kill('SIGKILL');
          await exited;
        }
      }),
    );
    await $({ quiet: true, nothrow: true })`docker rm -f -v ${container}`;
    await $({ quiet: true, nothrow: true })`docker network rm ${network}`;
    rmSync(dir, { recursive: true, force: true });
  };
  // Last resort when the test runner dies without afterAll: nothing keeps running on the host.
  function stopOnExit() {
    watchdog.kill('SIGKILL');
    for (const child of children.values()) child.kill('SIGKILL');
    try {
      execFileSync('docker', ['rm', '-f', '-v', container], { stdio: 'ignore', timeout: 15_000 });
      execFileSync('docker', ['network', 'rm', network], { stdio: 'ignore', timeout: 15_000 });
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  }
  process.once('exit', stopOnExit);

  const logTail = (component: string, lines = 30) => {
    const file = logFile(component);
    if (component === 'etcd') {
      const out = spawnSync('docker', ['logs', '--tail', String(lines), container], {
        encoding: 'utf8',
        timeout: 15_000,
      });
      return `${out.stdout ?? ''}${out.stderr ?? ''}`.trim();
    }
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n') : '';
  };
  const start = (name: string, binary: string, args: string[]) => {
    const fd = openSync(logFile(name), 'a');
    const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', fd, fd], env: { PATH: environ.PATH } });
    closeSync(fd);
    children.set(name, child);
    if (child.pid) appendFileSync(path.join(dir, 'pids'), `${child.pid}\n`);
    return child;
  };
  const deadline = (what: string) => {
    const until = Date.now() + timeoutMs;
    return (component?: string) => {
      if (component && children.get(component)?.exitCode != null)
        throw new ControlPlaneError(
          `${component} exited (${children.get(component)!.exitCode}) while ${what}:\n${logTail(component)}`,
        );
      if (Date.now() > until)
        throw new ControlPlaneError(
          `${what}: not done after ${timeoutMs / 1000}s${component ? `:\n${logTail(component)}` : ''}`,
        );
    };
  };

  try {
    const { token } = writeCredentials(dir);
    const ca = readFileSync(path.join(dir, 'ca.crt'), 'utf8');

    // etcd: the offline image, on a network of its own, published on 127.0.0.1 only.
    log(`envtest: etcd (${etcdImage})`);
    await $({ quiet: true })`docker network create ${network}`;
    const etcdArgs = [
      '--name=envtest',
      '--data-dir=/envtest/data',
      '--unsafe-no-fsync',
      '--listen-client-urls=http://0.0.0.0:2379',
      '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=envtest=http://127.0.0.1:2380',
    ];
    await $({
      quiet: true,
    })`docker run -d --pull never --name ${container} --network ${network} --label ${`vectorstack.envtest=${id}`} -p 127.0.0.1::2379 --tmpfs /envtest:mode=1777 ${etcdImage} etcd ${etcdArgs}`;
    const mapped = (await $({ quiet: true })`docker port ${container} 2379/tcp`).stdout.trim().split('\n')[0];
    const etcdUrl = `http://${mapped}`;
    const etcdWait = deadline('waiting for etcd');
    for (;;) {
      const healthy = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(3000) })
        .then(async (r) => r.ok && ((await r.json()) as { health?: string }).health === 'true')
        .catch(() => false);
      if (healthy) break;
      etcdWait();
      if (
        !(
          await $({ quiet: true, nothrow: true })`docker inspect -f ${'{{.State.Running}}'} ${container}`
        ).stdout.includes('true')
      )
        throw new ControlPlaneError(`etcd container stopped:\n${logTail('etcd')}`);
      await sleep(500);
    }

    const port = await freePort();
    const server = `https://127.0.0.1:${port}`;
    log(`envtest: kube-apiserver ${record.version} on ${server}`);
    start('kube-apiserver', record.apiserver, [
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${dir}`,
      `--tls-cert-file=${path.join(dir, 'apiserver.crt')}`,
      `--tls-private-key-file=${path.join(dir, 'apiserver.key')}`,
      `--client-ca-file=${path.join(dir, 'ca.crt')}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/24',
      '--profiling=false',
      '--v=1',
    ]);

    const agent = new https.Agent({ ca, keepAlive: false });
    const request = <T>(method: string, apiPath: string, body?: unknown): Promise<ApiResponse<T>> =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = https.request(
          `${server}${apiPath}`,
          {
            method,
            agent,
            timeout: 15_000,
            headers: {
              Authorization: `Bearer ${token}`,
              Accept: 'application/json',
              ...(payload ? { 'Content-Type': 'application/json' } : {}),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown = text;
              try {
                parsed = JSON.parse(text);
              } catch {}
              resolve({ status: res.statusCode ?? 0, body: parsed as T });
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath}: timed out`)));
        req.on('error', reject);
        req.end(payload);
      });
    const get = async <T>(apiPath: string): Promise<T> => {
      const res = await request<T>('GET', apiPath);
      if (res.status !== 200)
        throw new ControlPlaneError(`GET ${apiPath}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };

    const apiWait = deadline('waiting for kube-apiserver /readyz');
    for (;;) {
      const res = await request('GET', '/readyz').catch(() => null);
      if (res?.status === 200) break;
      apiWait('kube-apiserver');
      await sleep(500);
    }
    const version = (await get<{ gitVersion: string }>('/version')).gitVersion;

    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify(
        {
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: context,
              cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') },
            },
          ],
          users: [{ name: 'envtest-admin', user: { token } }],
          contexts: [{ name: context, context: { cluster: context, user: 'envtest-admin' } }],
          'current-context': context,
        },
        null,
        2,
      ),
      { mode: 0o600 },
    );

    if (wantKcm) {
      log('envtest: kube-controller-manager');
      start('kube-controller-manager', record.controllerManager!, [
        `--kubeconfig=${kubeconfig}`,
        '--leader-elect=false',
        '--secure-port=0',
        `--service-account-private-key-file=${path.join(dir, 'sa.key')}`,
        `--root-ca-file=${path.join(dir, 'ca.crt')}`,
        '--use-service-account-credentials=false',
        '--profiling=false',
        '--v=1',
      ]);
      // The serviceaccount controller creates default/default once the controllers run.
      const kcmWait = deadline('waiting for kube-controller-manager (ServiceAccount default/default)');
      for (;;) {
        const res = await request('GET', '/api/v1/namespaces/default/serviceaccounts/default').catch(
          () => null,
        );
        if (res?.status === 200) break;
        kcmWait('kube-controller-manager');
        await sleep(500);
      }
    }
    log(`envtest: ready (${version})`);
    return {
      server,
      kubeconfig,
      context,
      ca,
      version,
      request,
      get,
      logTail: (component, lines) => logTail(component, lines),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
