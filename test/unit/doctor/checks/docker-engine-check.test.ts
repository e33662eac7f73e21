import { describe, expect, it } from 'vitest';
import { checkDockerEngine, type DockerEngine } from '../../../../src/doctor/checks/docker-engine-check.js';
import { ContainerRuntimeError } from '../../../../src/sandbox/sandbox-errors.js';

const signal = new AbortController().signal;

function engine(overrides: Partial<DockerEngine>): DockerEngine {
  return {
    ping: async () => {},
    version: async () => ({ version: '20.10.24', apiVersion: '1.41' }),
    imageExists: async () => true,
    ...overrides,
  };
}

describe('checkDockerEngine', () => {
  it('reports the engine version when it answers', async () => {
    expect(await checkDockerEngine(engine({}), signal)).toEqual({
      name: 'docker-engine',
      status: 'ok',
      message: 'Docker 20.10.24 (API 1.41) answers',
      fix: null,
    });
  });

  it('still passes when the version is unknown', async () => {
    const result = await checkDockerEngine(engine({ version: async () => null }), signal);
    expect(result).toMatchObject({ status: 'ok', message: 'the Docker engine answers' });
  });

  it('fails with how to start Docker when nothing answers', async () => {
    const down = engine({
      ping: async () => {
        throw new ContainerRuntimeError(
          'DOCKER_UNAVAILABLE',
          'cannot reach the Docker engine (ECONNREFUSED); is it running, and is DOCKER_HOST right?',
        );
      },
    });
    const result = await checkDockerEngine(down, signal);
    expect(result.status).toBe('fail');
    expect(result.message).toBe(
      'cannot reach the Docker engine (ECONNREFUSED); is it running, and is DOCKER_HOST right?',
    );
    expect(result.fix).toContain('DOCKER_HOST');
  });

  it('tells a user without socket access to join the socket group', async () => {
    const denied = engine({
      ping: async () => {
        throw new ContainerRuntimeError('DOCKER_UNAVAILABLE', 'cannot reach the Docker engine (EACCES)');
      },
    });
    expect((await checkDockerEngine(denied, signal)).fix).toContain("socket's group");
  });
});
