import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { hashStrings } from './hash.js';
import { INPUTS_LABEL, imageInputsHash } from './image-build.js';
import { type SetupContext, SetupError } from './types.js';

export const BASE_SUITE = 'trixie';
export const BASE_IMAGE = `vectorstack-offline/debian:${BASE_SUITE}`;
const KEYRING = `/usr/share/keyrings/debian-archive-${BASE_SUITE}-stable.gpg`;

export interface DebianMirrors {
  main: string;
  security: string;
}

/**
 * The Debian mirrors this host's apt already uses (deb822 .sources or sources.list), so the base image is built
 * from the same place; VECTORSTACK_DEBIAN_MIRROR / VECTORSTACK_DEBIAN_SECURITY_MIRROR override.
 */
export function hostDebianMirrors(environ: NodeJS.ProcessEnv, aptDir = '/etc/apt'): DebianMirrors {
  const entries: { uri: string; suites: string[] }[] = [];
  const listFiles = [path.join(aptDir, 'sources.list')];
  const dropIn = path.join(aptDir, 'sources.list.d');
  if (existsSync(dropIn)) for (const f of readdirSync(dropIn)) listFiles.push(path.join(dropIn, f));
  for (const file of listFiles) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
        const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (uri && /^Types:.*\bdeb\b/m.test(stanza)) entries.push({ uri, suites });
      }
    } else if (file.endsWith('.list')) {
      for (const line of text.split('\n')) {
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
        if (m) entries.push({ uri: m[1]!, suites: [m[2]!] });
      }
    }
  }
  // Debian's own archive: the entry whose suites are Debian code names (not a third-party repository).
  const isDebian = (e: { uri: string }) => /\/debian\/?$/.test(e.uri);
  const isSecurity = (e: { uri: string; suites: string[] }) => e.suites.some((s) => s.endsWith('-security'));
  const main = environ.VECTORSTACK_DEBIAN_MIRROR ?? entries.find((e) => isDebian(e) && !isSecurity(e))?.uri;
  const security =
    environ.VECTORSTACK_DEBIAN_SECURITY_MIRROR ??
    entries.find((e) => isSecurity(e) && /debian-security\/?$/.test(e.uri))?.uri;
  if (!main) {
    throw new SetupError(
      'no Debian mirror found in this host apt configuration',
      'set VECTORSTACK_DEBIAN_MIRROR to a Debian archive URL (and VECTORSTACK_DEBIAN_SECURITY_MIRROR for security updates)',
    );
  }
  return {
    main: main.replace(/\/$/, ''),
    security: (security ?? main.replace(/\/debian\/?$/, '/debian-security')).replace(/\/$/, ''),
  };
}

function sourcesFor(mirrors: DebianMirrors): string {
  return [
    `Types: deb\nURIs: ${mirrors.main}\nSuites: ${BASE_SUITE} ${BASE_SUITE}-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
    `Types: deb\nURIs: ${mirrors.security}\nSuites: ${BASE_SUITE}-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
  ].join('\n');
}

/**
 * `vectorstack-offline/debian:trixie`: a minbase rootfs made by debootstrap (release signatures checked against
 * Debian's archive keyring), imported as an image. Returns whether it built.
 */
export async function ensureDebianBase(ctx: SetupContext): Promise<{ built: boolean; version: string }> {
  const mirrors = hostDebianMirrors(ctx.environ);
  const inputs = hashStrings(BASE_SUITE, 'minbase', sourcesFor(mirrors));
  const existing = await imageInputsHash(BASE_IMAGE);
  if (existing === inputs && !ctx.force.has('image:debian'))
    return { built: false, version: await debianVersion() };
  if (ctx.checkOnly) throw new Error(`${BASE_IMAGE} is missing`);
  if (process.getuid?.() !== 0) {
    throw new SetupError(
      'building the Debian base image needs root (debootstrap)',
      'run npm run setup as root, or with sudo',
    );
  }
  if (!(await $({ quiet: true, nothrow: true })`command -v debootstrap`).ok) {
    ctx.progress.log('image:debian: installing debootstrap (apt-get)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // A new host's package lists may be empty or stale.
    await $({ quiet: true, env })`apt-get update -q`;
    await $({ quiet: true, env })`apt-get install -y -q debootstrap`;
  }
  if (!existsSync(KEYRING)) {
    throw new SetupError(
      `${KEYRING} is missing`,
      'apt-get install debian-archive-keyring (a version that knows trixie)',
    );
  }
  const rootfs = path.join(ctx.cacheDir, 'rootfs', BASE_SUITE);
  // A rootfs left by an interrupted debootstrap has no usable state: start it again.
  const complete = path.join(ctx.cacheDir, 'rootfs', `${BASE_SUITE}.complete`);
  if (!existsSync(complete) || readFileSync(complete, 'utf8') !== inputs) {
    rmSync(rootfs, { recursive: true, force: true });
    mkdirSync(rootfs, { recursive: true });
    ctx.progress.log(`image:debian: debootstrap --variant=minbase ${BASE_SUITE} from ${mirrors.main}`);
    const result = await ctx.progress.heartbeat(
      'image:debian: debootstrap',
      $({
        quiet: true,
        nothrow: true,
      })`debootstrap --variant=minbase --keyring=${KEYRING} ${BASE_SUITE} ${rootfs} ${mirrors.main}`,
    );
    if (result.exitCode !== 0) {
      const log = path.join(rootfs, 'debootstrap', 'debootstrap.log');
      throw new Error(
        `debootstrap failed (exit ${result.exitCode}); see ${log}\n${result.stderr.trim().split('\n').slice(-10).join('\n')}`,
      );
    }
    rmSync(path.join(rootfs, 'etc/apt/sources.list'), { force: true });
    writeFileSync(path.join(rootfs, 'etc/apt/sources.list.d/debian.sources'), sourcesFor(mirrors));
    // As in Debian's official image: no package caches or translations in layers.
    writeFileSync(
      path.join(rootfs, 'etc/apt/apt.conf.d/docker-clean'),
      'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n',
    );
    writeFileSync(
      path.join(rootfs, 'etc/apt/apt.conf.d/docker-no-languages'),
      'Acquire::Languages "none";\n',
    );
    await $({
      quiet: true,
    })`sh -c ${'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log; : > "$1"/etc/machine-id'} sh ${rootfs}`;
    writeFileSync(complete, inputs);
  }
  ctx.progress.log(`image:debian: docker import ${BASE_IMAGE}`);
  await $({
    quiet: true,
  })`sh -c ${'tar --numeric-owner -C "$1" -c . | docker import --change "CMD [\\"bash\\"]" --change "ENV LANG=C.UTF-8" --change "LABEL $2=$3" - "$4"'} sh ${rootfs} ${INPUTS_LABEL} ${inputs} ${BASE_IMAGE}`;
  return { built: true, version: await debianVersion() };
}

async function debianVersion(): Promise<string> {
  const result = await $({
    quiet: true,
    nothrow: true,
  })`docker run --rm --network none ${BASE_IMAGE} cat /etc/debian_version`;
  return result.ok ? result.stdout.trim() : BASE_SUITE;
}
