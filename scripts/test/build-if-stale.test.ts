/**
 * scripts/build-if-stale.ts on a workspace of its own (never this repository's dist/,
 * which other tests run from): a package is built when its dist is missing or older than
 * an input, and not again when nothing changed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildIfStale } from '../build-if-stale.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A workspace of two packages whose build writes dist/index.js and logs itself in builds.log. */
function workspace(): { builds: () => string[]; touch: (path: string, secondsFromNow: number) => void } {
  root = mkdtempSync(join(tmpdir(), 'cuju-stale-'));
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({ name: 'ws', private: true, workspaces: ['a', 'b'] }),
  );
  // `node build.cjs`: the build takes the `--silent` that build-if-stale passes on.
  writeFileSync(
    join(root, 'build.cjs'),
    "const fs = require('fs'); fs.mkdirSync('dist', { recursive: true }); fs.writeFileSync('dist/index.js', '');\n" +
      "fs.appendFileSync('../builds.log', require('path').basename(process.cwd()) + '\\n');\n",
  );
  for (const [dir, deps] of [
    ['a', {}],
    ['b', { '@x/a': '*' }],
  ] as const) {
    mkdirSync(join(root, dir, 'src'), { recursive: true });
    writeFileSync(join(root, dir, 'src', 'index.ts'), 'export {};\n');
    writeFileSync(
      join(root, dir, 'package.json'),
      JSON.stringify({ name: `@x/${dir}`, scripts: { build: 'node ../build.cjs' }, dependencies: deps }),
    );
  }
  writeFileSync(join(root, 'builds.log'), '');
  return {
    builds: () => readFileSync(join(root, 'builds.log'), 'utf8').split('\n').filter(Boolean),
    // Explicit times: the test does not depend on how fast the file system's clock ticks.
    touch: (path, secondsFromNow) => {
      const t = Date.now() / 1000 + secondsFromNow;
      utimesSync(join(root, path), t, t);
    },
  };
}

describe('build-if-stale', () => {
  it('builds what has no dist, then nothing while dist is newer than every input', () => {
    const ws = workspace();
    const log: string[] = [];
    expect(buildIfStale(root, (l) => log.push(l))).toEqual(['@x/a', '@x/b']);
    expect(log).toEqual(['@x/a: building (no dist)', '@x/b: building (@x/a was rebuilt)']);
    ws.touch('a/dist/index.js', 60);
    ws.touch('b/dist/index.js', 60);
    expect(buildIfStale(root, () => {})).toEqual([]);
    expect(ws.builds()).toEqual(['a', 'b']);
  });

  it('rebuilds a package whose source is newer than its dist, and the packages that depend on it', () => {
    const ws = workspace();
    buildIfStale(root, () => {});
    ws.touch('a/dist/index.js', -60);
    ws.touch('b/dist/index.js', 60);
    ws.touch('a/src/index.ts', 0);
    const log: string[] = [];
    expect(buildIfStale(root, (l) => log.push(l))).toEqual(['@x/a', '@x/b']);
    expect(log[0]).toBe('@x/a: building (a/src/index.ts is newer than dist)');

    ws.touch('a/dist/index.js', 60);
    ws.touch('b/dist/index.js', -60);
    ws.touch('b/package.json', 0);
    expect(buildIfStale(root, () => {})).toEqual(['@x/b']);
    expect(ws.builds()).toEqual(['a', 'b', 'a', 'b', 'b']);
  });

  it('fails naming the package whose build failed', () => {
    workspace();
    writeFileSync(
      join(root, 'a', 'package.json'),
      JSON.stringify({ name: '@x/a', scripts: { build: 'exit 3' } }),
    );
    expect(() => buildIfStale(root, () => {})).toThrow('the build of @x/a failed (exit 3)');
  });
});
