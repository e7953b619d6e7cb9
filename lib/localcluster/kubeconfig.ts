import { readFileSync } from 'node:fs';
import { writeIfChanged } from './files.js';
import type { CertFiles } from './pki.js';

export interface KubeconfigOptions {
  server: string;
  context: string;
  user: string;
  /** CA that signed the API server's certificate. */
  caFile: string;
  /** A client certificate, or a bearer token. */
  client: CertFiles | { token: string };
}

/** A kubeconfig with everything embedded (no file references), written owner-only. */
export function writeKubeconfig(file: string, options: KubeconfigOptions): void {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  const user =
    'token' in options.client
      ? { token: options.client.token }
      : {
          'client-certificate-data': b64(options.client.cert),
          'client-key-data': b64(options.client.key),
        };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: options.context,
        cluster: { server: options.server, 'certificate-authority-data': b64(options.caFile) },
      },
    ],
    users: [{ name: options.user, user }],
    contexts: [{ name: options.context, context: { cluster: options.context, user: options.user } }],
    'current-context': options.context,
  };
  writeIfChanged(file, `${JSON.stringify(config, null, 2)}\n`, 0o600);
}
