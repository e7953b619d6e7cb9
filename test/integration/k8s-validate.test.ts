import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigOverrides } from '../../lib/config/schema.js';
import { kubernetesStackName } from '../../lib/deployment/names.js';
import { loadDeployment } from '../../lib/deployment/resolve.js';
import { readToolchain } from '../../lib/setup/toolchain-file.js';
import { assertOk, init, runTerraform, terraformCli } from '../../lib/targets/terraform.js';
import { synthesize } from '../../stacks/synth.js';

/**
 * `validate` of the synthesized cluster stacks with the real providers from the local mirror: proves the 3.x
 * kubernetes, helm and random providers accept the JSON the 2.38-era bindings emit. No cluster needed.
 */
const toolchain = readToolchain();
const mirrored = toolchain.providers ?? {};

const VARIANTS: Record<string, { env: 'staging' | 'production'; overrides: ConfigOverrides }> = {
  staging: { env: 'staging', overrides: {} },
  production: { env: 'production', overrides: { kubernetes: { context: 'prod' } } },
  'production-operators': {
    env: 'production',
    overrides: {
      kubernetes: {
        context: 'prod',
        operators: {
          postgres: { mode: 'cloudnative-pg' },
          milvus: { mode: 'helm-cluster' },
          apiServerCidrs: ['10.0.0.1/32'],
        },
      },
    },
  },
  'production-external-bucket': {
    env: 'production',
    overrides: {
      kubernetes: {
        context: 'prod',
        objectStorage: {
          kind: 'external',
          endpoint: 's3.example.com:443',
          useSsl: true,
          bucket: 'milvus-data',
          credentialsSecret: 's3-keys',
          accessKeyIdKey: 'id',
          secretAccessKeyKey: 'secret',
          egressCidrs: ['203.0.113.0/24'],
        },
      },
    },
  },
};

describe('cluster stacks validate with the mirrored providers', () => {
  it('has the CLI and the mirrored kubernetes, helm and random providers (npm run setup)', () => {
    // Fails loudly rather than skipping: a host without the mirror cannot vouch for the JSON.
    expect(() => terraformCli()).not.toThrow();
    expect(mirrored, 'toolchain.json providers').toMatchObject({
      kubernetes: expect.any(String),
      helm: expect.any(String),
      random: expect.any(String),
    });
  });

  for (const [name, variant] of Object.entries(VARIANTS)) {
    it(`${name}: init resolves the mirrored versions and validate passes`, async () => {
      const cli = terraformCli();
      const cwd = mkdtempSync(path.join(os.tmpdir(), `vs-k8s-validate-${name}-`));
      const deployment = loadDeployment({
        env: variant.env,
        cwd,
        environ: { HOME: os.homedir() },
        overrides: variant.overrides,
      });
      const result = synthesize(deployment, {
        outdir: path.join(cwd, 'cdktf.out'),
        providerVersions: mirrored,
      });
      const stackDir = path.join(result.outdir, 'stacks', kubernetesStackName(deployment.config));
      await init(cli, stackDir);
      const lock = readFileSync(path.join(stackDir, '.terraform.lock.hcl'), 'utf8');
      expect(lock).toContain(
        `provider "registry.terraform.io/hashicorp/kubernetes" {\n  version     = "${mirrored.kubernetes}"`,
      );
      expect(lock).toContain(
        `provider "registry.terraform.io/hashicorp/random" {\n  version     = "${mirrored.random}"`,
      );
      if (name === 'production-operators') expect(lock).toContain('hashicorp/helm');
      const validate = await runTerraform(cli, ['validate', '-no-color', '-json'], { cwd: stackDir });
      assertOk(validate, `${cli.flavour} validate ${name}`);
      const report = JSON.parse(validate.stdout) as {
        valid: boolean;
        error_count: number;
        diagnostics: unknown[];
      };
      expect(report.diagnostics, JSON.stringify(report.diagnostics)).toEqual([]);
      expect(report.valid).toBe(true);
    });
  }
});
