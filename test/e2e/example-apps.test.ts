// The example apps (examples/permissive/apps) as real processes: echo.js answers with what it saw, and a port
// that is taken ends it with one line and exit code 1, not a stack trace.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../helpers.js';
import { freePort } from './helpers/mesh.js';

const ECHO = path.join(repoRoot, 'examples', 'permissive', 'apps', 'echo.js');

describe('examples/permissive/apps/echo.js', { timeout: 30_000 }, () => {
  const children: ChildProcess[] = [];
  const servers: net.Server[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const s of servers) s.close();
  });

  const start = (port: number) => {
    const child = spawn(process.execPath, [ECHO], {
      env: { ...process.env, PORT: String(port), WORKLOAD_NAME: 'echo-test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { child, exited, stderr: () => err };
  };

  it('answers with its name and the request', async () => {
    const port = await freePort();
    const echo = start(port);
    let body: unknown;
    for (let i = 0; i < 100 && body === undefined; i++) {
      body = await fetch(`http://127.0.0.1:${port}/hello`).then(
        (r) => r.json(),
        () => new Promise((r) => setTimeout(() => r(undefined), 50)),
      );
    }
    assert.deepEqual(body, { service: 'echo-test', path: '/hello', method: 'GET', xfcc: null });
    echo.child.kill('SIGTERM');
    assert.equal(await echo.exited, 0);
  });

  it('a port in use: one line and exit code 1', async () => {
    const taken = net.createServer();
    servers.push(taken);
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    const echo = start(port);
    assert.equal(await echo.exited, 1);
    assert.equal(echo.stderr(), `echo-test: cannot listen on 127.0.0.1:${port}: the port is in use\n`);
  });
});
