import { NetworkPolicyV1 } from '@cdktf/provider-kubernetes/lib/network-policy-v1/index.js';
import { Construct } from 'constructs';
import { parseLabelSelector } from '../../lib/deployment/names.js';

/** Pods on one side of a flow; `namespace` null means the environment's own namespace. */
export interface PodPeer {
  name: string;
  labels: Record<string, string>;
  namespace?: string | null;
}

/** Addresses outside the cluster (an external bucket, the API server). */
export interface CidrPeer {
  name: string;
  cidrs: string[];
}

/** One permitted connection: `from` opens TCP connections to `to` on `ports`. */
export interface Flow {
  from: PodPeer;
  to: PodPeer | CidrPeer;
  ports: number[];
}

export interface NetworkPoliciesProps {
  readonly namespace: string;
  /** Prefix of policy names. */
  readonly project: string;
  readonly flows: Flow[];
  /** Cluster DNS: every pod may query it. */
  readonly dns: { namespace: string; podSelector: string };
}

const isCidr = (peer: PodPeer | CidrPeer): peer is CidrPeer => 'cidrs' in peer;

/**
 * Default deny in both directions, DNS egress for every pod, then each flow as an egress rule on its source (when
 * the source lives here) and an ingress rule on its destination (when that is a pod here): one policy per side,
 * named after the flow, so `kubectl get networkpolicy` reads as the list of allowed connections.
 */
export class NetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    const { namespace } = props;
    const policy = (name: string, spec: object) => {
      const resource = new NetworkPolicyV1(this, name, {
        metadata: { name: `${props.project}-${name}`, namespace },
        spec: spec as never,
      });
      resource.overrideLogicalId(`netpol_${name.replaceAll('-', '_')}`);
      return resource;
    };
    const peerSelector = (peer: PodPeer) => ({
      podSelector: { matchLabels: peer.labels },
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': peer.namespace ?? namespace } },
    });
    // No ports: every port (a component group talking among itself).
    const tcp = (ports: number[]) =>
      ports.length === 0 ? {} : { ports: ports.map((port) => ({ port: String(port), protocol: 'TCP' })) };

    policy('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    policy('allow-dns', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              podSelector: { matchLabels: parseLabelSelector(props.dns.podSelector) },
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': props.dns.namespace } },
            },
          ],
          ports: [
            { port: '53', protocol: 'UDP' },
            { port: '53', protocol: 'TCP' },
          ],
        },
      ],
    });

    for (const flow of props.flows) {
      const name = `${flow.from.name}-to-${flow.to.name}`;
      if ((flow.from.namespace ?? namespace) === namespace) {
        const to = isCidr(flow.to)
          ? flow.to.cidrs.map((cidr) => ({ ipBlock: { cidr } }))
          : [peerSelector(flow.to)];
        policy(`${name}-egress`, {
          podSelector: { matchLabels: flow.from.labels },
          policyTypes: ['Egress'],
          egress: [{ to, ...tcp(flow.ports) }],
        });
      }
      if (!isCidr(flow.to) && (flow.to.namespace ?? namespace) === namespace) {
        policy(`${name}-ingress`, {
          podSelector: { matchLabels: flow.to.labels },
          policyTypes: ['Ingress'],
          ingress: [{ from: [peerSelector(flow.from)], ...tcp(flow.ports) }],
        });
      }
    }
  }
}
