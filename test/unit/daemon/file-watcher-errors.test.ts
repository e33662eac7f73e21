import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchFiles, type FileEvent } from '../../../src/daemon/file-watcher.js';
import { TSX_LOADER } from '../../support/cli.js';

const FILE_WATCHER = new URL('../../../src/daemon/file-watcher.ts', import.meta.url).href;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-watch-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A root chokidar fails on before its initial scan is done: a symbolic link loop. */
async function loopingRoot(): Promise<string> {
  await symlink(path.join(dir, 'b'), path.join(dir, 'a'));
  await symlink(path.join(dir, 'a'), path.join(dir, 'b'));
  return path.join(dir, 'a');
}

describe('watchFiles when the start fails', () => {
  it('rejects with the cause and does not report it a second time', async () => {
    const root = await loopingRoot();
    const errors: unknown[] = [];
    await expect(
      watchFiles({
        root,
        depth: 0,
        ignoreInitial: true,
        onEvent: () => {},
        onError: (error) => errors.push(error),
      }),
    ).rejects.toMatchObject({ code: 'ELOOP' });
    expect(errors).toEqual([]);
  });

  it('leaves nothing open behind it: a process that only tried to watch ends by itself', async () => {
    const root = await loopingRoot();
    const script = [
      `const { watchFiles } = await import(${JSON.stringify(FILE_WATCHER)});`,
      `await watchFiles({ root: ${JSON.stringify(root)}, depth: 0, ignoreInitial: true, onEvent() {}, onError() {} })`,
      "  .then(() => console.log('started'), (error) => console.log('failed', error.code));",
    ].join('\n');
    const child = spawn(process.execPath, ['--import', TSX_LOADER, '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    // Only a hang ends here: the test then fails on how the process ended, not on how long it took.
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal })),
    );
    clearTimeout(killer);
    expect(stdout.trim()).toBe('failed ELOOP');
    expect(ended).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('still watches a good folder and reports its files', async () => {
    await mkdir(path.join(dir, 'good'));
    await writeFile(path.join(dir, 'good', 'file.json'), '{}');
    const seen: FileEvent[] = [];
    const watcher = await watchFiles({
      root: path.join(dir, 'good'),
      depth: 0,
      ignoreInitial: false,
      onEvent: (event) => seen.push(event),
      onError: () => {},
    });
    await watcher.close();
    expect(seen).toEqual([{ kind: 'add', path: path.join(dir, 'good', 'file.json') }]);
  });
});
