// A port-forward that survives what ends `kubectl port-forward`: the pod behind the Service restarting, or one
// connection reset by the server (kubectl stops forwarding altogether when an upstream connection errors, so a single
// probe that a server drops, a TLS refusal for instance, would cut every later connection of the same command). The
// handle's clients connect to a local listener; each connection goes through the current kubectl process, started
// again on demand when the last one has exited. Bounded: one start per connection at most, each with its own timeout.
// A connection made in the instant kubectl is dying (before its exit is seen) can still fail: the kit's clients retry.
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { stopChildren } from './kubectl.js';

export interface Forwarder {
  /** Starts `kubectl port-forward` and resolves with the local port it listens on. */
  start(): Promise<{ child: ChildProcess; localPort: number }>;
}

export interface ResilientForward {
  /** Where clients connect (127.0.0.1). */
  localPort: number;
  /** How many kubectl processes were started (1 unless one had to be replaced). */
  starts(): number;
  close(): Promise<void>;
}

/** Opens the listener after a first kubectl process is up (so an unreachable Service fails here, as before). */
export async function resilientForward(forwarder: Forwarder): Promise<ResilientForward> {
  let current: Promise<{ child: ChildProcess; localPort: number }> | undefined;
  const children: ChildProcess[] = [];
  let started = 0;
  let closing = false;
  const upstream = () => {
    if (!current) {
      started++;
      const attempt = forwarder.start();
      current = attempt;
      attempt.then(
        ({ child }) => {
          children.push(child);
          child.once('exit', () => {
            if (current === attempt) current = undefined;
          });
        },
        () => {
          if (current === attempt) current = undefined;
        },
      );
    }
    return current;
  };
  await upstream();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    // A kubectl that has just died may not have reported its exit yet: a refused upstream connection retires it and
    // the connection is tried once more on a new one.
    const connect = (retry: boolean) => {
      const attempt = upstream();
      attempt.then(
        ({ localPort }) => {
          if (closing || client.destroyed) return client.destroy();
          const remote = net.connect(localPort, '127.0.0.1');
          let connected = false;
          sockets.add(remote);
          remote.on('connect', () => {
            connected = true;
            client.pipe(remote);
            remote.pipe(client);
            client.resume();
          });
          remote.on('error', () => {
            if (!connected && retry) {
              if (current === attempt) current = undefined;
              remote.removeAllListeners('close');
              sockets.delete(remote);
              connect(false);
            }
            remote.destroy();
          });
          remote.on('close', () => {
            sockets.delete(remote);
            client.destroy();
          });
          client.on('close', () => remote.destroy());
        },
        () => client.destroy(),
      );
    };
    connect(true);
  });
  const localPort = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    localPort,
    starts: () => started,
    close: async () => {
      closing = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await current?.catch(() => undefined);
      await stopChildren(children);
    },
  };
}
