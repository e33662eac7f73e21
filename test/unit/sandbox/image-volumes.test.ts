import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bareSkillRunner } from '../../support/bare-skill-runner.js';
import { FakeContainerRuntime } from '../../support/docker-fake-container-runtime.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-image-volumes-'));
  await mkdir(path.join(root, 'skills', 'hello'), { recursive: true });
  await writeFile(
    path.join(root, 'skills', 'hello', 'skill.yaml'),
    'name: hello\nimage: "vendor/with-volume:1"\ncommand: [python3]\n',
  );
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('an image that declares a VOLUME', () => {
  it('is refused before any container is made: Docker would give the skill writable host disk there', async () => {
    const containers = new FakeContainerRuntime();
    containers.images.add('vendor/with-volume:1');
    containers.imageVolumeFolders.set('vendor/with-volume:1', ['/data', '/var/cache']);
    const runner = await bareSkillRunner({ root, containers });
    await expect(runner.run({ skill: 'hello', owner: 'main' })).rejects.toMatchObject({
      code: 'IMAGE_DECLARES_VOLUME',
      message: expect.stringContaining('/data, /var/cache'),
    });
    expect(containers.created).toEqual([]);
  });

  it('is not an obstacle for an image without one', async () => {
    const containers = new FakeContainerRuntime();
    containers.images.add('vendor/with-volume:1');
    const runner = await bareSkillRunner({ root, containers });
    expect(await runner.run({ skill: 'hello', owner: 'main' })).toMatchObject({ exitCode: 0 });
  });
});
