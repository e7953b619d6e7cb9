import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from '../paths.js';
import type { ClusterToolchain } from './kube-node-build.js';

/** What setup found or built, so later commands use it without searching again. */
export interface ToolchainRecord {
  terraform?: { binary: string; flavour: 'terraform' | 'tofu'; version: string };
  /** CLI config pointing at the local provider mirror; absent when the public registry is used. */
  cliConfigFile?: string;
  /** Provider versions in that mirror; synthesis pins these instead of the bindings' versions. */
  providers?: Record<string, string>;
  /** Throwaway Kubernetes control plane (test/integration/envtest.ts): binaries built from the Go module proxy. */
  envtest?: { apiserver: string; controllerManager?: string; version: string };
  /** The single-node cluster (lib/localcluster): binaries, images and versions (setup step cluster). */
  cluster?: ClusterToolchain;
  /** kubectl built from the Go module proxy for hosts without one. */
  kubectl?: { binary: string; version: string };
}

export function toolchainFile(environ: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(environ), 'toolchain.json');
}

export function readToolchain(environ: NodeJS.ProcessEnv = process.env): ToolchainRecord {
  const file = toolchainFile(environ);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ToolchainRecord) : {};
}

export function writeToolchain(record: ToolchainRecord, environ: NodeJS.ProcessEnv = process.env): void {
  const file = toolchainFile(environ);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}
