import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { hashStrings, hashTree } from './hash.js';
import type { SetupContext } from './types.js';

/** Label holding the hash of everything an offline image was built from; equal hash = nothing to rebuild. */
export const INPUTS_LABEL = 'io.vectorstack.inputs';

export interface BuildArtifact {
  /** Absolute path of a file or directory produced by an earlier step. */
  from: string;
  /** Name inside the build context. */
  to: string;
  /** Stable identity (e.g. a sha256 or a content-addressed path): hashed instead of the (possibly large) content. */
  identity: string;
}

export interface ImageBuild {
  /** Component name in the summary, e.g. image:postgres. */
  component: string;
  /** Dockerfile directory relative to the repo (images/<name>). */
  dockerDir: string;
  /** Repository part of the tag, e.g. vectorstack-offline/postgres. */
  repository: string;
  /**
   * The tag's version: fixed, or read from the built image (Debian point releases move package versions, so the
   * tag says what is really inside).
   */
  version: string | { command: string[]; parse: (output: string) => string };
  buildArgs?: Record<string, string>;
  /** Produces the artifacts; called only when a build is needed. */
  artifacts?: (ctx: SetupContext) => Promise<BuildArtifact[]>;
  /** Identities of the artifacts, known without producing them (pinned hashes, versions). */
  artifactIdentities?: string[];
}

/** The tag of an image in `repository` built from exactly these inputs, if one exists. */
export async function findImageByInputs(repository: string, inputs: string): Promise<string | null> {
  const result = await $({
    quiet: true,
    nothrow: true,
  })`docker images --filter ${`label=${INPUTS_LABEL}=${inputs}`} --format ${'{{.Repository}}:{{.Tag}}'}`;
  if (result.exitCode !== 0) return null;
  return (
    result.stdout.split('\n').find((tag) => tag.startsWith(`${repository}:`) && !tag.endsWith(':<none>')) ??
    null
  );
}

export function buildInputsHash(ctx: SetupContext, build: ImageBuild, baseImageId: string): string {
  return hashStrings(
    hashTree(path.join(ctx.repoRoot, build.dockerDir)),
    JSON.stringify(build.buildArgs ?? {}),
    baseImageId,
    ...(build.artifactIdentities ?? []),
  );
}

/**
 * Builds an image unless one built from the same inputs (Dockerfile directory, build args, base image, artifact
 * identities) exists. The context is assembled in the cache, so large artifacts never enter the repository.
 */
export async function ensureImage(
  ctx: SetupContext,
  build: ImageBuild,
  baseImage: string,
): Promise<{ built: boolean; tag: string; version: string }> {
  const baseId = await imageId(baseImage);
  if (!baseId) throw new Error(`base image ${baseImage} is missing`);
  const inputs = buildInputsHash(ctx, build, baseId);
  const existing = await findImageByInputs(build.repository, inputs);
  if (existing && !ctx.force.has(build.component)) {
    return { built: false, tag: existing, version: existing.slice(build.repository.length + 1) };
  }
  if (ctx.checkOnly) throw new Error(`${build.repository} is missing or out of date`);
  const slug = build.component.replace(/[^a-z0-9-]/gi, '_');
  const contextDir = path.join(ctx.cacheDir, 'build', slug);
  rmSync(contextDir, { recursive: true, force: true });
  mkdirSync(contextDir, { recursive: true });
  cpSync(path.join(ctx.repoRoot, build.dockerDir), contextDir, { recursive: true });
  for (const artifact of build.artifacts ? await build.artifacts(ctx) : []) {
    cpSync(artifact.from, path.join(contextDir, artifact.to), { recursive: true, preserveTimestamps: true });
  }
  const buildingTag = `${build.repository}:building`;
  const args = [
    'build',
    '--label',
    `${INPUTS_LABEL}=${inputs}`,
    '--build-arg',
    `BASE_IMAGE=${baseImage}`,
    '-t',
    buildingTag,
  ];
  for (const [key, value] of Object.entries(build.buildArgs ?? {}))
    args.push('--build-arg', `${key}=${value}`);
  args.push(contextDir);
  ctx.progress.log(
    `${build.component}: docker build (log: ${path.join(ctx.cacheDir, 'logs', `${slug}.log`)})`,
  );
  const logFile = path.join(ctx.cacheDir, 'logs', `${slug}.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const result = await ctx.progress.heartbeat(
    `${build.component}: docker build`,
    $({ quiet: true, nothrow: true })`docker ${args}`,
  );
  writeFileSync(logFile, result.stdout + result.stderr);
  if (result.exitCode !== 0) {
    throw new Error(
      `docker build of ${build.repository} failed; log: ${logFile}\n${result.stderr.trim().split('\n').slice(-15).join('\n')}`,
    );
  }
  let version: string;
  if (typeof build.version === 'string') {
    version = build.version;
  } else {
    const [entrypoint, ...rest] = build.version.command;
    const out = await $({
      quiet: true,
    })`docker run --rm --network none --entrypoint ${entrypoint!} ${buildingTag} ${rest}`;
    version = build.version.parse(out.stdout + out.stderr);
  }
  const tag = `${build.repository}:${version}`;
  await $({ quiet: true })`docker tag ${buildingTag} ${tag}`;
  await $({ quiet: true })`docker rmi ${buildingTag}`;
  rmSync(contextDir, { recursive: true, force: true });
  return { built: true, tag, version };
}

/** The image's recorded inputs hash, or null when the image is absent. */
export async function imageInputsHash(tag: string): Promise<string | null> {
  const result = await $({
    quiet: true,
    nothrow: true,
  })`docker image inspect --format ${`{{ index .Config.Labels "${INPUTS_LABEL}" }}`} ${tag}`;
  return result.exitCode === 0 ? result.stdout.trim() : null;
}

export async function imageId(tag: string): Promise<string | null> {
  const result = await $({ quiet: true, nothrow: true })`docker image inspect --format ${'{{.Id}}'} ${tag}`;
  return result.exitCode === 0 ? result.stdout.trim() : null;
}
