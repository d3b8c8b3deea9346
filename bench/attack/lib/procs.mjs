// The processes the harness attacks and watches: the recording app (app.mjs, forked) and `skiff proxy`
// instances (started from a bootstrap file, restarted if one dies, every exit counted as a crash), with what
// /proc says about them (VmRSS, open file descriptors) and what their admin servers say (/stats, /ready).

import { fork, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot, SKIFF } from './pki.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A port free on 127.0.0.1 right now (bootstraps name their ports before they bind). */
export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts the recording app with its lanes; `drain(lanes)` returns and resets what they recorded. */
export async function startApp(lanes, markers) {
  const child = fork(path.join(here, '..', 'app.mjs'), [], {
    env: { ...process.env, ATTACK_LANES: JSON.stringify(lanes), ATTACK_MARKERS: JSON.stringify(markers) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ports = await new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m.ports));
    child.once('exit', (code) => reject(new Error(`the recording app exited with ${code}`)));
  });
  let next = 1;
  const waiting = new Map();
  child.on('message', (m) => {
    const w = waiting.get(m.id);
    if (w) {
      waiting.delete(m.id);
      w(m.lanes);
    }
  });
  return {
    child,
    ports,
    drain(which) {
      const id = next++;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        child.send({ op: 'drain', id, lanes: which });
      });
    },
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ op: 'stop' });
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      });
    },
  };
}

/** VmRSS in KiB and the number of open file descriptors of a process. */
export function procStats(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { rssKiB: rss, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rssKiB: 0, fds: 0 };
  }
}

/**
 * A `skiff proxy` that is restarted when it dies. `crashes` lists every exit that was not asked for, with the
 * tail of its stderr. The log level is warn: debug would log each of tens of thousands of refused connections.
 */
export async function startProxy(name, bootstrap, dir) {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(bootstrap, null, 2));
  const p = { name, file, child: undefined, admin: '', pid: 0, crashes: [], stopping: false, stderrTail: '' };
  const launch = () =>
    new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [SKIFF, 'proxy', '--config', file, '--log-level', 'warn', '--drain-time', '1s'],
        {
          cwd: repoRoot,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let tail = '';
      child.stderr.on('data', (d) => {
        tail = (tail + d.toString()).slice(-8192);
        p.stderrTail = tail;
      });
      const timer = setTimeout(() => reject(new Error(`${name} did not start in 30 s:\n${tail}`)), 30_000);
      child.stdout.on('data', (d) => {
        if (out.includes('\n')) return;
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          const ready = JSON.parse(out.slice(0, nl));
          p.child = child;
          p.pid = child.pid;
          p.admin = ready.admin;
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (p.child !== child) {
          reject(new Error(`${name} exited with ${code ?? signal} before it was ready:\n${tail}`));
          return;
        }
        if (p.stopping) return;
        p.crashes.push({ at: new Date().toISOString(), code, signal, stderr: tail });
        p.child = undefined;
        // Restarted so that the classes after this one still measure something; the crash fails the run.
        p.restarting = launch().catch((e) => {
          p.restartError = e.message;
        });
      });
    });
  await launch();
  p.stop = () =>
    new Promise((resolve) => {
      p.stopping = true;
      const child = p.child;
      if (!child || child.exitCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return p;
}

/** Envoy's /stats text as a Map of counters and gauges. */
export async function statsOf(proxy) {
  const out = new Map();
  try {
    const res = await fetch(`http://${proxy.admin}/stats`, { signal: AbortSignal.timeout(10_000) });
    for (const line of (await res.text()).split('\n')) {
      const m = /^([^:]+): (-?[0-9.]+)$/.exec(line);
      if (m) out.set(m[1], Number(m[2]));
    }
  } catch {
    // A proxy that is down has no stats; its crash is counted elsewhere.
  }
  return out;
}

/** /ready's body ('' when the admin server does not answer). */
export async function readyOf(proxy, timeoutMs = 5000) {
  try {
    const res = await fetch(`http://${proxy.admin}/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    return (await res.text()).trim();
  } catch (e) {
    return `unanswered (${e.message})`;
  }
}

/** Counter deltas between two /stats snapshots (only what moved). */
export function moved(before, after) {
  const out = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** The state of a proxy for a table row: pid, RSS and fds now. */
export function snapshot(proxy) {
  return { pid: proxy.pid, ...procStats(proxy.pid) };
}

/**
 * Waits until the proxy's fds come back to at most `baseline + slack`, up to `ms`; returns the last count.
 * Closed sockets leave the fd table a little after the peer sees the close.
 */
export async function settleFds(proxy, baseline, slack, ms = 10_000) {
  const deadline = Date.now() + ms;
  let fds = procStats(proxy.pid).fds;
  while (fds > baseline + slack && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    fds = procStats(proxy.pid).fds;
  }
  return fds;
}
