// The "implemented subset, field by field" part of docs/proxy-config.md, rendered from the support groups
// (support.ts), so the reference is generated from the registrations and cannot drift from them. Pure.

import type { SupportGroup } from './support.js';

export const SUPPORT_DOC_HEADING = '## The implemented subset, field by field';

const INTRO =
  'Every message type that may appear, with every field the proxy reads, grouped by where it is implemented: the\n' +
  'bootstrap, each xDS resource type, and each extension (found by the type of its `typed_config`). Any other field\n' +
  'at a non-default value, or any other type in a `typed_config`, is refused with its path.\n';

function table(fields: Readonly<Record<string, string>>): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = Object.entries(fields).map(([f, what]) => [`\`${f}\``, cell(what)] as const);
  if (rows.length === 0) return 'No fields (it takes no settings in Skiff).\n';
  const w0 = Math.max(5, ...rows.map((r) => r[0].length));
  const w1 = Math.max(8, ...rows.map((r) => r[1].length));
  const line = (a: string, b: string) => `| ${a.padEnd(w0)} | ${b.padEnd(w1)} |`;
  return `${[line('field', 'in Skiff'), `| ${'-'.repeat(w0)} | ${'-'.repeat(w1)} |`, ...rows.map((r) => line(r[0], r[1]))].join('\n')}\n`;
}

/** The section, from its heading to the end of the document. A type shared by two groups is listed once. */
export function renderSupportDoc(groups: readonly SupportGroup[]): string {
  let out = `${SUPPORT_DOC_HEADING}\n\n${INTRO}`;
  const listed = new Set<string>();
  for (const group of groups) {
    out += `\n### ${group.title}\n\n${group.summary}\n`;
    const types = Object.entries(group.types).filter(([type]) => !listed.has(type));
    if (types.length === 0) out += '\nIts messages are listed above.\n';
    for (const [type, fields] of types) {
      listed.add(type);
      out += `\n#### \`${type}\`\n\n${table(fields)}`;
    }
  }
  return out;
}
