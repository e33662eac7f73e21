import { readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log/logger.js';
import { SkillImages } from '../../../src/sandbox/skill-images.js';
import { createTarArchive } from '../../../src/sandbox/tar-archive.js';
import { dockerForTests, REPO_SKILLS_DIR, TEST_BASE_IMAGE } from '../../support/docker.js';

const docker = await dockerForTests();

describe.skipIf(!docker.available)('building the default skill image through the Docker API', () => {
  const tag = `nanoclaw-skill-build-test:${randomBytes(4).toString('hex')}`;

  afterAll(async () => {
    if (docker.available)
      await docker.docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => {});
  });

  it('builds Dockerfile.skill on the local base image, with the skills inside and the skill user', async () => {
    if (!docker.available) return;
    const images = new SkillImages({
      containers: docker.containers,
      sandbox: { image: tag, baseImage: TEST_BASE_IMAGE },
      skillsDir: REPO_SKILLS_DIR,
      logger: silentLogger(),
    });
    expect(await images.ensure(tag, AbortSignal.timeout(300_000))).toBe('built');
    expect(await images.ensure(tag, AbortSignal.timeout(10_000))).toBe('present');

    const info = await docker.docker.getImage(tag).inspect();
    expect(info.Config.User).toBe('10001:10001');

    const container = await docker.docker.createContainer({
      Image: tag,
      Cmd: ['python3', '-c', 'import os; print(os.getuid(), sorted(os.listdir("/opt/nanoclaw/skills")))'],
      HostConfig: { NetworkMode: 'none' },
    });
    try {
      await container.start();
      await container.wait();
      const logs = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
      const shipped = (await readdir(REPO_SKILLS_DIR, { withFileTypes: true }))
        .filter((entry) => entry.isDirectory())
        .map((entry) => `'${entry.name}'`)
        .sort();
      expect(shipped).toContain("'google-calendar'");
      expect(logs).toContain(`10001 [${shipped.join(', ')}]`);
    } finally {
      await container.remove({ force: true });
    }
  });

  it('reports a failing build as IMAGE_BUILD_FAILED', async () => {
    if (!docker.available) return;
    const images = new SkillImages({
      containers: docker.containers,
      sandbox: { image: `${tag}-broken`, baseImage: 'nanoclaw-no-such-base-image:none' },
      skillsDir: REPO_SKILLS_DIR,
      logger: silentLogger(),
    });
    await expect(images.build(AbortSignal.timeout(120_000))).rejects.toMatchObject({
      code: 'IMAGE_BUILD_FAILED',
    });
  });

  it('refuses an image that declares a VOLUME, which would give a skill writable host disk', async () => {
    if (!docker.available) return;
    const volumeTag = `${tag}-volume`;
    await docker.containers.buildImage(
      {
        context: createTarArchive([
          {
            path: 'Dockerfile',
            mode: 0o644,
            content: Buffer.from('ARG BASE\nFROM ${BASE}\nVOLUME /data /cache\n'),
          },
        ]),
        dockerfile: 'Dockerfile',
        tag: volumeTag,
        buildArgs: { BASE: TEST_BASE_IMAGE },
      },
      AbortSignal.timeout(120_000),
    );
    try {
      const images = new SkillImages({
        containers: docker.containers,
        sandbox: { image: tag, baseImage: TEST_BASE_IMAGE },
        skillsDir: REPO_SKILLS_DIR,
        logger: silentLogger(),
      });
      await expect(images.ensure(volumeTag, AbortSignal.timeout(10_000))).rejects.toMatchObject({
        code: 'IMAGE_DECLARES_VOLUME',
        message: expect.stringContaining('/cache'),
      });
    } finally {
      await docker.docker
        .getImage(volumeTag)
        .remove({ force: true })
        .catch(() => {});
    }
  });
});
