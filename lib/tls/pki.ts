// The stack's TLS material: a private CA (or the user's) and one server certificate per TLS-serving store, kept
// owner-only in the environment's state directory next to credentials.json. Synchronous on purpose: rendering (CDKTF
// synthesis) is synchronous and reads the material; certificates are built with @peculiar/asn1-x509 and signed with
// node:crypto, so nothing shells out to openssl.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import type { VectorstackConfig } from '../config/schema.js';
import { assertOwnerOnly } from '../credentials.js';
import { dockerContainerName, objectName } from '../deployment/names.js';
import { VectorstackError } from '../errors.js';
import type { ServiceName } from '../services/types.js';

/**
 * Stores that serve TLS with tls.enabled: the client ports of PostgreSQL, Redis and Milvus, MinIO's S3 API (Milvus,
 * the kit's clients, the backup job) and etcd's client port (Milvus alone, with a client certificate).
 */
export const TLS_SERVICES = ['postgres', 'redis', 'milvus', 'minio', 'etcd'] as const;
export type TlsService = (typeof TLS_SERVICES)[number];

/**
 * Certificates that also authenticate their holder as a TLS client (extendedKeyUsage clientAuth): etcd requires a
 * client certificate signed by the CA, which Milvus presents (its own), as does etcd's health check (etcd's own).
 */
export const CLIENT_AUTH_SERVICES: readonly TlsService[] = ['milvus', 'etcd'];
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export function isTlsService(name: string): name is TlsService {
  return (TLS_SERVICES as readonly string[]).includes(name);
}

/** Directory of the TLS material inside an environment's state directory. */
export const TLS_DIR = 'tls';
/** The kit's own CA lives this long at least (and always twice a server certificate's validity). */
export const CA_MIN_VALIDITY_DAYS = 3650;
const DAY_MS = 86_400_000;

/** TLS material that is missing, unreadable, readable by others or not usable; names the file and what to do. */
export class TlsError extends VectorstackError {}

export interface ServerCertificate {
  certFile: string;
  keyFile: string;
  /** PEM. */
  cert: string;
  /** PEM (PKCS#8). */
  key: string;
  /** Names the certificate is valid for: DNS names and IP addresses. */
  names: string[];
  notAfter: Date;
}

export interface TlsMaterial {
  dir: string;
  /** The CA certificate clients verify the servers against (the kit's, or a copy of tls.caCertFile). */
  caFile: string;
  caCert: string;
  /** Whose CA signed the servers: the kit's own, or the user's tls.caCertFile. */
  caSource: 'kit' | 'user';
  servers: Partial<Record<TlsService, ServerCertificate>>;
  /** What this call (re)generated: `ca` and/or service names; empty when everything was reused. */
  generated: string[];
}

/** What ensureTls needs of a deployment (a Deployment satisfies it). */
export interface TlsDeployment {
  config: VectorstackConfig;
  target: VectorstackConfig['target'];
  stateDir: string;
  cwd: string;
  specs: { name: ServiceName }[];
}

/** Files of the material in `dir`. */
export function tlsFiles(dir: string) {
  return {
    caCert: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    cert: (service: TlsService) => path.join(dir, `${service}.crt`),
    key: (service: TlsService) => path.join(dir, `${service}.key`),
  };
}

export function tlsDir(stateDir: string): string {
  return path.join(stateDir, TLS_DIR);
}

/**
 * Names a store's certificate must cover: 127.0.0.1 and localhost (published ports, port-forwards), the Docker
 * network alias and container name, or the Kubernetes Service's names (`<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`,
 * `<svc>.<ns>.svc.<clusterDomain>`). A non-loopback Docker bind address is covered too.
 */
export function serverNames(config: VectorstackConfig, service: TlsService): string[] {
  const names = ['localhost', '127.0.0.1', '::1'];
  if (config.target === 'docker') {
    names.push(service, dockerContainerName(config, service));
    const bind = config.docker.bindAddress;
    if (isIP(bind) && !['127.0.0.1', '::1', '0.0.0.0', '::'].includes(bind)) names.push(bind);
  } else {
    const svc = objectName(config.project, service);
    const ns = config.kubernetes.namespace;
    names.push(
      svc,
      `${svc}.${ns}`,
      `${svc}.${ns}.svc`,
      `${svc}.${ns}.svc.${config.kubernetes.clusterDomain}`,
    );
  }
  return [...new Set(names)];
}

