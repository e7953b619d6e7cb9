import type { SmokeSuite } from '../lib/verify/smoke.js';
import { etcdSuite } from './etcd.js';
import { milvusSuite } from './milvus.js';
import { minioSuite } from './minio.js';
import { postgresSuite } from './postgres.js';
import { redisSuite } from './redis.js';

/** Every smoke suite, in the order they run and report. */
export const SMOKE_SUITES: Record<string, SmokeSuite> = {
  postgres: postgresSuite,
  etcd: etcdSuite,
  minio: minioSuite,
  milvus: milvusSuite,
  redis: redisSuite,
};
