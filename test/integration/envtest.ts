import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { $ } from 'zx';
import { readImageOverrides, resolveImages } from '../../lib/images.js';
import { ApiClient, type ApiResponse } from '../../lib/localcluster/api.js';
import { apiserverArgs, controllerManagerArgs } from '../../lib/localcluster/control-plane.js';
import { LocalClusterError } from '../../lib/localcluster/errors.js';
import { ensureCa, ensureCert, ensureServiceAccountKey } from '../../lib/localcluster/pki.js';
import { imagesFile } from '../../lib/paths.js';
import { readToolchain } from '../../lib/setup/toolchain-file.js';
import { WaitAbortError, waitFor } from '../../lib/util/poll.js';

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

/** CA, serving certificate for 127.0.0.1/localhost, service-account key pair, static admin token. */
function writeCredentials(dir: string): { token: string } {
  const days = 2;
  ensureCa(dir, 'vectorstack-envtest-ca', days);
  ensureCert(
    dir,
    {
      name: 'apiserver',
      commonName: 'kube-apiserver',
      usage: 'server',
      altNames: ['IP:127.0.0.1', 'DNS:localhost'],
    },
    days,
  );
  ensureServiceAccountKey(dir);
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
    throw new LocalClusterError('envtest', 'kube-apiserver is not built', 'run: npm run setup -- --tests');
  if (wantKcm && (!record.controllerManager || !existsSync(record.controllerManager)))
    throw new LocalClusterError(
      'envtest',
      'kube-controller-manager is not built',
      'run: npm run setup -- --tests',
    );
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
  /** Ends a wait at once when the component it waits for has exited. */
  const alive = (component: string) => {
    const child = children.get(component);
    if (child && child.exitCode != null)
      throw new WaitAbortError(`${component} exited (${child.exitCode}):\n${logTail(component)}`);
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
    await waitFor(
      `etcd health at ${etcdUrl}/health`,
      async () => {
        const healthy = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(3000) })
          .then(async (r) => r.ok && ((await r.json()) as { health?: string }).health === 'true')
          .catch(() => false);
        if (healthy) return true;
        const running = await $({
          quiet: true,
          nothrow: true,
        })`docker inspect -f ${'{{.State.Running}}'} ${container}`;
        if (!running.stdout.includes('true'))
          throw new WaitAbortError(`etcd container ${container} stopped:\n${logTail('etcd')}`);
        return { waiting: 'not healthy yet' };
      },
      { timeoutMs, intervalMs: 500 },
    );

    const port = await freePort();
    const server = `https://127.0.0.1:${port}`;
    log(`envtest: kube-apiserver ${record.version} on ${server}`);
    start(
      'kube-apiserver',
      record.apiserver,
      apiserverArgs({
        bindAddress: '127.0.0.1',
        advertiseAddress: '127.0.0.1',
        port,
        etcdServers: etcdUrl,
        certDir: dir,
        tlsCert: path.join(dir, 'apiserver.crt'),
        tlsKey: path.join(dir, 'apiserver.key'),
        clientCa: path.join(dir, 'ca.crt'),
        tokenAuthFile: path.join(dir, 'tokens.csv'),
        authorizationModes: ['RBAC'],
        serviceAccountIssuer: server,
        serviceAccountKey: path.join(dir, 'sa.pub'),
        serviceAccountSigningKey: path.join(dir, 'sa.key'),
        serviceCidr: '10.96.0.0/24',
      }),
    );

    const client = new ApiClient(server, path.join(dir, 'ca.crt'), { token });
    const request = <T>(method: string, apiPath: string, body?: unknown): Promise<ApiResponse<T>> =>
      client.request<T>(method, apiPath, body);
    const get = async <T>(apiPath: string): Promise<T> => {
      const res = await request<T>('GET', apiPath);
      if (res.status !== 200)
        throw new ControlPlaneError(`GET ${apiPath}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };

    await waitFor(
      `kube-apiserver /readyz at ${server}`,
      async () => {
        alive('kube-apiserver');
        const res = await request('GET', '/readyz');
        return res.status === 200 || { waiting: `HTTP ${res.status}` };
      },
      { timeoutMs, intervalMs: 500 },
    );
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
      start(
        'kube-controller-manager',
        record.controllerManager!,
        controllerManagerArgs({
          kubeconfig,
          serviceAccountKey: path.join(dir, 'sa.key'),
          rootCa: path.join(dir, 'ca.crt'),
          serviceAccountCredentials: false,
          extra: ['--secure-port=0'],
        }),
      );
      // The serviceaccount controller creates default/default once the controllers run.
      await waitFor(
        'kube-controller-manager: ServiceAccount default/default',
        async () => {
          alive('kube-controller-manager');
          const res = await request('GET', '/api/v1/namespaces/default/serviceaccounts/default');
          return res.status === 200 || { waiting: `HTTP ${res.status}` };
        },
        { timeoutMs, intervalMs: 500 },
      );
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
