import { VectorstackError } from '../errors.js';

/** A Milvus call that the server refused, or that it does not implement. */
export class MilvusCallError extends VectorstackError {
  constructor(
    message: string,
    /** True when the server answered with an empty response: the SDK's rendering of gRPC UNIMPLEMENTED. */
    readonly unimplemented = false,
  ) {
    super(message);
  }
}

/** The status part of every Milvus answer, as the Node SDK renders it. */
export interface MilvusStatus {
  error_code?: string | number;
  code?: number;
  reason?: string;
  detail?: string;
}

/**
 * Why a status is not a success, or null when it is. Both fields count: milvus-lite 2.5 reports some refusals (e.g.
 * "invalid index type: HNSW") as `error_code: 'Success'` with `code: 65535`. The SDK turns an unimplemented call into
 * an empty `{}`, reported as "not implemented" rather than mistaken for success.
 */
export function statusProblem(status: MilvusStatus | undefined): string | null {
  if (status?.error_code === undefined && status?.code === undefined)
    return 'not implemented by this server (empty response)';
  const errorOk =
    status.error_code === undefined || status.error_code === 'Success' || status.error_code === 0;
  const codeOk = status.code === undefined || status.code === 0;
  if (errorOk && codeOk) return null;
  const text =
    status.reason || status.detail || `error ${String(status.error_code)} / code ${String(status.code)}`;
  return text.replace(/[:\s]+$/, '');
}

/** Throws MilvusCallError naming `what` unless the status is a success. */
export function checkStatus(status: MilvusStatus | undefined, what: string): void {
  const problem = statusProblem(status);
  if (problem === null) return;
  const unimplemented = status?.error_code === undefined && status?.code === undefined;
  throw new MilvusCallError(
    unimplemented ? `milvus: ${what}: ${problem}` : `milvus: ${what} failed: ${problem}`,
    unimplemented,
  );
}
