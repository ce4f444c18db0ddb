// Writes schema/group-spec.schema.json from the built package (npm run build): the JSON
// Schema editors use for group.yaml. test/spec.test.ts checks the file is current.
// Formatted as the repository's biome formats JSON (2 spaces; an array of strings or
// numbers on one line when it fits in 110 columns), so that `biome ci` accepts it as written.
import { writeFileSync } from 'node:fs';
import { groupSpecJsonSchema } from '../dist/index.js';

const LINE_WIDTH = 110;
const text = JSON.stringify(groupSpecJsonSchema(), null, 2).replace(
  /^( *)("[^"\n]*": )?\[\n((?: *(?:"(?:[^"\\\n]|\\.)*"|-?\d+(?:\.\d+)?),?\n)+) *\]/gm,
  (whole, indent, key = '', items) => {
    const one = `${indent}${key}[${items
      .split('\n')
      .map((s) => s.trim().replace(/,$/, ''))
      .filter(Boolean)
      .join(', ')}]`;
    return one.length <= LINE_WIDTH ? one : whole;
  },
);
writeFileSync(new URL('../schema/group-spec.schema.json', import.meta.url), `${text}\n`);
