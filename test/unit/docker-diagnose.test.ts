import { describe, expect, it } from 'vitest';
import {
  describeUnready,
  type InspectedContainer,
  LOG_TAIL_LINES,
  servicesTerraformGaveUpOn,
} from '../../lib/targets/docker/diagnose.js';

const container = (state: Partial<InspectedContainer['State']>, restarts = 0): InspectedContainer => ({
  Name: '/vstls-local-milvus',
  RestartCount: restarts,
  Config: { Labels: { 'vectorstack.service': 'milvus' } },
  State: { Status: 'running', Running: true, ExitCode: 0, OOMKilled: false, ...state },
});

describe('describeUnready', () => {
  it('leaves healthy containers and finished jobs out', () => {
    expect(describeUnready(container({ Health: { Status: 'healthy', FailingStreak: 0 } }), 'x')).toBeNull();
    expect(describeUnready(container({ Running: false, Status: 'exited', ExitCode: 0 }), 'done')).toBeNull();
  });

  it('names the service and container, the failed checks, restarts, what the check printed and the log tail', () => {
    const log = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n');
    const text = describeUnready(
      container(
        {
          Health: {
            Status: 'unhealthy',
            FailingStreak: 7,
            Log: [
              { ExitCode: 0, Output: '' },
              {
                ExitCode: 1,
                Output: 'milvus answers /healthz but does not serve authenticated requests yet\n',
              },
            ],
          },
        },
        2,
      ),
      log,
    )!;
    expect(text).toMatch(
      /^milvus \(vstls-local-milvus\): unhealthy after 7 failed check\(s\) in a row; restarted 2 time\(s\)/,
    );
    expect(text).toContain(
      'last health check exit 1: milvus answers /healthz but does not serve authenticated requests yet',
    );
    expect(text).toContain(`line 30`);
    expect(text).toContain(`line ${30 - LOG_TAIL_LINES + 1}\n`);
    expect(text).not.toContain(`line ${30 - LOG_TAIL_LINES}\n`);
  });

  it('reports an exited server with its exit code and an OOM kill, and says when the log is empty', () => {
    const text = describeUnready(
      container({
        Running: false,
        Status: 'exited',
        ExitCode: 137,
        OOMKilled: true,
        Health: { Status: 'unhealthy', FailingStreak: 0 },
      }),
      '',
    )!;
    expect(text).toContain('exited (exit 137); restarted 0 time(s); killed for lack of memory (OOM)');
    expect(text).toContain('its log is empty');
  });

  it('clips very long log lines', () => {
    const text = describeUnready(
      container({ Health: { Status: 'starting', FailingStreak: 0 } }),
      'x'.repeat(5000),
    )!;
    expect(text).toContain(`${'x'.repeat(300)}…`);
    expect(text).not.toContain('x'.repeat(301));
  });
});

describe('a container Terraform gave up on', () => {
  it('is read from the error, and reported even when it passed its check since', () => {
    const output =
      'Error: container failed to be in healthy state\n\n  with docker_container.postgres,\n  on cdk.tf.json line 306\n' +
      'Error: container failed to be in healthy state\n\n  with docker_container.milvus,\n';
    expect(servicesTerraformGaveUpOn(output)).toEqual(['postgres', 'milvus']);
    const healthy = container({ Health: { Status: 'healthy', FailingStreak: 0 } }, 1);
    expect(describeUnready(healthy, 'x', { gaveUpOn: true })).toBe(
      'milvus (vstls-local-milvus): healthy now, but not within the wait (restarted 1 time(s))',
    );
  });
});
