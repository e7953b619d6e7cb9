import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { DEFAULT_IMAGES, IMAGE_KEYS, type ImageKey } from '../images.js';
import { imagesFile, REPO_ROOT } from '../paths.js';
import { PROVIDERS_BY_TARGET } from '../providers.js';
import { Progress } from '../util/progress.js';
import { ensureChromaServers } from './chroma.js';
import { ensureDebianBase } from './debian-base.js';
import { ensureDockerEngine } from './docker-engine.js';
import { ensureEnvtest } from './envtest-build.js';
import { ensureClusterToolchain } from './kube-node-build.js';
import { OFFLINE_IMAGES, TEST_IMAGES } from './offline-images.js';
import { ensureProviders } from './providers.js';
import { ensureTerraformCli } from './terraform-cli.js';
import { readToolchain, writeToolchain } from './toolchain-file.js';
import { type SetupContext, SetupError, type StepOutcome, type StepResult } from './types.js';

export interface SetupOptions {
  cacheDir: string;
  checkOnly?: boolean;
  offline?: boolean;
  force?: string[];
  /** Run only these steps; default: DEFAULT_SETUP_STEPS (envtest is for the test suite and opt-in). */
  only?: SetupStepName[];
  progress?: Progress;
  environ?: NodeJS.ProcessEnv;
  /** Also the images only the test suite uses (TEST_IMAGES). @default false */
  testImages?: boolean;
  /** The targets to prepare providers for (the Docker stack needs only the Docker provider). @default both */
  targets?: SetupTarget[];
}

export type SetupTarget = 'docker' | 'kubernetes';
const TARGETS: SetupTarget[] = ['docker', 'kubernetes'];
/** Offline image builds running at once (2 cores: one compiling while another downloads). */
const IMAGE_BUILDS_AT_ONCE = 2;

/** Runs `run` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

export const SETUP_STEPS = [
  'docker',
  'terraform',
  'providers',
  'envtest',
  'cluster',
  'chroma',
  'images',
] as const;
export type SetupStepName = (typeof SETUP_STEPS)[number];
/**
 * What running the stack needs. `envtest` (a Kubernetes API server for the cluster-stack tests), `cluster` (the
 * single-node cluster of lib/localcluster) and `chroma` (Chroma server venvs for the import tests) are added by
 * --tests; `npm run cluster -- up` runs `cluster` itself, `npm run import:chroma` installs a Chroma version on demand.
 */
export const DEFAULT_SETUP_STEPS: SetupStepName[] = ['docker', 'terraform', 'providers', 'images'];

export interface SetupReport {
  results: StepResult[];
  ok: boolean;
  /** The first failure's remedy, for the summary. */
  remedies: string[];
}

/** Image present locally? */
async function hasImage(tag: string): Promise<boolean> {
  return (
    (await $({ quiet: true, nothrow: true })`docker image inspect --format ${'{{.Id}}'} ${tag}`).exitCode ===
    0
  );
}

/**
 * Prepares the host, step by step: Docker engine, Terraform-compatible CLI, providers, envtest, images. Each step reports
 * found / built / pulled / failed with its time; a failed step does not stop independent ones, and everything built
 * is cached, so a re-run resumes where the last one stopped.
 */