/** The stores of a deployment that serve TLS (enabled, and rendered by the kit rather than an operator). */
export function tlsServices(deployment: Pick<TlsDeployment, 'config' | 'specs'>): TlsService[] {
  if (!deployment.config.tls.enabled) return [];
  return deployment.specs.map((s) => s.name).filter(isTlsService);
}

/**
 * Makes the environment's TLS material exist and be current, and returns it: the CA (the kit's own, generated once and
 * reused, or the user's tls.caCertFile, whose key is only read to sign), and a server certificate per TLS store,
 * reused unless it is missing, expires within a third of tls.validityDays, names other hosts than the deployment
 * needs, or was not signed by the current CA. Files are 0600 in a 0700 directory; existing ones readable by others
 * are refused. Returns null when TLS is off.
 */
export function ensureTls(deployment: TlsDeployment, now = new Date()): TlsMaterial | null {
  const { config } = deployment;
  if (!config.tls.enabled) return null;
  const dir = tlsDir(deployment.stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const files = tlsFiles(dir);
  const generated: string[] = [];
  const validityDays = config.tls.validityDays;

  let ca: { cert: X509Certificate; key: KeyObject; pem: string };
  let caSource: TlsMaterial['caSource'];
  if (config.tls.caCertFile && config.tls.caKeyFile) {
    caSource = 'user';
    ca = readUserCa(
      path.resolve(deployment.cwd, config.tls.caCertFile),
      path.resolve(deployment.cwd, config.tls.caKeyFile),
      now,
    );
    // The user's key stays where it is; a key of the kit's own CA left from before would only confuse.
    rmSync(files.caKey, { force: true });
    if (!existsSync(files.caCert) || readOwnerOnly(files.caCert) !== ca.pem)
      writeOwnerOnly(files.caCert, ca.pem);
  } else {
    caSource = 'kit';
    const existing = readKitCa(files.caCert, files.caKey, now, validityDays);
    if (existing) ca = existing;
    else {
      const days = Math.max(CA_MIN_VALIDITY_DAYS, 2 * validityDays);
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const pem = issueCertificate({
        subject: `${config.project}-${config.environment} vectorstack CA`,
        publicKey: createPublicKey(key),
        issuer: null,
        signer: key,
        notBefore: new Date(now.getTime() - 3_600_000),
        notAfter: new Date(now.getTime() + days * DAY_MS),
        ca: true,
      });
      writeOwnerOnly(files.caKey, key.export({ type: 'pkcs8', format: 'pem' }) as string);
      writeOwnerOnly(files.caCert, pem);
      ca = { cert: new X509Certificate(pem), key, pem };
      generated.push('ca');
    }
  }

  const servers: TlsMaterial['servers'] = {};
  for (const service of tlsServices(deployment)) {
    const names = serverNames(config, service);
    const certFile = files.cert(service);
    const keyFile = files.key(service);
    const clientAuth = CLIENT_AUTH_SERVICES.includes(service);
    const reused = reusableServerCert(certFile, keyFile, ca.cert, names, now, validityDays, clientAuth);
    if (reused) {
      servers[service] = reused;
      continue;
    }
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const notAfter = new Date(now.getTime() + validityDays * DAY_MS);
    const cert = issueCertificate({
      subject: names.find((n) => n.includes('.') && isIP(n) === 0) ?? service,
      publicKey: createPublicKey(key),
      issuer: ca.cert,
      signer: ca.key,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter:
        notAfter.getTime() > new Date(ca.cert.validTo).getTime() ? new Date(ca.cert.validTo) : notAfter,
      ca: false,
      names,
      clientAuth,
    });
    const keyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeOwnerOnly(keyFile, keyPem);
    writeOwnerOnly(certFile, cert);
    servers[service] = {
      certFile,
      keyFile,
      cert,
      key: keyPem,
      names,
      notAfter: new Date(new X509Certificate(cert).validTo),
    };
    generated.push(service);
  }
  return { dir, caFile: files.caCert, caCert: ca.pem, caSource, servers, generated };
}

/** The CA file clients verify against, without generating anything: null when TLS is off. */
export function clientCaFile(deployment: Pick<TlsDeployment, 'config' | 'stateDir'>): string | null {
  return deployment.config.tls.enabled ? tlsFiles(tlsDir(deployment.stateDir)).caCert : null;
}

function readOwnerOnly(file: string): string {
  assertOwnerOnly(file);
  return readFileSync(file, 'utf8');
}

function writeOwnerOnly(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function readUserCa(certFile: string, keyFile: string, now: Date) {
  let pem: string;
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    pem = readFileSync(certFile, 'utf8');
    cert = new X509Certificate(pem);
  } catch (error) {
    throw new TlsError(
      `tls.caCertFile ${certFile}: not a readable PEM certificate (${(error as Error).message})`,
    );
  }
  try {
    key = createPrivateKey(readOwnerOnly(keyFile));
  } catch (error) {
    if (error instanceof VectorstackError) throw error;
    throw new TlsError(
      `tls.caKeyFile ${keyFile}: not a readable PEM private key (${(error as Error).message})`,
    );
  }
  if (!cert.ca)
    throw new TlsError(
      `tls.caCertFile ${certFile}: not a CA certificate (basicConstraints CA:TRUE is missing)`,
    );
  if (!cert.checkPrivateKey(key))
    throw new TlsError(`tls.caKeyFile ${keyFile}: is not the private key of tls.caCertFile ${certFile}`);
  if (new Date(cert.validTo).getTime() <= now.getTime())
    throw new TlsError(`tls.caCertFile ${certFile}: expired on ${new Date(cert.validTo).toISOString()}`, {
      remedy:
        'renew the CA certificate, or remove tls.caCertFile and tls.caKeyFile to use a CA the kit generates',
    });
  // Only the first certificate of a bundle is the signer.
  const first = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0] ?? pem;
  return { cert, key, pem: `${first.trim()}\n` };
}

