import { describe, expect, it } from 'vitest';
import { buildContainerSpec } from '../../../src/sandbox/container-spec.js';
import { toDockerCreateOptions } from '../../../src/sandbox/docker-container-runtime.js';

const spec = buildContainerSpec({
  manifest: {
    name: 'hello',
    description: '',
    image: null,
    command: ['python3', 'main.py'],
    providers: [],
    timeoutSeconds: 10,
    memoryBytes: 64 * 1024 * 1024,
    pidsLimit: 16,
    network: 'none',
  },
  image: 'nanoclaw-skill:latest',
  owner: 'alice',
  runId: 'run-1',
  args: [],
  tokensDir: '/data/tokens/.views/alice/key',
  skillFilesDir: '/data/skill-files/digest',
  tokenFolderGid: 1000,
  hostNetwork: 'manifest',
  process: { host: 'h', pid: 1, instance: 'i' },
  deadline: 0,
});

describe('toDockerCreateOptions', () => {
  it('passes every hardening setting to the Engine API, with no TTY, no stdin and no privileges', () => {
    const options = toDockerCreateOptions(spec);
    expect(options).toMatchObject({
      Image: 'nanoclaw-skill:latest',
      Cmd: ['python3', 'main.py'],
      User: '10001:10001',
      Tty: false,
      OpenStdin: false,
      NetworkDisabled: true,
      Env: ['NANOCLAW_OWNER=alice', 'NANOCLAW_SKILL=hello', 'NANOCLAW_TOKENS_DIR=/workspace/tokens'],
      HostConfig: {
        Mounts: [
          {
            Type: 'bind',
            Source: '/data/tokens/.views/alice/key',
            Target: '/workspace/tokens',
            ReadOnly: true,
          },
          {
            Type: 'bind',
            Source: '/data/skill-files/digest',
            Target: '/opt/nanoclaw/skills/hello',
            ReadOnly: true,
          },
        ],
        GroupAdd: ['1000'],
        Tmpfs: { '/tmp': 'rw,noexec,nosuid,size=64m' },
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Privileged: false,
        Memory: 64 * 1024 * 1024,
        MemorySwap: 64 * 1024 * 1024,
        PidsLimit: 16,
        NetworkMode: 'none',
        Init: true,
      },
    });
    expect(options.HostConfig).not.toHaveProperty('Binds');
    expect(options.HostConfig).not.toHaveProperty('CapAdd');
  });

  it('keeps the network on for a bridge skill when the host allows it', () => {
    const options = toDockerCreateOptions({ ...spec, networkMode: 'bridge' });
    expect(options.NetworkDisabled).toBe(false);
    expect(options.HostConfig?.NetworkMode).toBe('bridge');
  });
});
