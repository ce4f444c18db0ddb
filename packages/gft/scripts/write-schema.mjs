// Writes schema/group-spec.schema.json from the built package (npm run build): the JSON
// Schema editors use for group.yaml. test/schema.test.ts checks the file is current.
import { writeFileSync } from 'node:fs';
import { groupSpecJsonSchema } from '../dist/index.js';

writeFileSync(
  new URL('../schema/group-spec.schema.json', import.meta.url),
  `${JSON.stringify(groupSpecJsonSchema(), null, 2)}\n`,
);
