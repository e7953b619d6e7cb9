/**
 * The envtest control plane moved to lib/localcluster/envtest.ts (it shares its certificates, API server and
 * controller-manager flags and waits with the single-node cluster). This re-export keeps existing imports working;
 * import from '../localcluster/index.js' instead, then delete this file.
 */
export {
  type ApiResponse,
  type ControlPlane,
  ControlPlaneError,
  type ControlPlaneOptions,
  startControlPlane,
} from '../localcluster/envtest.js';
