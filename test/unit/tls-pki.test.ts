import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lib/config/load.js';
import type { ConfigOverrides, EnvironmentName } from '../../lib/config/schema.js';
import { resolveDeployment } from '../../lib/deployment/resolve.js';
import {
  certificateNames,
  clientCaFile,
  ensureTls,
  issueCertificate,
  serverNames,
  TlsError,
} from '../../lib/tls/pki.js';
import { isolated } from './helpers.js';

const DAY = 86_400_000;

function deploymentIn(cwd: string, env: EnvironmentName, overrides: ConfigOverrides = {}) {
  const environ = { VECTORSTACK_CACHE_DIR: path.join(cwd, 'cache') };
  return resolveDeployment(loadConfig({ env, cwd, environ: {}, overrides }), { cwd, environ });
}

function tlsDeployment(env: EnvironmentName = 'local', overrides: ConfigOverrides = {}) {
  const { cwd } = isolated();
  return deploymentIn(cwd, env, { ...overrides, tls: { enabled: true, ...overrides.tls } });
}

const mode = (file: string) => statSync(file).mode & 0o777;

/** A CA of the user's own, as openssl or a company PKI would hand it over. */
function userCa(dir: string, type: 'ec' | 'rsa' = 'ec') {
  const { privateKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = Date.now();
  const cert = issueCertificate({
    subject: 'Example Corp Root',
    publicKey: createPublicKey(privateKey),
    issuer: null,
    signer: privateKey,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 3650 * DAY),
    ca: true,
  });
  const certFile = path.join(dir, 'corp-ca.pem');
  const keyFile = path.join(dir, 'corp-ca.key');
  writeFileSync(certFile, cert);
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  return { certFile, keyFile, cert };
}

