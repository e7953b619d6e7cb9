import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BootstrapResult } from '../../lib/bootstrap/index.js';
import { waitForMilvusGrants } from '../../lib/bootstrap/milvus-users.js';
import { loadMigrations, migrationParams, renderMigration } from '../../lib/bootstrap/postgres.js';
import { scramVerifier, verifierMatches } from '../../lib/bootstrap/postgres-roles.js';
import { aclRules } from '../../lib/bootstrap/redis.js';
import { bootstrapJson, renderBootstrapReport } from '../../lib/bootstrap/report.js';
import { BootstrapError } from '../../lib/bootstrap/types.js';
import { validateInputs } from '../../lib/bootstrap/validate.js';
import type { ConfigOverrides } from '../../lib/config/schema.js';
import { milvusCollectionSpecs } from '../../schemas/milvus/collections.js';
import { postgresRoles } from '../../schemas/postgres/roles.js';
import { REDIS_ACL_USERS } from '../../schemas/redis/acl.js';
import { testConfig } from './helpers.js';

const config = (overrides: ConfigOverrides = {}) => testConfig('local', overrides);
const names = { postgresSchema: 'public', prefix: '' };

function problemsOf(run: () => void): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BootstrapError);
    return (error as BootstrapError).problems;
  }
  throw new Error('expected a BootstrapError');
}

describe('bootstrap input validation', () => {
  it('accepts the shipped specs with the default configuration', () => {
    const c = config();
    expect(() => validateInputs(names, milvusCollectionSpecs(c), REDIS_ACL_USERS)).not.toThrow();
  });

  it('names every bad identifier, index type and metric at once', () => {
    const c = config();
    const [dense] = milvusCollectionSpecs(c);
    const broken = {
      ...dense!,
      name: 'bad-name',
      indexes: [{ field: 'embedding', indexType: 'HNSWW', metric: 'DOT' }],
    };
    const problems = problemsOf(() =>
      validateInputs({ postgresSchema: 'Robert"; DROP', prefix: '1x' }, [broken], []),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^postgres schema = "Robert\\"; DROP": must match/),
      expect.stringMatching(/^prefix = "1x": must match/),
      expect.stringMatching(/collection bad-name: name "bad-name" must match/),
      expect.stringMatching(/indexType = "HNSWW": allowed values: HNSW, /),
      expect.stringMatching(/metric = "DOT": allowed values: COSINE, IP, L2/),
    ]);
  });
});

