import { describe, expect, it } from 'vitest';
import { type Pod, type StatefulSet, setReadiness } from '../../lib/targets/kubernetes/driver.js';

const set = (spec: number, status: StatefulSet['status'], generation = 2): StatefulSet => ({
  metadata: { name: 'vectorstack-milvus', generation },
  spec: { replicas: spec },
  status: { observedGeneration: 2, ...status },
});
const pod = (phase = 'Running'): Pod => ({ metadata: { name: 'vectorstack-milvus-0' }, status: { phase } });

describe('StatefulSet readiness', () => {
  it('is ready when every wanted replica is updated and ready and the controller saw the spec', () => {
    expect(setReadiness(set(1, { replicas: 1, readyReplicas: 1, updatedReplicas: 1 }), [pod()])).toEqual({
      ready: true,
      state: '1/1 ready',
    });
  });

  it('is not ready while the controller has not observed the new generation (stale status after a scale-up)', () => {
    const r = setReadiness(set(1, { replicas: 1, readyReplicas: 1, updatedReplicas: 1 }, 3), [pod()]);
    expect(r.ready).toBe(false);
    expect(r.state).toMatch(/has not seen the new spec/);
  });

  it('is not ready while a pod of the old revision still counts', () => {
    expect(setReadiness(set(1, { replicas: 1, readyReplicas: 1, updatedReplicas: 0 }), [pod()]).ready).toBe(
      false,
    );
    const extra = setReadiness(set(1, { replicas: 2, readyReplicas: 1, updatedReplicas: 1 }), [pod(), pod()]);
    expect(extra).toEqual({ ready: false, state: '1/1 ready: 1 old pod(s) still terminating' });
  });

  it('is stopped only when it wants no replica and no pod is left', () => {
    expect(setReadiness(set(0, { replicas: 0 }), [])).toEqual({
      ready: false,
      state: 'stopped (0 replicas)',
    });
    expect(setReadiness(set(0, { replicas: 0 }), [pod()])).toEqual({
      ready: false,
      state: 'stopping (1 pod(s) left)',
    });
    expect(setReadiness(set(0, { replicas: 1, readyReplicas: 1 }), [pod()]).state).toBe(
      'stopping (1 pod(s) left)',
    );
  });
});
