import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CredentialsError, ensureCredentials, readCredentials } from '../../lib/credentials.js';
import { DEFAULT_IMAGES, ImageOverrideError, readImageOverrides, resolveImages } from '../../lib/images.js';
import { SECRET_NAMES } from '../../lib/services/types.js';
import { hostDebianMirrors } from '../../lib/setup/debian-base.js';
import { minioStyleProgram, requiredVersion } from '../../lib/setup/minio-build.js';
import { writeCliConfig } from '../../lib/setup/terraform-cli.js';
import { envVariableFor } from '../../lib/targets/docker/ports.js';
import { goDuration } from '../../stacks/docker/docker-service.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'vs-unit-'));

describe('credentials', () => {
  it('generates every secret once, 0600 in a 0700 directory, and reuses them', () => {
    const dir = path.join(tmp(), 'local');
    const first = ensureCredentials(dir);
    expect(first.created).toEqual([...SECRET_NAMES]);
    for (const value of Object.values(first.credentials)) expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(Object.values(first.credentials)).size).toBe(SECRET_NAMES.length);
    expect(statSync(path.join(dir, 'credentials.json')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const second = ensureCredentials(dir);
    expect(second.created).toEqual([]);
    expect(second.credentials).toEqual(first.credentials);
  });

  it('adds only the missing secret and keeps the others', () => {
    const dir = tmp();
    const { credentials } = ensureCredentials(dir);
    const { redis_password: _dropped, ...rest } = credentials;
    writeFileSync(path.join(dir, 'credentials.json'), JSON.stringify(rest), { mode: 0o600 });
    const again = ensureCredentials(dir);
    expect(again.created).toEqual(['redis_password']);
    expect(again.credentials.postgres_password).toBe(credentials.postgres_password);
  });

  it('refuses a credentials file other users can read', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'credentials.json'), '{}', { mode: 0o644 });
    const file = path.join(dir, 'credentials.json');
    for (const read of [() => ensureCredentials(dir), () => readCredentials(dir, 'local')]) {
      const error = (() => {
        try {
          read();
        } catch (e) {
          return e as CredentialsError;
        }
      })();
      expect(error).toBeInstanceOf(CredentialsError);
      expect(error!.message).toBe(`${file} is readable by other users (mode 644)`);
      expect(error!.remedy).toBe(`run: chmod 600 ${file}`);
    }
  });

  it('reads credentials without creating any, naming the environment and the remedy when absent', () => {
    const dir = tmp();
    expect(() => readCredentials(dir, 'local')).toThrow(/environment local has no credentials/);
    expect(existsSync(path.join(dir, 'credentials.json'))).toBe(false);
  });
});

describe('image overrides', () => {
  it('prefers the config, then the setup file, then the pinned default', () => {
    const images = resolveImages(
      { redis: 'mine/redis:1' },
      { redis: 'offline/redis:2', etcd: 'offline/etcd:3' },
    );
    expect(images.redis).toBe('mine/redis:1');
    expect(images.etcd).toBe('offline/etcd:3');
    expect(images.postgres).toBe(DEFAULT_IMAGES.postgres);
  });

  it('names an unknown image key in the config and in the file', () => {
    expect(() => resolveImages({ mongo: 'x' }, {})).toThrow(
      'images.mongo: unknown image; allowed: postgres, etcd, minio, mc, milvus, redis',
    );
    const file = path.join(tmp(), 'images.json');
    writeFileSync(file, JSON.stringify({ images: { mongo: 'x' } }));
    expect(() => readImageOverrides(file)).toThrow(ImageOverrideError);
    writeFileSync(file, '{not json');
    expect(() => readImageOverrides(file)).toThrow(/not valid JSON .*re-run npm run setup/);
  });

  it('treats a missing file as no overrides', () => {
    expect(readImageOverrides(path.join(tmp(), 'absent.json'))).toEqual({});
  });
});

describe('Debian mirrors for the base image', () => {
  it("reads the host's deb822 sources, main archive and security archive apart", () => {
    const apt = tmp();
    mkdirSync(path.join(apt, 'sources.list.d'));
    writeFileSync(
      path.join(apt, 'sources.list.d', 'debian.sources'),
      'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n' +
        'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
    );
    writeFileSync(
      path.join(apt, 'sources.list.d', 'other.list'),
      'deb https://vendor.example/apt stable main\n',
    );
    expect(hostDebianMirrors({}, apt)).toEqual({
      main: 'http://mirror.example/debian',
      security: 'http://mirror.example/debian-security',
    });
  });

  it('takes explicit mirrors from the environment, and says what to set when there is none', () => {
    const apt = tmp();
    expect(() => hostDebianMirrors({}, apt)).toThrow('no Debian mirror found in this host apt configuration');
    expect(hostDebianMirrors({ VECTORSTACK_DEBIAN_MIRROR: 'http://local/debian/' }, apt)).toEqual({
      main: 'http://local/debian',
      security: 'http://local/debian-security',
    });
  });
});

describe('Go builds', () => {
  it('reads the pinned version of a module from a wrapper go.mod', () => {
    const goMod =
      'module x\n\ntool github.com/minio/mc\n\nrequire (\n\tgithub.com/minio/mc v0.0.0-20250313080218-cf909e1063a9 // indirect\n)\n';
    expect(requiredVersion(goMod, 'github.com/minio/mc')).toBe('v0.0.0-20250313080218-cf909e1063a9');
    expect(() => requiredVersion(goMod, 'github.com/minio/minio')).toThrow(
      'go.mod does not require github.com/minio/minio',
    );
  });

  it('stamps MinIO the way its own development builds are stamped', () => {
    const program = minioStyleProgram(path.resolve('.'), 'minio');
    expect(program.releaseTag).toMatch(/^DEVELOPMENT\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
    expect(program.ldflags).toContain(`-X github.com/minio/minio/cmd.ReleaseTag=${program.releaseTag}`);
  });
});

describe('Terraform CLI config', () => {
  it('points both registries at the mirror and excludes them from direct installation', () => {
    const file = path.join(tmp(), 'cli.tfrc');
    writeCliConfig(file, '/cache/mirror', ['registry.terraform.io', 'registry.opentofu.org']);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('path    = "/cache/mirror"');
    expect(text.match(/"registry\.terraform\.io\/\*\/\*", "registry\.opentofu\.org\/\*\/\*"/g)).toHaveLength(
      2,
    );
  });
});

describe('small formats', () => {
  it('writes durations as Go prints them, so plans stay empty', () => {
    expect([5, 59, 60, 90, 3600, 3725].map(goDuration)).toEqual([
      '5s',
      '59s',
      '1m0s',
      '1m30s',
      '1h0m0s',
      '1h2m5s',
    ]);
  });

  it('names the variable that overrides a config field', () => {
    expect(envVariableFor('postgres.hostPort')).toBe('VECTORSTACK_POSTGRES_HOST_PORT');
    expect(envVariableFor('milvus.metricsHostPort')).toBe('VECTORSTACK_MILVUS_METRICS_HOST_PORT');
  });
});