describe('postgres migrations', () => {
  it('render every placeholder from the configuration', () => {
    const c = config({ embedding: { dimension: 1536, metric: 'ip' }, postgres: { hnsw: { m: 24 } } });
    const sql = loadMigrations()
      .map((m) => renderMigration(m, migrationParams(c)))
      .join('\n');
    expect(sql).not.toContain('{{');
    expect(sql).toContain('embedding  vector(1536) NOT NULL');
    expect(sql).toContain('USING hnsw (embedding vector_ip_ops) WITH (m = 24, ef_construction = 64)');
  });

  it('checksum the template, so a config change is not an edited migration but a text change is', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vs-migrations-'));
    writeFileSync(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (v vector({{dimension}}));\r\n');
    const [before] = loadMigrations(dir);
    writeFileSync(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (v vector({{dimension}}));\n');
    expect(loadMigrations(dir)[0]!.checksum).toBe(before!.checksum); // line endings do not count
    writeFileSync(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (v halfvec({{dimension}}));\n');
    expect(loadMigrations(dir)[0]!.checksum).not.toBe(before!.checksum);
  });

  it('reject an unknown placeholder and a malformed file name', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vs-migrations-'));
    writeFileSync(path.join(dir, '0001_a.sql'), 'SELECT {{dimensoin}};');
    const [m] = loadMigrations(dir);
    expect(() => renderMigration(m!, migrationParams(config()))).toThrow(
      /0001_a.sql: unknown placeholder \{\{dimensoin\}\}/,
    );
    writeFileSync(path.join(dir, 'add-users.sql'), 'SELECT 1;');
    expect(() => loadMigrations(dir)).toThrow(/must look like 0001_name.sql: add-users.sql/);
  });
});

describe('milvus capability gates', () => {
  it('builds the dense collection from the configured dimension and metric', () => {
    const [dense] = milvusCollectionSpecs(config({ embedding: { dimension: 384, metric: 'ip' } }));
    expect(dense!.fields.find((f) => f.name === 'embedding')).toMatchObject({
      type: 'FloatVector',
      dim: 384,
    });
    expect(dense!.indexes[0]).toMatchObject({
      indexType: 'HNSW',
      metric: 'IP',
      params: { M: 16, efConstruction: 200 },
    });
  });
});

describe('redis ACL rules', () => {
  it('send the password only as its SHA-256', () => {
    const rules = aclRules(REDIS_ACL_USERS[0]!, 'hunter2');
    expect(rules.join(' ')).not.toContain('hunter2');
    expect(rules).toContain('#f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7');
    expect(rules).toEqual(
      expect.arrayContaining(['reset', 'on', '~cache:*', '~emb:*', 'resetchannels', '-@all']),
    );
  });
});

describe('bootstrap report', () => {
  const result: BootstrapResult = {
    mode: 'plan',
    exitCode: 2,
    applied: [],
    stores: [
      {
        store: 'milvus',
        serverVersion: 'v2.3.5',
        actions: [
          { store: 'milvus', kind: 'load', target: 'rag_chunks', detail: 'load', destructive: false },
        ],
        drift: [
          {
            store: 'milvus',
            target: 'rag_chunks',
            field: 'field embedding dimension',
            expected: '768',
            actual: '8',
            resolution: 're-run with --allow-recreate',
          },
        ],
        warnings: ['sparse skipped'],
      },
    ],
  };

  it('prints JSON with a fixed shape', () => {
    expect(JSON.parse(bootstrapJson(result))).toEqual({
      mode: 'plan',
      exitCode: 2,
      applied: 0,
      stores: [
        {
          store: 'milvus',
          serverVersion: 'v2.3.5',
          actions: [{ kind: 'load', target: 'rag_chunks', detail: 'load', destructive: false }],
          drift: [
            {
              target: 'rag_chunks',
              field: 'field embedding dimension',
              expected: '768',
              actual: '8',
              resolution: 're-run with --allow-recreate',
            },
          ],
          warnings: ['sparse skipped'],
        },
      ],
    });
  });

  it('summarizes actions, drift, warnings and the exit code for humans', () => {
    const text = renderBootstrapReport(result);
    expect(text).toMatch(/│ milvus +│ load +│ rag_chunks/);
    expect(text).toContain('fix milvus: re-run with --allow-recreate');
    expect(text).toContain('warning: milvus: sparse skipped');
    expect(text).toContain('planned 1 action(s) (run without --plan to apply)');
    expect(text).toContain('drift found: exit 2');
  });
});

describe('PostgreSQL logins', () => {
  it('stores SCRAM verifiers, not passwords, and recognises the password a verifier was made from', () => {
    const verifier = scramVerifier('correct horse battery staple');
    expect(verifier).toMatch(
      /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/,
    );
    expect(verifier).not.toContain('correct horse');
    expect(verifierMatches(verifier, 'correct horse battery staple')).toBe(true);
    expect(verifierMatches(verifier, 'correct horse battery stapler')).toBe(false);
    expect(verifierMatches(null, 'anything')).toBe(false);
    expect(verifierMatches('md5abcdef', 'anything')).toBe(false);
  });

  it("reproduces RFC 7677's test vector (password 'pencil', its salt, 4096 iterations)", () => {
    // RFC 7677 section 3: the StoredKey and ServerKey PostgreSQL stores are the same SCRAM-SHA-256 values.
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    expect(scramVerifier('pencil', salt, 4096)).toBe(
      'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=',
    );
  });

  it('gives each use its own login, none of them the superuser but admin', () => {
    const roles = postgresRoles(config());
    expect(Object.values(roles).map((r) => `${r.name}:${r.secret}`)).toEqual([
      'postgres:postgres_password',
      'vectorstack_owner:postgres_owner_password',
      'vectorstack:postgres_app_password',
      'vectorstack_readonly:postgres_readonly_password',
    ]);
    expect(roles.app.tablePrivileges).toEqual(['SELECT', 'INSERT', 'UPDATE', 'DELETE']);
    expect(roles.readonly.tablePrivileges).toEqual(['SELECT']);
  });
});

describe('waiting for Milvus grants to take effect', () => {
  const credentials = { milvus_app_password: 'app-pw', milvus_readonly_password: 'reader-pw' };

  it('waits out refusals (raised or returned) and accepts any other answer, per login', async () => {
    const seen: string[] = [];
    let calls = 0;
    await waitForMilvusGrants(
      ['p_rag_app'],
      'p_rag_chunks',
      async (username, password, spec) => {
        seen.push(`${username}:${password}:${spec.name}`);
        calls++;
        if (calls === 1)
          throw new Error('7 PERMISSION_DENIED: PrivilegeInsert: permission deny to p_rag_app');
        if (calls === 2)
          return { status: { error_code: 'PermissionDenied', reason: 'PrivilegeQuery: permission deny' } };
        // An allowed zero-row insert is refused for its own reason: that is the proof the privilege is applied.
        return { status: { error_code: 'IllegalArgument', reason: 'num_rows should be greater than 0' } };
      },
      testConfig(),
      credentials,
      { prefix: 'p_', timeoutMs: 5_000 },
    );
    expect(calls).toBe(3);
    expect(seen[0]).toBe('p_rag_app:app-pw:rag_app');
  });

  it('gives up after its bound with an error naming the login and the last refusal', async () => {
    const error = await waitForMilvusGrants(
      ['p_rag_reader'],
      'p_rag_chunks',
      async () => {
        throw new Error('7 PERMISSION_DENIED: PrivilegeQuery: permission deny to p_rag_reader');
      },
      testConfig(),
      credentials,
      { prefix: 'p_', timeoutMs: 1_200 },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(BootstrapError);
    expect(error.message).toContain('milvus: the grants of p_rag_reader did not take effect');
    expect(error.problems[0]).toMatch(/^refused for \ds: 7 PERMISSION_DENIED: PrivilegeQuery/);
    expect(error.problems).toHaveLength(1);
  });

  it("adds what the server's metadata holds for the login, when it can read it", async () => {
    const refuse = async () => {
      throw new Error('7 PERMISSION_DENIED: PrivilegeQuery: permission deny to p_rag_reader');
    };
    const wait = (describe: (spec: { name: string }) => Promise<string>) =>
      waitForMilvusGrants(['p_rag_reader'], 'p_rag_chunks', refuse, testConfig(), credentials, {
        prefix: 'p_',
        timeoutMs: 600,
        describe,
      }).catch((e) => e);
    const described = await wait(async (spec) => `metadata: ${spec.name} has roles [${spec.name}]`);
    expect(described.problems[1]).toBe('metadata: p_rag_reader has roles [p_rag_reader]');
    const unreadable = await wait(async () => {
      throw new Error('connection closed');
    });
    expect(unreadable.problems[1]).toBe('metadata not readable: connection closed');
  });
});
