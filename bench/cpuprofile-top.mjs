// Top self-time functions of a V8 .cpuprofile (node --cpu-prof): self time per function name + script + line,
// from the samples and their time deltas, with V8's pseudo-nodes kept apart — `(program)` is time in native
// code outside any JS frame (libuv, the TLS and TCP work Node's C++ does before it calls JS), `(garbage
// collector)` is GC, `(idle)` is the event loop waiting. Then the same self time summed by script.
//
//   node bench/cpuprofile-top.mjs FILE.cpuprofile [N=20]

import { readFileSync } from 'node:fs';

const [file, n = '20'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N]\n');
  process.exit(2);
}
const top = Number(n);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map();
// timeDeltas[i] is the time between sample i-1 and sample i: it is spent in sample i-1's frame.
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  const dt = profile.timeDeltas[i + 1] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
}

const shortUrl = (url) => {
  if (!url) return '';
  const repo = url.indexOf('/dist/src/');
  if (repo >= 0) return `skiff:${url.slice(repo + '/dist/src/'.length)}`;
  return url.replace(/^file:\/\//, '');
};

const byFunction = new Map();
const byScript = new Map();
let total = 0;
let idle = 0;
for (const [id, us] of selfUs) {
  const frame = byId.get(id)?.callFrame;
  if (!frame) continue;
  total += us;
  const name = frame.functionName || '(anonymous)';
  if (name === '(idle)') idle += us;
  const url = shortUrl(frame.url);
  const key = url ? `${name}  ${url}:${frame.lineNumber + 1}` : name;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const script = url || name;
  byScript.set(script, (byScript.get(script) ?? 0) + us);
}

const busy = total - idle;
const ms = (us) => (us / 1000).toFixed(1).padStart(8);
const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
const lines = [
  `profile ${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (not idle)`,
  '',
  `  self ms  % busy  function  script:line (top ${top})`,
];
const sorted = (m) => [...m.entries()].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]);
for (const [key, us] of sorted(byFunction).slice(0, top)) lines.push(`${ms(us)}  ${pct(us)}  ${key}`);
lines.push('', `  self ms  % busy  script (top ${Math.min(top, 12)})`);
for (const [key, us] of sorted(byScript).slice(0, Math.min(top, 12)))
  lines.push(`${ms(us)}  ${pct(us)}  ${key}`);
process.stdout.write(`${lines.join('\n')}\n`);
