import type { MilvusCollectionSpec } from '../../schemas/milvus/collections.js';
import type { RedisAclUserSpec } from '../../schemas/redis/acl.js';
import { BootstrapError } from './types.js';

/** Index types bootstrap knows how to compare; anything else in a spec is a typo until proven otherwise. */
export const MILVUS_INDEX_TYPES = [
  '',
  'HNSW',
  'IVF_FLAT',
  'IVF_SQ8',
  'FLAT',
  'SPARSE_INVERTED_INDEX',
  'SPARSE_WAND',
];
export const MILVUS_METRICS = ['COSINE', 'IP', 'L2', 'BM25', 'MAX_SIM_COSINE', 'MAX_SIM_IP', 'MAX_SIM_L2'];

const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const MILVUS_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const REDIS_USER = /^[a-z][a-z0-9_-]{0,63}$/;

export interface BootstrapNames {
  /** PostgreSQL schema the tables (and the migrations table) live in. */
  postgresSchema: string;
  /** Prefix of Milvus collection names and Redis ACL user names. */
  prefix: string;
}

/** Every problem in the inputs at once, as `field = value: what is allowed`; throws BootstrapError if any. */
export function validateInputs(
  names: BootstrapNames,
  collections: MilvusCollectionSpec[],
  redisUsers: RedisAclUserSpec[],
): void {
  const problems: string[] = [];
  if (!SQL_IDENTIFIER.test(names.postgresSchema))
    problems.push(`postgres schema = ${JSON.stringify(names.postgresSchema)}: ${describe(SQL_IDENTIFIER)}`);
  if (names.prefix !== '' && !/^[a-z][a-z0-9_]{0,31}$/.test(names.prefix))
    problems.push(`prefix = ${JSON.stringify(names.prefix)}: must match ^[a-z][a-z0-9_]{0,31}$`);
  for (const spec of collections) problems.push(...collectionProblems(spec, names.prefix));
  for (const user of redisUsers) {
    if (!REDIS_USER.test(names.prefix + user.name))
      problems.push(`redis user = ${JSON.stringify(user.name)}: ${describe(REDIS_USER)}`);
    for (const keyspace of user.keyspaces)
      if (!/^[a-z][a-z0-9_:-]*\*?$/.test(keyspace.pattern))
        problems.push(
          `redis user ${user.name}: key pattern ${JSON.stringify(keyspace.pattern)} is not prefix:*`,
        );
  }
  if (problems.length > 0) throw new BootstrapError('invalid bootstrap input', { problems });
}

function collectionProblems(spec: MilvusCollectionSpec, prefix: string): string[] {
  const problems: string[] = [];
  const where = `milvus collection ${spec.name}`;
  if (!MILVUS_IDENTIFIER.test(prefix + spec.name))
    problems.push(`${where}: name ${JSON.stringify(spec.name)} ${describe(MILVUS_IDENTIFIER)}`);
  const primary = spec.fields.filter((f) => f.primaryKey);
  if (primary.length !== 1)
    problems.push(`${where}: needs exactly one primary key field, has ${primary.length}`);
  for (const field of spec.fields) {
    if (!MILVUS_IDENTIFIER.test(field.name))
      problems.push(`${where}: field ${JSON.stringify(field.name)} ${describe(MILVUS_IDENTIFIER)}`);
    if (
      field.type === 'FloatVector' &&
      !(Number.isInteger(field.dim) && field.dim! >= 1 && field.dim! <= 32768)
    )
      problems.push(`${where}: field ${field.name}.dim = ${field.dim}: must be an integer from 1 to 32768`);
    if (field.type === 'VarChar' && !(Number.isInteger(field.maxLength) && field.maxLength! >= 1))
      problems.push(
        `${where}: field ${field.name}.maxLength = ${field.maxLength}: must be a positive integer`,
      );
  }
  for (const index of spec.indexes) {
    // `array[sub]`: a vector inside an Array of Struct field.
    const [, array, sub] = /^(\w+)\[(\w+)\]$/.exec(index.field) ?? [];
    const known = array
      ? spec.fields.some((f) => f.name === array && f.structFields?.some((s) => s.name === sub))
      : spec.fields.some((f) => f.name === index.field);
    if (!known) problems.push(`${where}: index on unknown field ${JSON.stringify(index.field)}`);
    if (!MILVUS_INDEX_TYPES.includes(index.indexType))
      problems.push(
        `${where}: index on ${index.field}: indexType = ${JSON.stringify(index.indexType)}: allowed values: ${MILVUS_INDEX_TYPES.filter(Boolean).join(', ')} (or "" for the scalar default)`,
      );
    if (index.metric !== undefined && !MILVUS_METRICS.includes(index.metric))
      problems.push(
        `${where}: index on ${index.field}: metric = ${JSON.stringify(index.metric)}: allowed values: ${MILVUS_METRICS.join(', ')}`,
      );
  }
  return problems;
}

function describe(pattern: RegExp): string {
  return `must match ${pattern.source}`;
}