/** The kit's CA, unless missing, unusable or expiring before a server certificate issued now would. */
function readKitCa(certFile: string, keyFile: string, now: Date, validityDays: number) {
  if (!existsSync(certFile) || !existsSync(keyFile)) return null;
  const pem = readOwnerOnly(certFile);
  const keyPem = readOwnerOnly(keyFile);
  try {
    const cert = new X509Certificate(pem);
    const key = createPrivateKey(keyPem);
    if (!cert.ca || !cert.checkPrivateKey(key)) return null;
    if (new Date(cert.validTo).getTime() < now.getTime() + validityDays * DAY_MS) return null;
    return { cert, key, pem };
  } catch {
    return null;
  }
}

function reusableServerCert(
  certFile: string,
  keyFile: string,
  ca: X509Certificate,
  names: string[],
  now: Date,
  validityDays: number,
  clientAuth: boolean,
): ServerCertificate | null {
  if (!existsSync(certFile) || !existsSync(keyFile)) return null;
  const certPem = readOwnerOnly(certFile);
  const keyPem = readOwnerOnly(keyFile);
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return null;
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return null;
    const notAfter = new Date(cert.validTo);
    if (notAfter.getTime() - now.getTime() < (validityDays * DAY_MS) / 3) return null;
    if (new Date(cert.validFrom).getTime() > now.getTime()) return null;
    const have = certificateNames(cert);
    if (have.length !== names.length || !names.every((n) => have.includes(n))) return null;
    if (clientAuth && !(cert.keyUsage ?? []).includes(OID_CLIENT_AUTH)) return null;
    return { certFile, keyFile, cert: certPem, key: keyPem, names, notAfter };
  } catch {
    return null;
  }
}

/** DNS names and IP addresses of a certificate's subjectAltName (IPv6 in its compressed form). */
export function certificateNames(cert: X509Certificate): string[] {
  const out: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    const dns = /^DNS:(.+)$/.exec(entry);
    const ip = /^IP Address:(.+)$/.exec(entry);
    if (dns) out.push(dns[1]!);
    else if (ip) out.push(compressIp(ip[1]!));
  }
  return out;
}

function compressIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  // OpenSSL prints 0:0:0:0:0:0:0:1; the names list holds ::1.
  const groups = ip.split(':').map((g) => Number.parseInt(g, 16).toString(16));
  const joined = groups.join(':');
  const zeros = joined.match(/(^|:)0(:0)+(:|$)/g);
  if (!zeros) return joined;
  const longest = zeros.reduce((a, b) => (b.length > a.length ? b : a));
  return joined.replace(longest, '::');
}

