#!/usr/bin/env node
// Regenerates the "implemented subset, field by field" part of docs/proxy-config.md from PROXY_SUPPORT
// (src/proxy/config/support.ts), after `npm run build`. Everything before that heading is kept as written;
// `npx biome format --write docs/proxy-config.md` is not needed (Biome does not format Markdown).
//   node scripts/gen-proxy-config-doc.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { PROXY_SUPPORT } from '../dist/src/proxy/config/support.js';

const HEADING = '## The implemented subset, field by field';
const doc = new URL('../docs/proxy-config.md', import.meta.url);
const text = readFileSync(doc, 'utf8');
const at = text.indexOf(HEADING);
if (at < 0) throw new Error(`docs/proxy-config.md has no "${HEADING}"`);
const intro =
  'Every message type that may appear, with every field the proxy reads. Any other field at a non-default value,\n' +
  'or any other type in a `typed_config`, is refused.\n';

const cell = (s) => s.replace(/\|/g, '\\|');
function table(fields) {
  const rows = Object.entries(fields).map(([f, what]) => [`\`${f}\``, cell(what)]);
  if (rows.length === 0) return 'No fields (the filter or socket takes no settings in Skiff).\n';
  const w0 = Math.max(5, ...rows.map((r) => r[0].length));
  const w1 = Math.max(8, ...rows.map((r) => r[1].length));
  const line = (a, b) => `| ${a.padEnd(w0)} | ${b.padEnd(w1)} |`;
  return `${[
    line('field', 'in Skiff'),
    `| ${'-'.repeat(w0)} | ${'-'.repeat(w1)} |`,
    ...rows.map((r) => line(r[0], r[1])),
  ].join('\n')}\n`;
}
let out = `${text.slice(0, at)}${HEADING}\n\n${intro}`;
for (const [type, fields] of Object.entries(PROXY_SUPPORT)) out += `\n### \`${type}\`\n\n${table(fields)}`;
writeFileSync(doc, out);
