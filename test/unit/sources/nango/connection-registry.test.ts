import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionRegistry } from '../../../../src/sources/nango/connection-registry.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-registry-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ConnectionRegistry', () => {
  it('records, persists and forgets connection ids per owner and integration', async () => {
    const registry = ConnectionRegistry.inDataDir(dir);
    expect(await registry.get('alice', 'github')).toBeNull();
    await registry.set('alice', 'github', 'conn-1');
    await registry.set('alice', 'slack', 'conn-2');
    await registry.set('bob', 'github', 'conn-3');

    const reloaded = ConnectionRegistry.inDataDir(dir);
    expect(await reloaded.get('alice', 'github')).toBe('conn-1');
    expect(await reloaded.get('bob', 'github')).toBe('conn-3');
    await reloaded.delete('alice', 'github');
    expect(await ConnectionRegistry.inDataDir(dir).get('alice', 'github')).toBeNull();
    expect(await ConnectionRegistry.inDataDir(dir).get('alice', 'slack')).toBe('conn-2');
    expect((await stat(path.join(dir, 'nango-connections.json'))).mode & 0o777).toBe(0o600);
  });

  it('creates the data folder when it does not exist yet', async () => {
    const registry = ConnectionRegistry.inDataDir(path.join(dir, 'not', 'yet'));
    await registry.set('alice', 'github', 'conn-1');
    expect(await ConnectionRegistry.inDataDir(path.join(dir, 'not', 'yet')).get('alice', 'github')).toBe(
      'conn-1',
    );
  });

  it('keeps writes in order when they come quickly', async () => {
    const registry = ConnectionRegistry.inDataDir(dir);
    await Promise.all(
      Array.from({ length: 20 }, (_, index) => registry.set('alice', 'github', `conn-${index}`)),
    );
    const file = JSON.parse(await readFile(path.join(dir, 'nango-connections.json'), 'utf8'));
    expect(file).toEqual({ alice: { github: 'conn-19' } });
  });

  it('ignores entries that are not owner ids or connection ids', async () => {
    await writeFile(
      path.join(dir, 'nango-connections.json'),
      JSON.stringify({ '../x': { github: 'evil' }, alice: { github: 'conn-1', slack: 42 } }),
    );
    const registry = ConnectionRegistry.inDataDir(dir);
    expect(await registry.get('alice', 'github')).toBe('conn-1');
    expect(await registry.get('alice', 'slack')).toBeNull();
    expect(await registry.get('../x', 'github')).toBeNull();
  });
});
