import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { tlsDir, tlsFiles } from '../../lib/tls/pki.js';
import {
  BackupCronJob,
  backupCronJobProps,
  shellWaitFor,
  uploadScript,
} from '../../stacks/kubernetes/backup-cronjob.js';
import { buildKubernetesStack } from '../../stacks/kubernetes/kubernetes-stack.js';
import { EXTERNAL_BUCKET, testDeployment } from './helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: synthesized JSON is navigated loosely; the assertions check its shape.
type J = any;

/** Synthesizes staging with `backup` as its kubernetes.backup section (and other config overrides). */
function synth(backup: Record<string, unknown> = {}, overrides: { kubernetes?: object; tls?: object } = {}) {
  const deployment = testDeployment('staging', {
    ...overrides,
    kubernetes: { ...overrides.kubernetes, backup },
  });
  const stack = buildKubernetesStack(Testing.app(), { deployment });
  return {
    deployment,
    config: deployment.config,
    parsed: JSON.parse(Testing.synth(stack)) as { resource: Record<string, Record<string, J>> },
  };
}

describe('scheduled backup CronJob (Kubernetes)', () => {
  it('is rendered from kubernetes.backup: on by default in staging and production, absent when enabled is false', () => {
    expect(testDeployment('staging').config.kubernetes.backup).toMatchObject({
      enabled: true,
      schedule: '0 3 * * *',
    });
    const production = testDeployment('production', { kubernetes: { context: 'prod' } });
    expect(production.config.kubernetes.backup.enabled).toBe(true);
    expect(testDeployment('local').config.kubernetes.backup.enabled).toBe(false);
    const { parsed } = synth({ enabled: false });
    expect(parsed.resource.kubernetes_cron_job_v1).toBeUndefined();
    expect(parsed.resource.kubernetes_config_map_v1?.backup_ca).toBeUndefined();
    expect(
      Object.keys(parsed.resource.kubernetes_network_policy_v1 ?? {}).some((k) => k.includes('backup')),
    ).toBe(false);
  });

  it('refuses a schedule that is not cron, naming the field and the allowed forms', () => {
    expect(() => testDeployment('staging', { kubernetes: { backup: { schedule: 'daily at 3' } } })).toThrow(
      /kubernetes\.backup\.schedule.*five fields/s,
    );
    expect(() => testDeployment('staging', { kubernetes: { backup: { retentionDays: 0 } } })).toThrow(
      /kubernetes\.backup\.retentionDays/,
    );
  });

  const { parsed, config, deployment } = synth({ schedule: '30 2 * * *', retentionDays: 7 });
  const job: J = parsed.resource.kubernetes_cron_job_v1!.backup_cron_job;
  const pod: J = job.spec.job_template.spec.template.spec;

  it('dumps PostgreSQL and snapshots Redis from their own images, then uploads to the stack bucket', () => {
    expect(job.spec.schedule).toBe('30 2 * * *');
    expect(job.spec.concurrency_policy).toBe('Forbid');
    expect(pod.init_container.map((c: J) => c.name)).toEqual(['postgres-dump', 'redis-snapshot']);
    const [pgStep, redisStep] = pod.init_container;
    expect(pgStep.image).toBe('pgvector/pgvector:0.8.0-pg17');
    expect(pgStep.command.join(' ')).toMatch(
      /pg_dump .*--format=custom --create -f \/backup\/set\/postgres\/database\.dump/,
    );
    expect(pgStep.env).toContainEqual({ name: 'PGUSER', value: 'postgres' });
    expect(pgStep.env).toContainEqual({
      name: 'PGPASSWORD',
      value_from: {
        secret_key_ref: { name: expect.stringContaining('credentials'), key: 'postgres_password' },
      },
    });
    expect(redisStep.command[2]).toMatch(/^cli="redis-cli .*"$/m);
    expect(redisStep.command[2]).toMatch(/^\$cli --rdb \/backup\/set\/redis\/dump\.rdb$/m);
    // Each step waits (bounded) for its store: a new pod's first connections may be refused by policy enforcement.
    expect(pgStep.command[2]).toContain(
      shellWaitFor('postgres $PGHOST:$PGPORT', 'pg_isready -h "$PGHOST" -p "$PGPORT" -t 2'),
    );
    expect(redisStep.command[2]).toContain(
      shellWaitFor('redis $REDIS_HOST:$REDIS_PORT', '$cli ping | grep -q PONG'),
    );
    expect(redisStep.env).toContainEqual({
      name: 'REDISCLI_AUTH',
      value_from: { secret_key_ref: { name: expect.stringContaining('credentials'), key: 'redis_password' } },
    });
    const upload = pod.container[0];
    expect(upload.command[2]).toBe(uploadScript(config.minio.bucket, 'backups', 7));
    expect(upload.command[2]).toMatch(/mc rm --recursive --force --older-than 7d/);
    expect(upload.env).toContainEqual({
      name: 'MC_HOST_vectorstack',
      value: `https://$(S3_ACCESS_KEY):$(S3_SECRET_KEY)@vectorstack-minio.${config.kubernetes.namespace}.svc.${config.kubernetes.clusterDomain}:9000`,
    });
  });

  it('verifies the stores over TLS (staging default) against the CA from its own ConfigMap, which holds no key', () => {
    expect(config.tls.enabled).toBe(true);
    const [pgStep, redisStep] = pod.init_container;
    expect(pgStep.env).toContainEqual({ name: 'PGSSLMODE', value: 'verify-full' });
    expect(pgStep.env).toContainEqual({ name: 'PGSSLROOTCERT', value: '/run/vectorstack/tls/ca.crt' });
    expect(redisStep.command.join(' ')).toContain(
      'redis-cli --no-auth-warning --tls --cacert /run/vectorstack/tls/ca.crt ',
    );
    const upload = pod.container[0];
    expect(upload.env).toContainEqual({ name: 'SSL_CERT_FILE', value: '/run/vectorstack/tls/ca.crt' });
    for (const step of [pgStep, redisStep, upload])
      expect(step.volume_mount).toContainEqual({
        name: 'ca',
        mount_path: '/run/vectorstack/tls',
        read_only: true,
      });
    const caMap = parsed.resource.kubernetes_config_map_v1!.backup_ca;
    const ca = readFileSync(tlsFiles(tlsDir(deployment.stateDir)).caCert, 'utf8');
    expect(caMap.data).toEqual({ 'ca.crt': ca });
    expect(JSON.stringify(caMap)).not.toMatch(/PRIVATE KEY/);
    expect(pod.volume).toContainEqual({
      name: 'ca',
      // A Terraform reference to the ConfigMap's name.
      config_map: {
        name: expect.stringMatching(/^\$\{kubernetes_config_map_v1\.backup_ca\.metadata\[0\]\.name\}$/),
      },
    });
    expect(caMap.metadata.name).toBe('vectorstack-backup-ca');
  });

  it('connects in plain text when tls.enabled is false, and refuses a TLS source without the CA', () => {
    const plain = synth({}, { tls: { enabled: false } });
    const plainPod =
      plain.parsed.resource.kubernetes_cron_job_v1!.backup_cron_job.spec.job_template.spec.template.spec;
    expect(plainPod.init_container[0].env.map((e: J) => e.name)).not.toContain('PGSSLMODE');
    expect(plainPod.init_container[1].command.join(' ')).not.toContain('--tls');
    expect(plainPod.container[0].env).toContainEqual(
      expect.objectContaining({ name: 'MC_HOST_vectorstack', value: expect.stringMatching(/^http:/) }),
    );
    expect(plain.parsed.resource.kubernetes_config_map_v1?.backup_ca).toBeUndefined();
    const props = backupCronJobProps(deployment, 'ns', 'creds', {}, config.kubernetes.backup, null);
    expect(() => new BackupCronJob(Testing.app(), 'b', { ...props, caCertPem: null })).toThrow(
      'BackupCronJob: caCertPem is required when a source serves TLS (postgres.tls, redis.tls, objectStore.tls)',
    );
  });

  it('meets Pod Security "restricted" and mounts no service account token', () => {
    expect(pod.automount_service_account_token).toBe(false);
    expect(pod.security_context.run_as_non_root).toBe(true);
    for (const c of [...pod.init_container, ...pod.container]) {
      expect(c.security_context).toMatchObject({
        run_as_non_root: true,
        allow_privilege_escalation: false,
        capabilities: { drop: ['ALL'] },
        seccomp_profile: { type: 'RuntimeDefault' },
      });
      expect(c.resources.limits).toBeDefined();
    }
  });

  it('opens exactly the connections it needs past the default deny', () => {
    const policies = parsed.resource.kubernetes_network_policy_v1!;
    const names = Object.keys(policies)
      .filter((k) => k.includes('backup'))
      .sort();
    expect(names).toEqual([
      'netpol_backup_to_object_storage_egress',
      'netpol_backup_to_object_storage_ingress',
      'netpol_backup_to_postgres_egress',
      'netpol_backup_to_postgres_ingress',
      'netpol_backup_to_redis_egress',
      'netpol_backup_to_redis_ingress',
    ]);
    expect(policies.netpol_backup_to_postgres_egress.spec.egress[0].ports).toEqual([
      { port: '5432', protocol: 'TCP' },
    ]);
    expect(policies.netpol_backup_to_redis_ingress.spec.pod_selector.match_labels).toEqual({
      'app.kubernetes.io/name': 'redis',
      'app.kubernetes.io/instance': 'vectorstack',
    });
  });

  it('writes to an external bucket with its own Secret and egress CIDRs', () => {
    const external = synth(
      { bucket: 'rag-backups' },
      {
        kubernetes: {
          objectStorage: EXTERNAL_BUCKET,
        },
      },
    );
    const upload =
      external.parsed.resource.kubernetes_cron_job_v1!.backup_cron_job.spec.job_template.spec.template.spec
        .container[0];
    expect(upload.command[2]).toContain('vectorstack/rag-backups/backups');
    expect(upload.env).toContainEqual({
      name: 'S3_SECRET_KEY',
      value_from: { secret_key_ref: { name: 's3-creds', key: 'key' } },
    });
    const egress =
      external.parsed.resource.kubernetes_network_policy_v1!.netpol_backup_to_object_storage_egress;
    expect(egress.spec.egress[0]).toEqual({
      to: [{ ip_block: { cidr: '10.20.0.0/16' } }],
      ports: [{ port: '443', protocol: 'TCP' }],
    });
  });

  it('waits for a store a bounded time, then fails naming it', () => {
    const run = (probe: string, seconds: number) =>
      spawnSync('sh', ['-c', `set -eu\n${shellWaitFor('postgres db:5432', probe, seconds)}\necho started`], {
        encoding: 'utf8',
      });
    expect(run('true', 60)).toMatchObject({ status: 0, stdout: 'started\n' });
    expect(run('false', 2)).toMatchObject({
      status: 1,
      stdout: '',
      stderr: 'postgres db:5432 not reachable after 2s\n',
    });
    // Succeeds on the third try.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vs-wait-'));
    const third = run(`{ echo x >> ${dir}/n; [ "$(wc -l < ${dir}/n)" -ge 3 ]; }`, 60);
    expect(third).toMatchObject({ status: 0, stdout: 'started\n' });
    expect(readFileSync(path.join(dir, 'n'), 'utf8')).toBe('x\nx\nx\n');
  });
});
