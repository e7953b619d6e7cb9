import { type MilvusClient, promisify } from '@zilliz/milvus2-sdk-node';

export interface ProbeStatus {
  status: { error_code: string | number; reason: string };
}

/**
 * Whether the proxy lets this client insert into `collection`, without writing anything: an insert of zero rows. The
 * proxy checks the privilege before the request, so a login without PrivilegeInsert gets PERMISSION_DENIED, and one
 * with it gets the request's own refusal ("num_rows should be greater than 0"). The SDK refuses an empty insert
 * before sending it, hence the raw call.
 */
export async function probeInsert(client: MilvusClient, collection: string): Promise<ProbeStatus> {
  const pool = (client as unknown as { channelPool: Parameters<typeof promisify>[0] }).channelPool;
  return (await promisify(
    pool,
    'Insert',
    { collection_name: collection, fields_data: [], num_rows: 0 },
    client.timeout,
  )) as ProbeStatus;
}
