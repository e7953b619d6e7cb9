import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import type { VectorstackConfig } from '../../config/schema.js';
import { VectorstackError } from '../../errors.js';
import { CLUSTER_CONTEXT, clusterLayout } from '../../localcluster/layout.js';
import { readToolchain } from '../../setup/toolchain-file.js';

/** kubectl failed, or the cluster refused or lacks what was asked for. */
export class KubectlError extends VectorstackError {}

/**
 * The kubeconfig kubectl and the providers use: the configured file, else the local cluster's (localCluster), else the
 * first of $KUBECONFIG, else ~/.kube/config.
 */
export function kubeconfigPath(config: VectorstackConfig, environ: NodeJS.ProcessEnv = process.env): string {
  if (config.kubernetes.kubeconfig) return config.kubernetes.kubeconfig;
  if (config.kubernetes.localCluster) return clusterLayout(environ).kubeconfig;
  const first = environ.KUBECONFIG?.split(path.delimiter).find((p) => p !== '');
  return first ?? path.join(environ.HOME ?? os.homedir(), '.kube', 'config');
}

/** The kube context: the configured one, else the local cluster's (localCluster), else the kubeconfig's current one. */
export function kubeContext(config: VectorstackConfig): string | null {
  return config.kubernetes.context ?? (config.kubernetes.localCluster ? CLUSTER_CONTEXT : null);
}

/** kubectl bound to one environment: its kubeconfig, context and namespace. */
export class Kubectl {
  readonly binary: string;
  readonly baseArgs: string[];
  readonly namespace: string;

  constructor(
    readonly config: VectorstackConfig,
    environ: NodeJS.ProcessEnv = process.env,
  ) {
    // A kubectl setup built (air-gapped hosts) wins over one on PATH.
    this.binary = readToolchain(environ).kubectl?.binary ?? 'kubectl';
    const context = kubeContext(config);
    this.namespace = config.kubernetes.namespace;
    this.baseArgs = [
      `--kubeconfig=${kubeconfigPath(config, environ)}`,
      ...(context ? [`--context=${context}`] : []),
      `--namespace=${config.kubernetes.namespace}`,
    ];
  }

  /** Runs kubectl; fails with its own error output (which names the object and the cause). */
  async run(args: string[], options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
    const result = await $({
      quiet: true,
      nothrow: true,
      input: options.input,
    })`${this.binary} ${this.baseArgs} ${'--request-timeout=20s'} ${args}`
      .timeout(options.timeoutMs ?? 60_000)
      .catch((error: Error) => ({ exitCode: -1, stdout: '', stderr: error.message }));
    if (result.exitCode !== 0) {
      const detail = (result.stderr || result.stdout || `exit ${result.exitCode}`).trim();
      if (/ENOENT|not found/.test(detail) && result.exitCode === -1)
        throw new KubectlError(`kubectl is not installed (${this.binary})`, {
          remedy: 'install kubectl, or run: npm run setup -- --tests',
        });
      throw new KubectlError(
        `kubectl ${args.slice(0, 3).join(' ')} (namespace ${this.namespace}): ${detail}`,
      );
    }
    return result.stdout;
  }

  async json<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.run([...args, '--output=json'])) as T;
  }

  /** null when the object does not exist. */
  async getOrNull<T>(kind: string, name: string): Promise<T | null> {
    try {
      return await this.json<T>(['get', kind, name]);
    } catch (error) {
      if (/NotFound|not found/.test((error as Error).message)) return null;
      throw error;
    }
  }

  /**
   * `kubectl port-forward service/<name> :<port>` on 127.0.0.1; resolves with the local port kubectl picked. Fails
   * within `timeoutMs` naming the Service and port when no pod can serve it (pending, crashing, absent).
   */
  forward(
    service: string,
    port: number,
    timeoutMs: number,
  ): Promise<{ child: ChildProcess; localPort: number }> {
    const child = spawn(
      this.binary,
      [...this.baseArgs, 'port-forward', '--address=127.0.0.1', `service/${service}`, `:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const where = `service/${service}:${port} in namespace ${this.namespace}`;
    return new Promise((resolve, reject) => {
      let stderr = '';
      const fail = (message: string) => {
        clearTimeout(timer);
        child.kill();
        reject(
          new KubectlError(`cannot reach ${where}: ${message}`, {
            remedy: `check: npm run status -- --env ${this.config.environment}`,
          }),
        );
      };
      const timer = setTimeout(
        () => fail(`no forwarded port after ${timeoutMs / 1000} s ${stderr.trim()}`),
        timeoutMs,
      );
      child.stdout!.on('data', (chunk: Buffer) => {
        const match = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(chunk.toString());
        if (match) {
          clearTimeout(timer);
          resolve({ child, localPort: Number(match[1]) });
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on('error', (error) => fail(`${error.message} (is kubectl installed?)`));
      child.on('exit', (code) => fail(`kubectl port-forward exited (${code}): ${stderr.trim()}`));
    });
  }
}

/** Stops port-forward processes and waits for them to exit. */
export async function stopChildren(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.removeAllListeners('exit');
          child.once('exit', () => resolve());
          child.kill();
        }),
    ),
  );
}
