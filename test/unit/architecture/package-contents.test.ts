import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

describe('the published package', () => {
  it('ships the built library with its types, the CLI and the skills, and no sources or tests', async () => {
    const manifest = JSON.parse(await readFile(`${ROOT}/package.json`, 'utf8'));
    expect(manifest.private).toBeUndefined();
    expect(manifest.exports['.']).toMatchObject({ types: './dist/index.d.ts', default: './dist/index.js' });

    // What `npm publish` would send (the build comes from `prepare`, run by `npm install`).
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], {
      cwd: ROOT,
    });
    const files: string[] = JSON.parse(stdout)[0].files.map((file: { path: string }) => file.path);
    expect(files, 'no dist/: run `npm run build` first').toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain(manifest.bin.nanoclaw.replace(/^\.\//, ''));
    expect(files).toContain('Dockerfile.skill');
    const allowed = /^(dist\/|skills\/|Dockerfile\.skill$|README\.md$|package\.json$|LICENSE)/;
    expect(files.filter((file) => !allowed.test(file))).toEqual([]);
    // The bundle the tests build for themselves (dist/test-bin-*, there while the suite runs) stays out.
    expect(files.filter((file) => file.startsWith('dist/test-bin-'))).toEqual([]);
  }, 60_000);
});
