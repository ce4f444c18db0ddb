// TypeDoc options for @cuju/sdk within the root's `npm run docs` (typedoc.config.mjs).

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  entryPoints: ['src/index.ts'],
  intentionallyNotExported: [
    // The list behind VgaType, which names its values.
    'VGA_TYPES',
    // The error classes' constructor options: users read errors, they do not make them.
    'HostErrorOptions',
  ],
};
