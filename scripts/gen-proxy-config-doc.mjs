#!/usr/bin/env node
// Regenerates the "implemented subset, field by field" part of docs/proxy-config.md from the support groups
// (src/proxy/config/support.ts: the bootstrap, each resource type, the common messages and every registered
// extension), after `npm run build`. Everything before that heading is kept as written; a test fails when the
// file is out of date.
//   node scripts/gen-proxy-config-doc.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { SUPPORT_GROUPS } from '../dist/src/proxy/config/support.js';
import { renderSupportDoc, SUPPORT_DOC_HEADING } from '../dist/src/proxy/config/support-doc.js';

const doc = new URL('../docs/proxy-config.md', import.meta.url);
const text = readFileSync(doc, 'utf8');
const at = text.indexOf(SUPPORT_DOC_HEADING);
if (at < 0) throw new Error(`docs/proxy-config.md has no "${SUPPORT_DOC_HEADING}"`);
writeFileSync(doc, `${text.slice(0, at)}${renderSupportDoc(SUPPORT_GROUPS)}`);