interface IssueRequest {
  subject: string;
  publicKey: KeyObject;
  /** The issuing CA; null for a self-signed certificate. */
  issuer: X509Certificate | null;
  signer: KeyObject;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  /** subjectAltName entries: IP addresses and DNS names. */
  names?: string[];
  /** Also valid as a TLS client certificate (extendedKeyUsage clientAuth). @default false */
  clientAuth?: boolean;
}

const OID = {
  commonName: '2.5.4.3',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
  rsaSha256: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
};
const DER_NULL = new Uint8Array([0x05, 0x00]).buffer;

/** The signature algorithm a key signs with, and the digest node:crypto is given. */
function signatureAlgorithm(key: KeyObject): { id: AlgorithmIdentifier; digest: string | null } {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'secp384r1')
      return { id: new AlgorithmIdentifier({ algorithm: OID.ecdsaSha384 }), digest: 'sha384' };
    if (curve === 'secp521r1')
      return { id: new AlgorithmIdentifier({ algorithm: OID.ecdsaSha512 }), digest: 'sha512' };
    return { id: new AlgorithmIdentifier({ algorithm: OID.ecdsaSha256 }), digest: 'sha256' };
  }
  if (type === 'rsa')
    return {
      id: new AlgorithmIdentifier({ algorithm: OID.rsaSha256, parameters: DER_NULL }),
      digest: 'sha256',
    };
  if (type === 'ed25519') return { id: new AlgorithmIdentifier({ algorithm: OID.ed25519 }), digest: null };
  throw new TlsError(
    `a CA key of type ${type} cannot sign here; allowed: EC (P-256, P-384, P-521), RSA, Ed25519`,
  );
}

function commonName(value: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: OID.commonName, value: new AttributeValue({ utf8String: value }) }),
    ]),
  ]);
}

function extension(id: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1). */
function keyIdentifier(spki: SubjectPublicKeyInfo): ArrayBuffer {
  const digest = createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest();
  return new Uint8Array(digest).buffer;
}

function spkiOf(key: KeyObject): SubjectPublicKeyInfo {
  return AsnConvert.parse(key.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
}

/** An X.509 v3 certificate, DER built here and signed by node:crypto; returned as PEM. */
export function issueCertificate(request: IssueRequest): string {
  const spki = spkiOf(request.publicKey);
  const issuerDer = request.issuer ? AsnConvert.parse(request.issuer.raw, Certificate) : null;
  const issuerName = issuerDer ? issuerDer.tbsCertificate.subject : commonName(request.subject);
  const issuerKeyId = issuerDer
    ? (issuerDer.tbsCertificate.extensions
        ?.filter((e) => e.extnID === id_ce_subjectKeyIdentifier)
        .map((e) => AsnConvert.parse(e.extnValue, SubjectKeyIdentifier).buffer)[0] ??
      keyIdentifier(issuerDer.tbsCertificate.subjectPublicKeyInfo))
    : keyIdentifier(spki);
  const { id, digest } = signatureAlgorithm(request.signer);
  const extensions = [
    extension(
      id_ce_basicConstraints,
      true,
      new BasicConstraints(request.ca ? { cA: true, pathLenConstraint: 0 } : {}),
    ),
    extension(
      id_ce_keyUsage,
      true,
      new KeyUsage(
        request.ca ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign : KeyUsageFlags.digitalSignature,
      ),
    ),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdentifier(spki))),
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(issuerKeyId) }),
    ),
  ];
  if (!request.ca) {
    extensions.push(
      extension(
        id_ce_extKeyUsage,
        false,
        new ExtendedKeyUsage(request.clientAuth ? [id_kp_serverAuth, id_kp_clientAuth] : [id_kp_serverAuth]),
      ),
    );
    extensions.push(
      extension(
        id_ce_subjectAltName,
        false,
        new SubjectAlternativeName(
          (request.names ?? []).map((n) =>
            isIP(n) ? new GeneralName({ iPAddress: n }) : new GeneralName({ dNSName: n }),
          ),
        ),
      ),
    );
  }
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // positive
  serial[0]! |= 0x01; // no leading zero byte
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: id,
    issuer: issuerName,
    validity: new Validity({ notBefore: request.notBefore, notAfter: request.notAfter }),
    subject: commonName(request.subject),
    subjectPublicKeyInfo: spki,
    extensions: new Extensions(extensions),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign(digest, tbsDer, request.signer);
  const certificate = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: id,
    signatureValue: new Uint8Array(signature).buffer,
  });
  const der = Buffer.from(AsnConvert.serialize(certificate));
  const body = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}
