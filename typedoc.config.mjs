// npm run docs: the API site of the published packages (docs/api), and CI's check that
// every public symbol is documented, every referenced type is exported and every {@link}
// resolves (a validation warning fails the run). Each package may add options in its own
// typedoc.config.mjs (packages/qmp does).

// What must carry a doc comment: every declaration a user imports, and every method and
// accessor. Not yet each property of an options or result interface (about 330 in the
// hand-written sources, and QmpCommandMap/QmpEventMap's 700 generated from a schema that
// has no descriptions): the READMEs' tables document those for now.
const REQUIRED = ['Enum', 'Variable', 'Function', 'Class', 'Interface', 'TypeAlias', 'Method', 'Accessor'];

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'Cuju FT SDK',
  entryPointStrategy: 'packages',
  entryPoints: ['packages/qmp', 'packages/cuju-sdk', 'packages/gft', 'packages/cuju-sim'],
  packageOptions: {
    entryPoints: ['src/index.ts'],
    includeVersion: true,
    excludeInternal: true,
    validation: { notExported: true, invalidLink: true, notDocumented: true },
    requiredToBeDocumented: REQUIRED,
  },
  readme: 'none',
  out: 'docs/api',
  validation: { notExported: true, invalidLink: true, notDocumented: true },
  treatValidationWarningsAsErrors: true,
};
