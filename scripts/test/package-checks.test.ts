/**
 * What `npm pack` ships: every relative link of a package README resolves to a file npm
 * lists, the entry files and LICENSE are there, and the publishing fields are set, for
 * every published package (checked on what is built: CI builds before the tests).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  entryFiles,
  npmPack,
  packProblems,
  publishedPackages,
  relativeLinks,
  unresolvedLinks,
} from '../lib/package-checks.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('README links', () => {
  it('finds relative links in text, reference definitions and HTML, not in code or absolute URLs', () => {
    const md = [
      'See [the manual](docs/manual.md#setup), [license](./LICENSE) and ![logo](media/logo.png "Logo").',
      '[ref]: CHANGELOG.md',
      '<a href="dist/native/README.md">scripts</a> <img src="media/pair.svg">',
      'Absolute: [npm](https://www.npmjs.com/) [mail](mailto:x@y) [anchor](#install) [proto](//cdn/x.js)',
      'Inline code: `[not](a-link.md)`',
      '```md',
      '[also not](inside-a-fence.md)',
      '```',
      'Outside: [native](../../native/README.md) [spaced](my%20file.md)',
    ].join('\n');
    expect(relativeLinks(md)).toEqual([
      'docs/manual.md',
      './LICENSE',
      'media/logo.png',
      '../../native/README.md',
      'my file.md',
      'CHANGELOG.md',
      'dist/native/README.md',
      'media/pair.svg',
    ]);
  });

  it('a link resolves to a packed file or directory, never outside the package', () => {
    const files = ['LICENSE', 'README.md', 'dist/index.js', 'dist/native/README.md', 'package.json'];
    expect(
      unresolvedLinks(
        ['./LICENSE', 'dist/native', 'dist/native/', 'dist/native/README.md', 'README.md'],
        files,
      ),
    ).toEqual([]);
    expect(
      unresolvedLinks(['../../native/README.md', 'CHANGELOG.md', '/etc/passwd', 'dist/nat'], files),
    ).toEqual(['../../native/README.md', 'CHANGELOG.md', '/etc/passwd', 'dist/nat']);
  });

  it('entry files come from main, module, types, bin and every exports target', () => {
    expect(
      entryFiles({
        name: 'x',
        version: '1.0.0',
        main: './dist/index.cjs',
        types: './dist/index.d.ts',
        bin: { x: 'bin/x.mjs' },
        exports: {
          '.': {
            import: { types: './dist/index.d.ts', default: './dist/index.js' },
            require: './dist/index.cjs',
          },
          './package.json': './package.json',
          './*': './dist/*.js',
        },
      }),
    ).toEqual(['dist/index.cjs', 'dist/index.d.ts', 'bin/x.mjs', 'dist/index.js', 'package.json']);
  });
});

describe('every published package, as npm pack --dry-run lists it', () => {
  const packages = publishedPackages(ROOT);

  it('is every library, the FT service and the cuju command (bench and examples stay private)', () => {
    expect(packages.map((p) => p.manifest.name).sort()).toEqual([
      '@cuju/cli',
      '@cuju/gft',
      '@cuju/qmp',
      '@cuju/sdk',
      '@cuju/sim',
      '@cuju/zstack-plugin',
    ]);
  });

  it.each(packages.map((p) => [p.manifest.name, p] as const))(
    '%s ships its entry files, README, LICENSE and every file its README links to',
    async (_name, pkg) => {
      const dir = join(ROOT, pkg.dir);
      const packed = await npmPack(dir, { dryRun: true, ignoreScripts: true });
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      expect(packProblems(pkg.manifest, packed.files, readme)).toEqual([]);
      expect(packed.files).toContain('LICENSE');
      expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(readFileSync(join(ROOT, 'LICENSE'), 'utf8'));
      for (const link of relativeLinks(readme))
        expect(packed.files.join('\n')).toContain(link.replace(/^\.\//, ''));
    },
  );
});
