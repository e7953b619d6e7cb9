import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ResilientForward, resilientForward } from '../../lib/targets/kubernetes/forward.js';

// A stand-in for `kubectl port-forward` (a real process on a real port): echoes what it receives and exits when told
// to "die", as kubectl does when an upstream connection breaks.
const ECHO = `
const net = require('node:net');
const server = net.createServer((s) => s.on('data', (d) => { if (String(d) === 'die') process.exit(0); s.write(d); }));
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
`;
const exits: Promise<void>[] = [];
function startEcho(): Promise<{ child: ChildProcess; localPort: number }> {
  const child = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] });
  exits.push(new Promise((resolve) => child.once('exit', () => resolve())));
  return new Promise((resolve) =>
    child.stdout!.once('data', (d) =>
      resolve({ child, localPort: Number(/port (\d+)/.exec(String(d))![1]) }),
    ),
  );
}
function roundTrip(port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(message));
    socket.once('data', (d) => {
      resolve(String(d));
      socket.destroy();
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(''));
  });
}

let forward: ResilientForward | undefined;
afterEach(async () => {
  await forward?.close();
});

describe('a port-forward that survives its kubectl process', () => {
  it('starts a new forwarding process for the next connection once the last one exited', async () => {
    forward = await resilientForward({ start: startEcho });
    expect(await roundTrip(forward.localPort, 'hello')).toBe('hello');
    expect(await roundTrip(forward.localPort, 'die')).toBe('');
    // Once the exit is known (a connection made while kubectl is dying can still fail; the kit's clients retry).
    await exits.at(-1);
    expect(await roundTrip(forward.localPort, 'again')).toBe('again');
    expect(forward.starts()).toBe(2);
  });

  it('fails at once when the first forwarding process cannot start, and refuses connections after close', async () => {
    await expect(
      resilientForward({ start: () => Promise.reject(new Error('cannot reach service/x')) }),
    ).rejects.toThrow('cannot reach service/x');
    forward = await resilientForward({ start: startEcho });
    const port = forward.localPort;
    await forward.close();
    forward = undefined;
    await expect(roundTrip(port, 'late')).rejects.toThrow(/ECONNREFUSED/);
  });
});
