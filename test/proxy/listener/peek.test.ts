import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { peek } from '../../../src/proxy/listener/peek.js';

/** A connected pair on 127.0.0.1: `server` is accepted paused, as the listener accepts it. */
interface Pair {
  client: net.Socket;
  server: net.Socket;
}

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];

after(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});

async function pair(): Promise<Pair> {
  const srv = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = once(srv, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ host: '127.0.0.1', port: (srv.address() as net.AddressInfo).port });
  client.setNoDelay(true);
  client.on('error', () => {});
  await once(client, 'connect');
  const [server] = await accepted;
  server.on('error', () => {});
  sockets.push(client, server);
  return { client, server };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything `socket` delivers from now until its end. */
function readToEnd(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    socket.once('end', () => resolve(got));
    socket.resume();
  });
}

describe('peek', { timeout: 10_000 }, () => {
  it('offers the accumulated bytes after every chunk and consumes none of them', async () => {
    const { client, server } = await pair();
    const seen: string[] = [];
    const result = peek(
      server,
      (bytes) => {
        seen.push(bytes.toString('latin1'));
        return bytes.length >= 9;
      },
      5_000,
    );
    for (const part of ['abc', 'def', 'ghi']) {
      client.write(part);
      await sleep(40);
    }
    const { end, bytes } = await result;
    assert.equal(end, 'decided');
    assert.equal(bytes.toString(), 'abcdefghi');
    assert.deepEqual(seen, ['abc', 'abcdef', 'abcdefghi'], 'decide sees every byte so far, each time');
    assert.equal(server.isPaused(), true, 'the socket is left paused');
    // The next reader gets the connection from its first byte, then what follows.
    const rest = readToEnd(server);
    client.end('-tail');
    assert.equal(await rest, 'abcdefghi-tail');
  });

  it("ends with 'timeout' when decide never says yes, and still puts the bytes back", async () => {
    const { client, server } = await pair();
    client.write('ab');
    const t0 = Date.now();
    const { end, bytes } = await peek(server, () => false, 150);
    assert.equal(end, 'timeout');
    assert.ok(Date.now() - t0 >= 140, `timed out after ${Date.now() - t0} ms`);
    assert.equal(bytes.toString(), 'ab');
    const rest = readToEnd(server);
    client.end('cd');
    assert.equal(await rest, 'abcd');
  });

  it('waits without a limit when the timeout is 0', async () => {
    const { client, server } = await pair();
    const result = peek(server, (b) => b.includes('\n'), 0);
    client.write('no newline yet');
    const early = await Promise.race([result.then(() => 'settled'), sleep(300).then(() => 'pending')]);
    assert.equal(early, 'pending');
    client.write('\n');
    assert.equal((await result).end, 'decided');
  });

  it("ends with 'closed' when the peer closes before decide is done", async () => {
    const { client, server } = await pair();
    const result = peek(server, () => false, 5_000);
    client.end();
    const { end, bytes } = await result;
    assert.equal(end, 'closed');
    assert.equal(bytes.length, 0);
  });

  it("ends with 'closed', reporting the bytes, when the peer sends a little and closes", async () => {
    const { client, server } = await pair();
    const result = peek(server, () => false, 5_000);
    client.end('partial');
    const { end, bytes } = await result;
    assert.equal(end, 'closed');
    assert.equal(bytes.toString(), 'partial');
  });

  it("ends with 'error' when the peer resets the connection", async () => {
    const { client, server } = await pair();
    const result = peek(server, () => false, 5_000);
    client.write('x');
    await sleep(30);
    client.resetAndDestroy();
    assert.equal((await result).end, 'error');
  });

  it('decides on the first chunk when it is enough, leaving later bytes unread in the socket', async () => {
    const { client, server } = await pair();
    const calls: number[] = [];
    const result = peek(
      server,
      (b) => {
        calls.push(b.length);
        return true;
      },
      5_000,
    );
    client.write('first');
    const { end } = await result;
    assert.equal(end, 'decided');
    client.write('second');
    await sleep(50);
    assert.deepEqual(calls, [5], 'nothing is offered to decide once it has decided');
    const rest = readToEnd(server);
    client.end();
    assert.equal(await rest, 'firstsecond');
  });
});
