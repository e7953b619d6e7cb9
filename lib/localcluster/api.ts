import { readFileSync } from 'node:fs';
import https from 'node:https';
import { LocalClusterError } from './errors.js';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/** Where each kind the cluster applies lives in the API (namespaced or not). */
const KINDS: Record<string, { group: string; plural: string; namespaced: boolean }> = {
  Namespace: { group: 'api/v1', plural: 'namespaces', namespaced: false },
  ServiceAccount: { group: 'api/v1', plural: 'serviceaccounts', namespaced: true },
  ConfigMap: { group: 'api/v1', plural: 'configmaps', namespaced: true },
  Service: { group: 'api/v1', plural: 'services', namespaced: true },
  Pod: { group: 'api/v1', plural: 'pods', namespaced: true },
  PersistentVolumeClaim: { group: 'api/v1', plural: 'persistentvolumeclaims', namespaced: true },
  Deployment: { group: 'apis/apps/v1', plural: 'deployments', namespaced: true },
  ClusterRole: { group: 'apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: {
    group: 'apis/rbac.authorization.k8s.io/v1',
    plural: 'clusterrolebindings',
    namespaced: false,
  },
  Role: { group: 'apis/rbac.authorization.k8s.io/v1', plural: 'roles', namespaced: true },
  RoleBinding: { group: 'apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings', namespaced: true },
  StorageClass: { group: 'apis/storage.k8s.io/v1', plural: 'storageclasses', namespaced: false },
  NetworkPolicy: { group: 'apis/networking.k8s.io/v1', plural: 'networkpolicies', namespaced: true },
};

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

export function objectPath(obj: KubeObject): string {
  const kind = KINDS[obj.kind];
  if (!kind) throw new Error(`objectPath: kind ${obj.kind} is not known to lib/localcluster/api.ts`);
  const ns = kind.namespaced ? `/namespaces/${obj.metadata.namespace ?? 'default'}` : '';
  return `/${kind.group}${ns}/${kind.plural}/${obj.metadata.name}`;
}

/** How a client proves who it is: a client certificate and key (files), or a bearer token. */
export type ApiAuth = { cert: string; key: string } | { token: string };

/** A client of a Kubernetes API server (the local cluster's, or a test control plane's) that trusts `ca` (a file). */
export class ApiClient {
  private readonly agent: https.Agent;
  private readonly authHeaders: Record<string, string>;

  constructor(
    readonly server: string,
    ca: string,
    auth: ApiAuth,
  ) {
    const certificate = 'cert' in auth ? { cert: readFileSync(auth.cert), key: readFileSync(auth.key) } : {};
    this.agent = new https.Agent({ ca: readFileSync(ca), ...certificate, keepAlive: false });
    this.authHeaders = 'token' in auth ? { Authorization: `Bearer ${auth.token}` } : {};
  }

  request<T = unknown>(
    method: string,
    apiPath: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<ApiResponse<T>> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        `${this.server}${apiPath}`,
        {
          method,
          agent: this.agent,
          timeout: 15_000,
          headers: {
            ...this.authHeaders,
            Accept: 'application/json',
            ...(payload ? { 'Content-Type': contentType } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {}
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`${method} ${this.server}${apiPath}: timed out after 15s`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** GET that fails on anything but 200. */
  async get<T = unknown>(apiPath: string): Promise<T> {
    const res = await this.request<T>('GET', apiPath);
    if (res.status !== 200)
      throw new LocalClusterError(
        'kube-apiserver',
        `GET ${this.server}${apiPath}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`,
      );
    return res.body;
  }

  /** Server-side apply (field manager `vectorstack-cluster`, conflicts forced): creates or updates the object. */
  async apply(obj: KubeObject): Promise<void> {
    const res = await this.request(
      'PATCH',
      `${objectPath(obj)}?fieldManager=vectorstack-cluster&force=true`,
      obj,
      'application/apply-patch+yaml',
    );
    if (res.status !== 200 && res.status !== 201)
      throw new LocalClusterError(
        'kube-apiserver',
        `apply ${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name} at ${this.server}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`,
      );
  }

  close(): void {
    this.agent.destroy();
  }
}