export async function runSetup(options: SetupOptions): Promise<SetupReport> {
  const ctx: SetupContext = {
    cacheDir: options.cacheDir,
    repoRoot: REPO_ROOT,
    checkOnly: options.checkOnly ?? false,
    force: new Set(options.force ?? []),
    offline: options.offline ?? false,
    progress: options.progress ?? new Progress(),
    environ: options.environ ?? process.env,
  };
  mkdirSync(ctx.cacheDir, { recursive: true });
  const results: StepResult[] = [];
  const remedies: string[] = [];
  /** When each step started: the summary lists steps in that order, whichever lane finished first. */
  const order = new Map<string, number>();
  /** A result that took no step of its own (found, skipped, written): ordered by when it was recorded. */
  const report = (result: StepResult) => {
    order.set(result.component, Date.now());
    results.push(result);
  };

  const step = async (component: string, run: () => Promise<StepOutcome>): Promise<StepOutcome> => {
    const started = Date.now();
    ctx.progress.log(`${component}: ${ctx.checkOnly ? 'checking' : 'preparing'}`);
    let outcome: StepOutcome;
    try {
      outcome = await run();
    } catch (error) {
      const err = error as Error;
      const missing = ctx.checkOnly && !(err instanceof SetupError);
      outcome = {
        status: missing ? 'missing' : 'failed',
        source: '-',
        version: '-',
        detail: err.message.split('\n')[0],
      };
      if (err instanceof SetupError && err.remedy) remedies.push(err.remedy);
      if (!missing) ctx.progress.log(`${component}: FAILED: ${err.message}`);
    }
    const seconds = (Date.now() - started) / 1000;
    results.push({ component, seconds, ...outcome });
    order.set(component, started);
    ctx.progress.log(`${component}: ${outcome.status} (${outcome.version}, ${seconds.toFixed(1)}s)`);
    return outcome;
  };
  const skip = (component: string, why: string) =>
    report({ component, status: 'skipped', source: '-', version: '-', seconds: 0, detail: why });
  const usable = (o: StepOutcome) => o.status !== 'failed' && o.status !== 'missing';

  const wanted = new Set<SetupStepName>(options.only ?? DEFAULT_SETUP_STEPS);
  const record = readToolchain(ctx.environ);
  const providers = [...new Set((options.targets ?? TARGETS).flatMap((t) => PROVIDERS_BY_TARGET[t]))];
  // One writer of the toolchain record at a time (lanes finish in any order).
  let saving = Promise.resolve();
  const save = () => {
    if (!ctx.checkOnly) saving = saving.then(() => writeToolchain(record, ctx.environ));
    return saving;
  };

  // The engine serves the Docker target and the image builds; a cluster-only check (`up --env staging`) skips it.
  const docker =
    wanted.has('docker') || wanted.has('images')
      ? await step('docker engine', () => ensureDockerEngine(ctx))
      : ({ status: 'skipped', source: '-', version: '-' } as StepOutcome);

  // Independent lanes run side by side: the Go builds of one overlap the downloads and image builds of another.
  // Within a lane, order matters (providers need the CLI; envtest and the cluster share Go's build cache, so they
  // follow one another instead of compiling the same Kubernetes packages twice at once).
  const toolchainLane = async () => {
    if (wanted.has('terraform') || wanted.has('providers')) {
      const cli = await step('terraform cli', () => ensureTerraformCli(ctx, record));
      if (wanted.has('providers')) {
        if (usable(cli)) await step('providers', () => ensureProviders(ctx, record, providers));
        else skip('providers', 'no Terraform-compatible CLI');
      }
      await save();
    }
  };
  const kubernetesLane = async () => {
    // kube-apiserver + kube-controller-manager for test/integration/k8s-apply.test.ts (no kubelet).
    if (wanted.has('envtest')) {
      await step('envtest', () => ensureEnvtest(ctx, record));
      await save();
    }
    // containerd, kubelet, kube-proxy, CoreDNS, kube-router, local-path-provisioner, pause: lib/localcluster.
    if (wanted.has('cluster')) {
      if (usable(docker)) await step('cluster', () => ensureClusterToolchain(ctx, record));
      else skip('cluster', 'no Docker engine');
      await save();
    }
  };
  // Chroma server venvs (lib/setup/chroma.ts) for test/integration/chroma-import.test.ts.
  const chromaLane = async () => {
    if (wanted.has('chroma')) await step('chroma servers', () => ensureChromaServers(ctx));
  };
  await Promise.all([toolchainLane(), kubernetesLane(), chromaLane(), imagesLane()]);
  return finish();

  async function imagesLane(): Promise<void> {
    if (!wanted.has('images')) return;
    if (!usable(docker)) {
      for (const key of IMAGE_KEYS) skip(`image:${key}`, 'no Docker engine');
      return;
    }
    // Official images where they are present or can be pulled; local builds for the rest.
    const overrides: Partial<Record<ImageKey, string>> = {};
    const needOffline: ImageKey[] = [];
    // A host that built an image offline before keeps using it without asking a registry again (every `up` prepares
    // the host; a registry that is unreachable should cost one attempt, not one per command). --offline or removing
    // images.json changes that.
    const builtBefore = readRecordedImages(imagesFile(ctx.environ));
    for (const key of IMAGE_KEYS) {
      const tag = DEFAULT_IMAGES[key];
      const recorded = builtBefore[key];
      if (recorded && (await hasImage(recorded))) {
        needOffline.push(key);
      } else if (!ctx.offline && (await hasImage(tag))) {
        report({
          component: `image:${key}`,
          status: 'found',
          source: 'local engine',
          version: tag,
          seconds: 0,
        });
      } else if (
        !ctx.offline &&
        !ctx.checkOnly &&
        (await $({ quiet: true, nothrow: true })`docker pull ${tag}`.timeout('300s')).ok
      ) {
        report({
          component: `image:${key}`,
          status: 'pulled',
          source: 'registry',
          version: tag,
          seconds: 0,
        });
      } else {
        needOffline.push(key);
      }
    }
    // Test-only images (milvus-lite) with --tests, whether or not the stack's own images had to be built.
    const testRecipes = options.testImages ? Object.values(TEST_IMAGES) : [];
    if (needOffline.length === 0 && testRecipes.length === 0) return;
    const base = await step('image:debian', async () => {
      const { built, version } = await ensureDebianBase(ctx);
      return { status: built ? 'built' : 'found', source: 'debootstrap (Debian archive)', version };
    });
    const testImages: Record<string, string> = {};
    const recipes = [...needOffline.map((key) => OFFLINE_IMAGES[key]), ...testRecipes];
    // Image builds on the shared base are independent: a few at a time (each mostly downloads or compiles).
    await eachLimited(recipes, IMAGE_BUILDS_AT_ONCE, async (recipe) => {
      if (!usable(base)) {
        skip(`image:${recipe.key}`, 'no base image');
        return;
      }
      let tag: string | undefined;
      await step(`image:${recipe.key}`, async () => {
        const outcome = await recipe.ensure(ctx);
        tag = outcome.tag;
        return outcome;
      });
      if (!tag) return;
      if (recipe.key in DEFAULT_IMAGES) overrides[recipe.key as ImageKey] = tag;
      else testImages[recipe.key] = tag;
    });
    if (!ctx.checkOnly && Object.keys(overrides).length === needOffline.length) {
      const file = imagesFile(ctx.environ);
      mkdirSync(path.dirname(file), { recursive: true });
      // A run without --tests keeps the test images an earlier run recorded.
      const kept = options.testImages ? {} : readTestImages(file);
      writeFileSync(
        file,
        `${JSON.stringify({ images: sortKeys(overrides), testImages: sortKeys({ ...kept, ...testImages }) }, null, 2)}\n`,
      );
      report({
        component: 'image overrides',
        status: 'written',
        source: file,
        version: '-',
        seconds: 0,
      });
    }
  }

  function finish(): SetupReport {
    const ok = results.every((r) => r.status !== 'failed' && r.status !== 'missing');
    const at = (r: StepResult) => order.get(r.component) ?? Number.POSITIVE_INFINITY;
    return {
      results: results
        .map((r, i) => ({ r, i }))
        .sort((a, b) => at(a.r) - at(b.r) || a.i - b.i)
        .map(({ r }) => r),
      ok,
      remedies,
    };
  }
}

/** The test images recorded in the image override file, if any. */
function readTestImages(file: string): Record<string, string> {
  try {
    return (
      (JSON.parse(readFileSync(file, 'utf8')) as { testImages?: Record<string, string> }).testImages ?? {}
    );
  } catch {
    return {};
  }
}

/** The offline builds recorded in the image override file, if any. */
function readRecordedImages(file: string): Partial<Record<ImageKey, string>> {
  try {
    return (
      (JSON.parse(readFileSync(file, 'utf8')) as { images?: Partial<Record<ImageKey, string>> }).images ?? {}
    );
  } catch {
    return {};
  }
}
