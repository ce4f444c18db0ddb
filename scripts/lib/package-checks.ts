/**
 * What a published package must hold, checked against npm's own file list (`npm pack
 * --json`): the files its package.json points at, its README and LICENSE, and every file
 * its README links to by a relative link. Shared by scripts/check-packages.ts (CI) and the
 * scripts tests.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PackageManifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  main?: string;
  module?: string;
  types?: string;
  bin?: string | Record<string, string>;
  exports?: unknown;
  files?: string[];
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
  scripts?: Record<string, string>;
  sideEffects?: boolean | string[];
}

export interface WorkspacePackage {
  /** Directory relative to the repository root, e.g. `packages/qmp`. */
  dir: string;
  manifest: PackageManifest;
}

/** The packages under packages/ that are published (not `private`), in directory order. */
export function publishedPackages(root: string): WorkspacePackage[] {
  return readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `packages/${d.name}`)
    .map((dir) => ({
      dir,
      manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as PackageManifest,
    }))
    .filter((p) => p.manifest.private !== true)
    .sort((a, b) => a.dir.localeCompare(b.dir));
}

export interface PackResult {
  /** The tarball's file name (in the pack destination; none is written by a dry run). */
  filename: string;
  /** Every path in the package, relative to its root, as npm packs it. */
  files: string[];
}

/**
 * `npm pack --json` in `dir`. A dry run writes no tarball; `ignoreScripts` skips prepack
 * (the build), for a check of what is already built.
 */
export async function npmPack(
  dir: string,
  options: { dryRun?: boolean; ignoreScripts?: boolean; destination?: string } = {},
): Promise<PackResult> {
  const args = ['pack', '--json'];
  if (options.dryRun) args.push('--dry-run');
  if (options.ignoreScripts) args.push('--ignore-scripts');
  if (options.destination) args.push('--pack-destination', options.destination);
  const { stdout } = await run('npm', args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  // prepack's own output may come first on stdout; npm's JSON array comes last, opening
  // with a line that is just "[".
  const start = Math.max(0, ...[...stdout.matchAll(/^\[$/gm)].map((m) => m.index));
  const [result] = JSON.parse(stdout.slice(start)) as { filename: string; files: { path: string }[] }[];
  if (!result) throw new Error(`npm pack in ${dir} reported no package`);
  return { filename: result.filename, files: result.files.map((f) => f.path) };
}

/**
 * The link targets of a markdown text that point into the package: relative paths, with
 * any `#anchor` or `?query` removed. Links inside code (fenced blocks, `inline`) are not
 * links; absolute URLs (`https:`, `mailto:`, ...) and pure `#anchors` are not checked here.
 */
export function relativeLinks(markdown: string): string[] {
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
  const targets = [
    ...[...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm)].map((m) => m[1]!),
    ...[...text.matchAll(/<(?:a|img)\s[^>]*?(?:href|src)\s*=\s*"([^"]+)"/gi)].map((m) => m[1]!),
  ];
  const relative = targets
    .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#') && !t.startsWith('//'))
    .map((t) => decodeURIComponent(t.replace(/[#?].*$/, '')))
    .filter((t) => t !== '');
  return [...new Set(relative)];
}

/**
 * The relative links of a package's README that name no file or directory in `files`
 * (npm's list). A link that leaves the package (`../../native/README.md`) never resolves.
 */
export function unresolvedLinks(links: readonly string[], files: readonly string[]): string[] {
  return links.filter((link) => {
    const target = posix.normalize(link.replace(/^\.\//, '')).replace(/\/$/, '');
    if (target.startsWith('..') || target.startsWith('/')) return true;
    return !files.some((f) => f === target || f.startsWith(`${target}/`));
  });
}

/** Every file path a manifest names (main, module, types, bin, exports targets). */
export function entryFiles(manifest: PackageManifest): string[] {
  const paths: string[] = [];
  for (const field of [manifest.main, manifest.module, manifest.types]) if (field) paths.push(field);
  if (typeof manifest.bin === 'string') paths.push(manifest.bin);
  else if (manifest.bin) paths.push(...Object.values(manifest.bin));
  const walk = (value: unknown): void => {
    if (typeof value === 'string') paths.push(value);
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(manifest.exports);
  return [
    ...new Set(paths.filter((p) => !p.includes('*')).map((p) => posix.normalize(p.replace(/^\.\//, '')))),
  ];
}

/**
 * Problems with a packed package: missing README/LICENSE/entry files, README links that do
 * not resolve inside it, sources or tests shipped, publishing fields missing.
 */
export function packProblems(manifest: PackageManifest, files: readonly string[], readme: string): string[] {
  const problems: string[] = [];
  for (const required of ['package.json', 'README.md', 'LICENSE']) {
    if (!files.includes(required)) problems.push(`${required} is not in the package`);
  }
  for (const entry of entryFiles(manifest)) {
    if (!files.includes(entry)) problems.push(`package.json names ${entry}, which is not in the package`);
  }
  for (const link of unresolvedLinks(relativeLinks(readme), files)) {
    problems.push(`README.md links to ${link}, which is not in the package`);
  }
  const internal = files.filter((f) => /^(src|test)\//.test(f) || /\.test\.[cm]?[jt]s$/.test(f));
  if (internal.length > 0) problems.push(`sources or tests are shipped: ${internal.slice(0, 5).join(', ')}`);
  if (!manifest.repository?.url || !manifest.repository.directory) {
    problems.push('package.json has no repository with url and directory');
  }
  if (!manifest.homepage) problems.push('package.json has no homepage');
  if (!manifest.bugs?.url) problems.push('package.json has no bugs url');
  if (!manifest.license) problems.push('package.json has no license');
  if (manifest.sideEffects === undefined) problems.push('package.json does not declare sideEffects');
  if (!manifest.scripts?.prepack)
    problems.push('package.json has no prepack script (npm pack would ship no dist)');
  return problems;
}