describe('tls config', () => {
  it('is off for local and on for staging and production, 365-day certificates', () => {
    const { cwd } = isolated();
    const local = loadConfig({ env: 'local', cwd, environ: {} });
    const staging = loadConfig({ env: 'staging', cwd, environ: {} });
    const production = loadConfig({
      env: 'production',
      cwd,
      environ: {},
      overrides: { kubernetes: { context: 'prod' } },
    });
    expect(local.tls).toEqual({ enabled: false, caCertFile: null, caKeyFile: null, validityDays: 365 });
    expect(staging.tls.enabled).toBe(true);
    expect(production.tls.enabled).toBe(true);
  });

  it('is switched by VECTORSTACK_TLS_ENABLED and takes the CA files from variables', () => {
    const { cwd } = isolated();
    const config = loadConfig({
      env: 'local',
      cwd,
      environ: {
        VECTORSTACK_TLS_ENABLED: 'true',
        VECTORSTACK_TLS_CA_CERT_FILE: 'ca.pem',
        VECTORSTACK_TLS_CA_KEY_FILE: 'ca.key',
      },
    });
    expect(config.tls).toMatchObject({ enabled: true, caCertFile: 'ca.pem', caKeyFile: 'ca.key' });
  });

  it('wants caCertFile and caKeyFile together, naming the missing field', () => {
    const { cwd } = isolated();
    const problems = (tls: ConfigOverrides['tls']) => {
      try {
        loadConfig({ env: 'local', cwd, environ: {}, overrides: { tls } });
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };
    expect(problems({ caCertFile: 'ca.pem' })).toEqual([
      'tls.caKeyFile = null: required when tls.caCertFile is set; allowed: both tls.caCertFile and tls.caKeyFile, or neither',
    ]);
    expect(problems({ caKeyFile: 'ca.key' })).toEqual([
      'tls.caCertFile = null: required when tls.caKeyFile is set; allowed: both tls.caCertFile and tls.caKeyFile, or neither',
    ]);
    expect(problems({ caCertFile: 'ca.pem', caKeyFile: 'ca.key' })).toEqual([]);
    expect(problems({ validityDays: 0 })).toEqual(['tls.validityDays = 0: must be at least 1']);
    expect(problems({ enabled: 'yes' as never })).toEqual(['tls.enabled = "yes": expected boolean']);
  });
});

describe('the stack PKI', () => {
  it('writes nothing when TLS is off', () => {
    const { cwd } = isolated();
    const deployment = deploymentIn(cwd, 'local');
    expect(ensureTls(deployment)).toBeNull();
    expect(clientCaFile(deployment)).toBeNull();
    expect(existsSync(path.join(deployment.stateDir, 'tls'))).toBe(false);
  });

  it('issues a CA and one server certificate per TLS store, owner-only, covering the Docker names', () => {
    const deployment = tlsDeployment('local');
    const material = ensureTls(deployment)!;
    expect(material.generated).toEqual(['ca', 'postgres', 'etcd', 'minio', 'milvus', 'redis']);
    expect(material.caSource).toBe('kit');
    expect(mode(material.dir)).toBe(0o700);
    const ca = new X509Certificate(material.caCert);
    expect(ca.ca).toBe(true);
    for (const service of ['postgres', 'etcd', 'minio', 'milvus', 'redis'] as const) {
      const server = material.servers[service]!;
      expect(mode(server.certFile)).toBe(0o600);
      expect(mode(server.keyFile)).toBe(0o600);
      const cert = new X509Certificate(server.cert);
      expect(cert.ca).toBe(false);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.checkHost('localhost')).toBe('localhost');
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(cert.checkHost(`vectorstack-local-${service}`)).toBe(`vectorstack-local-${service}`);
      expect(cert.checkHost(service)).toBe(service);
      expect(cert.checkHost('example.com')).toBeUndefined();
      // etcd wants a client certificate: Milvus's and etcd's own (its health check) are also valid as clients.
      expect(cert.keyUsage).toEqual(
        service === 'milvus' || service === 'etcd'
          ? ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']
          : ['1.3.6.1.5.5.7.3.1'],
      );
      const days = (new Date(cert.validTo).getTime() - Date.now()) / DAY;
      expect(days).toBeGreaterThan(364);
      expect(days).toBeLessThan(366);
    }
    for (const file of ['ca.crt', 'ca.key']) expect(mode(path.join(material.dir, file))).toBe(0o600);
    expect(material.servers.postgres!.cert).not.toBe(material.servers.redis!.cert);
  });

  it('covers the Kubernetes Service names on the cluster target', () => {
    const deployment = tlsDeployment('staging');
    const ns = deployment.config.kubernetes.namespace;
    expect(serverNames(deployment.config, 'redis')).toEqual([
      'localhost',
      '127.0.0.1',
      '::1',
      'vectorstack-redis',
      `vectorstack-redis.${ns}`,
      `vectorstack-redis.${ns}.svc`,
      `vectorstack-redis.${ns}.svc.cluster.local`,
    ]);
    const cert = new X509Certificate(ensureTls(deployment)!.servers.redis!.cert);
    expect(certificateNames(cert)).toEqual(serverNames(deployment.config, 'redis'));
  });

  it('reuses what it generated; re-issues a certificate that expires within a third of its validity', () => {
    const deployment = tlsDeployment('local', { tls: { validityDays: 90 } });
    const first = ensureTls(deployment)!;
    const again = ensureTls(deployment)!;
    expect(again.generated).toEqual([]);
    expect(again.servers.redis!.cert).toBe(first.servers.redis!.cert);
    expect(again.caCert).toBe(first.caCert);

    const later = ensureTls(deployment, new Date(Date.now() + 59 * DAY))!;
    expect(later.generated).toEqual([]);
    const renewed = ensureTls(deployment, new Date(Date.now() + 61 * DAY))!;
    expect(renewed.generated).toEqual(['postgres', 'etcd', 'minio', 'milvus', 'redis']);
    expect(renewed.caCert).toBe(first.caCert);
    expect(
      new X509Certificate(renewed.servers.redis!.cert).checkIssued(new X509Certificate(first.caCert)),
    ).toBe(true);
  });

  it('re-issues a certificate whose names no longer match, and all of them for a new CA', () => {
    const { cwd } = isolated();
    const first = ensureTls(deploymentIn(cwd, 'local', { tls: { enabled: true } }))!;
    const renamed = ensureTls(deploymentIn(cwd, 'local', { tls: { enabled: true }, project: 'other' }))!;
    expect(renamed.generated).toEqual(['postgres', 'etcd', 'minio', 'milvus', 'redis']);
    expect(new X509Certificate(renamed.servers.milvus!.cert).checkHost('other-local-milvus')).toBe(
      'other-local-milvus',
    );
    expect(renamed.caCert).toBe(first.caCert);
    const bound = ensureTls(
      deploymentIn(cwd, 'local', {
        tls: { enabled: true },
        project: 'other',
        docker: { bindAddress: '10.1.2.3', publishBeyondLoopback: true },
      }),
    )!;
    expect(bound.generated).toEqual(['postgres', 'etcd', 'minio', 'milvus', 'redis']);
    expect(new X509Certificate(bound.servers.postgres!.cert).checkIP('10.1.2.3')).toBe('10.1.2.3');
  });

  it('regenerates a CA that would expire before a new certificate', () => {
    const deployment = tlsDeployment('local');
    const first = ensureTls(deployment)!;
    const years = ensureTls(deployment, new Date(Date.now() + 3400 * DAY))!;
    expect(years.generated).toEqual(['ca', 'postgres', 'etcd', 'minio', 'milvus', 'redis']);
    expect(years.caCert).not.toBe(first.caCert);
  });

  it('refuses material readable by others, naming the file', () => {
    const deployment = tlsDeployment('local');
    const material = ensureTls(deployment)!;
    chmodSync(material.servers.redis!.keyFile, 0o644);
    expect(() => ensureTls(deployment)).toThrow(/redis\.key is readable by other users \(mode 644\)/);
  });

  it("signs with the user's CA (EC or RSA) and never copies its key", () => {
    for (const type of ['ec', 'rsa'] as const) {
      const { cwd } = isolated();
      const user = userCa(cwd, type);
      const deployment = deploymentIn(cwd, 'local', {
        tls: { enabled: true, caCertFile: 'corp-ca.pem', caKeyFile: 'corp-ca.key' },
      });
      const material = ensureTls(deployment)!;
      expect(material.caSource).toBe('user');
      expect(material.caCert).toBe(user.cert);
      expect(readFileSync(material.caFile, 'utf8')).toBe(user.cert);
      expect(existsSync(path.join(material.dir, 'ca.key'))).toBe(false);
      const ca = new X509Certificate(user.cert);
      const server = new X509Certificate(material.servers.postgres!.cert);
      expect(server.checkIssued(ca)).toBe(true);
      expect(server.verify(ca.publicKey)).toBe(true);
      expect(server.issuer).toBe('CN=Example Corp Root');
      // Switching from the kit's CA to the user's re-issues; the same user CA again reuses.
      expect(ensureTls(deployment)!.generated).toEqual([]);
    }
  });

  it("re-issues the kit's certificates when the user's CA takes over, and drops the kit's CA key", () => {
    const { cwd } = isolated();
    const kit = ensureTls(deploymentIn(cwd, 'local', { tls: { enabled: true } }))!;
    expect(existsSync(path.join(kit.dir, 'ca.key'))).toBe(true);
    userCa(cwd);
    const user = ensureTls(
      deploymentIn(cwd, 'local', {
        tls: { enabled: true, caCertFile: 'corp-ca.pem', caKeyFile: 'corp-ca.key' },
      }),
    )!;
    expect(user.generated).toEqual(['postgres', 'etcd', 'minio', 'milvus', 'redis']);
    expect(existsSync(path.join(kit.dir, 'ca.key'))).toBe(false);
  });

  it("refuses a user CA that is not a CA, or a key that is not the certificate's, naming the field", () => {
    const { cwd } = isolated();
    userCa(cwd);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFileSync(path.join(cwd, 'other.key'), other.export({ type: 'pkcs8', format: 'pem' }) as string, {
      mode: 0o600,
    });
    const wrongKey = deploymentIn(cwd, 'local', {
      tls: { enabled: true, caCertFile: 'corp-ca.pem', caKeyFile: 'other.key' },
    });
    expect(() => ensureTls(wrongKey)).toThrow(TlsError);
    expect(() => ensureTls(wrongKey)).toThrow(
      /tls\.caKeyFile .*other\.key: is not the private key of tls\.caCertFile/,
    );

    const leaf = issueCertificate({
      subject: 'not a ca',
      publicKey: createPublicKey(other),
      issuer: null,
      signer: other,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + DAY),
      ca: false,
      names: ['x'],
    });
    writeFileSync(path.join(cwd, 'leaf.pem'), leaf);
    const notCa = deploymentIn(cwd, 'local', {
      tls: { enabled: true, caCertFile: 'leaf.pem', caKeyFile: 'other.key' },
    });
    expect(() => ensureTls(notCa)).toThrow(/tls\.caCertFile .*leaf\.pem: not a CA certificate/);

    chmodSync(path.join(cwd, 'corp-ca.key'), 0o644);
    const exposed = deploymentIn(cwd, 'local', {
      tls: { enabled: true, caCertFile: 'corp-ca.pem', caKeyFile: 'corp-ca.key' },
    });
    expect(() => ensureTls(exposed)).toThrow(/corp-ca\.key is readable by other users/);
  });
});
