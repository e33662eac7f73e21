import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { runCliInProcess } from '../../support/cli.js';

describe('nanoclaw --version', () => {
  it.each(['--version', '-V'])('%s prints the package version and exits 0', async (flag) => {
    const manifest = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8'));
    const result = await runCliInProcess([flag], { cwd: process.cwd() });
    expect(result).toEqual({ exitCode: 0, stdout: `${manifest.version}\n`, stderr: '' });
  });
});
