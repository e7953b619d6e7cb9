import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import type { ImageKey } from '../images.js';
import { BASE_IMAGE } from './debian-base.js';
import { ensureGoBinary } from './go-build.js';
import { sha256File } from './hash.js';
import { ensureImage, type ImageBuild } from './image-build.js';
import { minioStyleProgram } from './minio-build.js';
import type { SetupContext, StepOutcome } from './types.js';

export interface OfflineImageRecipe {
  key: ImageKey | TestImageKey;
  ensure(ctx: SetupContext): Promise<StepOutcome & { tag: string }>;
}

export type TestImageKey = 'milvus-lite';

/** The Milvus server inside the PyPI `milvus` wheel (embedded Milvus): pinned by version and sha256. */
export const MILVUS_WHEEL = {
  name: 'milvus',
  version: '2.3.5',
  file: 'milvus-2.3.5-py3-none-manylinux2014_x86_64.whl',
  sha256: '69515a0630ce29fd10e101fa442afea8ca1387b93a456cd9bd41fdf3deb93d04',
};
/** The milvus-lite wheel whose C++ engine (segcore, knowhere, tantivy) the milvus-lite test image serves; its sha256
 * and those of the launcher's wheels are in images/milvus-lite/requirements.txt (pip --require-hashes). */
export const MILVUS_LITE_VERSION = '2.5.1';

const REPO = 'vectorstack-offline';

function recipe(
  key: ImageKey | TestImageKey,
  source: string,
  build: Omit<ImageBuild, 'component'>,
): OfflineImageRecipe {
  return {
    key,
    async ensure(ctx) {
      const { built, tag, version } = await ensureImage(
        ctx,
        { component: `image:${key}`, ...build },
        BASE_IMAGE,
      );
      return { status: built ? 'built' : 'found', source, version, tag };
    },
  };
}

const firstMatch = (pattern: RegExp) => (output: string) => {
  const m = pattern.exec(output);
  if (!m) throw new Error(`version not found in: ${output.slice(0, 200)}`);
  return m.slice(1).join('');
};

function goImage(name: 'minio' | 'mc'): OfflineImageRecipe {
  return {
    key: name,
    async ensure(ctx) {
      const program = minioStyleProgram(ctx.repoRoot, name);
      const { binary, built: compiled } = await ensureGoBinary(ctx, program);
      const { built, tag, version } = await ensureImage(
        ctx,
        {
          component: `image:${name}`,
          dockerDir: `images/${name}`,
          repository: `${REPO}/${name}`,
          version: program.releaseTag,
          artifactIdentities: [`${name}=${await sha256File(binary)}`],
          artifacts: async () => [{ from: binary, to: name, identity: binary }],
        },
        BASE_IMAGE,
      );
      return { status: built || compiled ? 'built' : 'found', source: 'Go module proxy', version, tag };
    },
  };
}

/** Downloads the pinned wheel with pip (hash-checked) into the cache; returns its path. */
async function fetchMilvusWheel(ctx: SetupContext): Promise<string> {
  const dir = path.join(ctx.cacheDir, 'pip');
  const wheel = path.join(dir, MILVUS_WHEEL.file);
  if (existsSync(wheel) && (await sha256File(wheel)) === MILVUS_WHEEL.sha256) return wheel;
  mkdirSync(dir, { recursive: true });
  const requirements = path.join(dir, 'milvus-wheel.txt');
  writeFileSync(
    requirements,
    `${MILVUS_WHEEL.name}==${MILVUS_WHEEL.version} --hash=sha256:${MILVUS_WHEEL.sha256}\n`,
  );
  ctx.progress.log(`image:milvus: pip download ${MILVUS_WHEEL.name}==${MILVUS_WHEEL.version} (hash-pinned)`);
  await $({
    quiet: true,
  })`python3 -m pip download --disable-pip-version-check --no-deps --only-binary=:all: --platform manylinux2014_x86_64 --require-hashes -r ${requirements} -d ${dir}`;
  return wheel;
}

const milvusRecipe = recipe('milvus', 'PyPI wheel (milvus)', {
  dockerDir: 'images/milvus',
  repository: `${REPO}/milvus`,
  version: MILVUS_WHEEL.version,
  buildArgs: { MILVUS_VERSION: MILVUS_WHEEL.version },
  artifactIdentities: [`wheel=${MILVUS_WHEEL.sha256}`],
  artifacts: async (ctx) => {
    const wheel = await fetchMilvusWheel(ctx);
    const dist = path.join(ctx.cacheDir, 'milvus', `dist-${MILVUS_WHEEL.version}`);
    await $({
      quiet: true,
      env: { ...ctx.environ, WHEEL_SHA256: MILVUS_WHEEL.sha256 },
    })`sh ${path.join(ctx.repoRoot, 'images/milvus/unpack-wheel.sh')} ${wheel} ${dist}`;
    return [{ from: dist, to: 'dist', identity: MILVUS_WHEEL.sha256 }];
  },
});

const milvusLiteRecipe = recipe('milvus-lite', 'PyPI wheel (milvus-lite engine)', {
  dockerDir: 'images/milvus-lite',
  repository: `${REPO}/milvus-lite`,
  version: MILVUS_LITE_VERSION,
  buildArgs: { MILVUS_LITE_VERSION },
  // requirements.txt (with every sha256) is in the Dockerfile directory, so it is part of the inputs hash.
  artifacts: async (ctx) => {
    const wheels = path.join(ctx.cacheDir, 'pip', `milvus-lite-${MILVUS_LITE_VERSION}`);
    ctx.progress.log('image:milvus-lite: pip download of the hash-pinned wheels');
    await $({ quiet: true })`sh ${path.join(ctx.repoRoot, 'images/milvus-lite/fetch-wheels.sh')} ${wheels}`;
    return [{ from: wheels, to: 'wheels', identity: 'requirements.txt' }];
  },
});

export const OFFLINE_IMAGES: Record<ImageKey, OfflineImageRecipe> = {
  postgres: recipe('postgres', 'Debian trixie packages', {
    dockerDir: 'images/postgres',
    repository: `${REPO}/postgres`,
    version: {
      // dpkg-query prints `<package>\t<version>`.
      command: ['sh', '-c', 'postgres --version; dpkg-query -W postgresql-17-pgvector'],
      parse: (out) =>
        `${firstMatch(/PostgreSQL\) (\d+\.\d+)/)(out)}-pgvector${firstMatch(/pgvector\s+(\d+\.\d+\.\d+)/)(out)}`,
    },
  }),
  redis: recipe('redis', 'Debian trixie packages', {
    dockerDir: 'images/redis',
    repository: `${REPO}/redis`,
    version: { command: ['redis-server', '--version'], parse: firstMatch(/v=(\d+\.\d+\.\d+)/) },
  }),
  etcd: recipe('etcd', 'Debian trixie packages', {
    dockerDir: 'images/etcd',
    repository: `${REPO}/etcd`,
    version: { command: ['etcd', '--version'], parse: firstMatch(/etcd Version: (\d+\.\d+\.\d+)/) },
  }),
  minio: goImage('minio'),
  mc: goImage('mc'),
  milvus: milvusRecipe,
};

/** Images only the test suite uses (API-level tests of newer Milvus features). */
export const TEST_IMAGES: Record<TestImageKey, OfflineImageRecipe> = {
  'milvus-lite': milvusLiteRecipe,
};
