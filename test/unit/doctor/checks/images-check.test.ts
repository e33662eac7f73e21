import { describe, expect, it } from 'vitest';
import type { DockerEngine } from '../../../../src/doctor/checks/docker-engine-check.js';
import { checkImages, imagesNotChecked } from '../../../../src/doctor/checks/images-check.js';

const signal = new AbortController().signal;
const sandbox = { image: 'nanoclaw-skill:latest', baseImage: 'nanoclaw-base:bookworm' };

function engineWith(images: string[]): DockerEngine {
  return {
    ping: async () => {},
    version: async () => null,
    imageExists: async (image) => images.includes(image),
  };
}

describe('checkImages', () => {
  it('passes when the base and skill images are present', async () => {
    const results = await checkImages(
      { engine: engineWith([sandbox.image, sandbox.baseImage]), sandbox, skillImages: [] },
      signal,
    );
    expect(results.map((result) => [result.name, result.status])).toEqual([
      ['base-image', 'ok'],
      ['skill-image', 'ok'],
    ]);
  });

  it('warns about a missing skill image with the build command, since the daemon builds it', async () => {
    const [base, skill] = await checkImages(
      { engine: engineWith([sandbox.baseImage]), sandbox, skillImages: [] },
      signal,
    );
    expect(base?.status).toBe('ok');
    expect(skill).toMatchObject({ status: 'warn' });
    expect(skill?.fix).toBe(
      'docker build --build-arg BASE_IMAGE=nanoclaw-base:bookworm -f Dockerfile.skill -t nanoclaw-skill:latest .',
    );
  });

  it('only warns about a missing base image while the skill image exists', async () => {
    const [base] = await checkImages(
      { engine: engineWith([sandbox.image]), sandbox, skillImages: [] },
      signal,
    );
    expect(base).toMatchObject({ name: 'base-image', status: 'warn' });
    expect(base?.fix).toContain('docker pull nanoclaw-base:bookworm');
  });

  it('fails when neither exists: the skill image cannot be built', async () => {
    const [base] = await checkImages({ engine: engineWith([]), sandbox, skillImages: [] }, signal);
    expect(base).toMatchObject({ name: 'base-image', status: 'fail' });
    expect(base?.message).toContain('cannot be built');
  });

  it("fails for a skill's own image that is missing, naming the skill", async () => {
    const results = await checkImages(
      {
        engine: engineWith([sandbox.image, sandbox.baseImage, 'present:1']),
        sandbox,
        skillImages: [
          { skill: 'a', image: 'present:1' },
          { skill: 'b', image: 'ghcr.io/acme/missing:2' },
          { skill: 'c', image: sandbox.image },
        ],
      },
      signal,
    );
    expect(results[2]).toMatchObject({ name: 'skill-images', status: 'fail' });
    expect(results[2]?.message).toBe('missing: ghcr.io/acme/missing:2 (skill b)');
  });

  it('fails with the reason when the engine cannot inspect an image', async () => {
    const broken: DockerEngine = {
      ...engineWith([]),
      imageExists: async () => {
        throw new Error('socket hang up');
      },
    };
    const [base, skill] = await checkImages({ engine: broken, sandbox, skillImages: [] }, signal);
    expect(base).toMatchObject({
      status: 'fail',
      message: 'cannot inspect nanoclaw-base:bookworm: socket hang up',
    });
    expect(skill?.status).toBe('fail');
  });

  it('marks both as not checked when the engine is down', () => {
    expect(imagesNotChecked().map((result) => [result.name, result.status])).toEqual([
      ['base-image', 'warn'],
      ['skill-image', 'warn'],
    ]);
  });
});
