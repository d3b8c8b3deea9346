// Renders a bench bootstrap template (bench/*.yaml.tmpl) into an Envoy bootstrap for `skiff proxy`.
//
//   node bench/render.mjs TEMPLATE OUT [NAME=VALUE ...]
//
// - `${NAME}` becomes the NAME=VALUE given on the command line (or on the include line, see below), else the
//   environment variable NAME. A missing or empty value is an error, and so is a value holding a quote, a
//   backslash or a newline (they would change the YAML around it).
// - A line `<indent>#@include FILE [NAME=VALUE ...]` is replaced by FILE (relative to the template), rendered
//   the same way with the extra NAME=VALUEs, every line indented as the include line is. Being a comment, the
//   line leaves the template readable as YAML. Includes nest.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function parseAssignments(words) {
  const vars = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`expected NAME=VALUE, got '${w}'`);
    vars[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return vars;
}

function render(file, vars, problems, depth = 0) {
  if (depth > 8) throw new Error(`${file}: includes nested too deep`);
  const substitute = (text) =>
    text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (m, name) => {
      const v = vars[name] ?? process.env[name];
      if (v === undefined || v === '') {
        problems.add(`${path.basename(file)}: ${name} is not set`);
        return m;
      }
      if (/["\\\n]/.test(v)) problems.add(`${name} holds a quote, backslash or newline`);
      return v;
    });
  const out = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const inc = /^(\s*)#@include\s+(.+)$/.exec(line);
    if (!inc) {
      out.push(substitute(line));
      continue;
    }
    const [target, ...assignments] = substitute(inc[2]).trim().split(/\s+/);
    const included = render(
      path.resolve(path.dirname(file), target),
      { ...vars, ...parseAssignments(assignments) },
      problems,
      depth + 1,
    );
    for (const l of included.replace(/\n$/, '').split('\n')) out.push(l === '' ? '' : inc[1] + l);
  }
  return out.join('\n');
}

const [template, output, ...assignments] = process.argv.slice(2);
if (!template || !output) {
  process.stderr.write('usage: node bench/render.mjs TEMPLATE OUT [NAME=VALUE ...]\n');
  process.exit(2);
}
const problems = new Set();
const text = render(path.resolve(template), parseAssignments(assignments), problems);
if (problems.size > 0) {
  process.stderr.write(`${template}: ${[...problems].join('; ')}\n`);
  process.exit(2);
}
writeFileSync(output, text);
