import { describe, expect, it } from 'vitest';
import { buildContainerSpec, type ContainerSpecInput } from '../../../src/sandbox/container-spec.js';
import type { SkillManifest } from '../../../src/sandbox/skill-manifest.js';

const manifest: SkillManifest = {
  name: 'google-calendar',
  description: '',
  image: null,
  command: ['python3', '/opt/nanoclaw/skills/google-calendar/main.py'],
  providers: [{ name: 'google-calendar', scopes: ['calendar'] }],
  timeoutSeconds: 60,
  memoryBytes: 128 * 1024 * 1024,
  pidsLimit: 64,
  network: 'bridge',
};

const input: ContainerSpecInput = {
  manifest,
  image: 'nanoclaw-skill:latest',
  owner: 'alice',
  runId: 'run-1',
  args: ['--check'],
  tokensDir: '/srv/nanoclaw/data/tokens/.views/alice/0123456789abcdef01234567',
  skillFilesDir:
    '/srv/nanoclaw/data/skill-files/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  tokenFolderGid: 10001,
  hostNetwork: 'manifest',
  process: { host: 'host-a', pid: 4242, instance: 'instance-a' },
  deadline: Date.parse('2030-01-02T03:04:05.000Z'),
};

describe('buildContainerSpec', () => {
  it('hardens the container: non-root, no capabilities, no new privileges, read-only root, limits', () => {
    const spec = buildContainerSpec(input);
    expect(spec).toMatchObject({
      user: '10001:10001',
      capDrop: ['ALL'],
      securityOpt: ['no-new-privileges'],
      readonlyRootfs: true,
      tmpfs: { '/tmp': 'rw,noexec,nosuid,size=64m' },
      memoryBytes: 128 * 1024 * 1024,
      pidsLimit: 64,
      init: true,
    });
  });

  it("binds only the launch's token view and the skill files' snapshot, whole and read-only", () => {
    const spec = buildContainerSpec(input);
    expect(spec.mounts).toEqual([
      {
        source: '/srv/nanoclaw/data/tokens/.views/alice/0123456789abcdef01234567',
        target: '/workspace/tokens',
        readOnly: true,
      },
      // Nothing of the skill author's is bound (Docker would resolve that path at start): our copy.
      {
        source:
          '/srv/nanoclaw/data/skill-files/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
        target: '/opt/nanoclaw/skills/google-calendar',
        readOnly: true,
      },
    ]);
  });

  it('appends the arguments to the command and tells the skill who and where', () => {
    const spec = buildContainerSpec(input);
    expect(spec.command).toEqual(['python3', '/opt/nanoclaw/skills/google-calendar/main.py', '--check']);
    expect(spec.env).toEqual({
      NANOCLAW_OWNER: 'alice',
      NANOCLAW_SKILL: 'google-calendar',
      NANOCLAW_TOKENS_DIR: '/workspace/tokens',
    });
  });

  it('labels the container with skill, owner, run id and owning process', () => {
    expect(buildContainerSpec(input).labels).toEqual({
      'nanoclaw.managed': 'true',
      'nanoclaw.skill': 'google-calendar',
      'nanoclaw.owner': 'alice',
      'nanoclaw.run-id': 'run-1',
      'nanoclaw.host': 'host-a',
      'nanoclaw.pid': '4242',
      'nanoclaw.instance': 'instance-a',
      'nanoclaw.deadline': '2030-01-02T03:04:05.000Z',
    });
  });

  it("adds the token folder's group only when it is neither the skill user's own nor root's", () => {
    expect(buildContainerSpec(input).groupAdd).toEqual([]);
    expect(buildContainerSpec({ ...input, tokenFolderGid: 1000 }).groupAdd).toEqual(['1000']);
    expect(buildContainerSpec({ ...input, tokenFolderGid: 0 }).groupAdd).toEqual([]);
  });

  it("takes the manifest's network unless the host forces none", () => {
    expect(buildContainerSpec(input).networkMode).toBe('bridge');
    expect(buildContainerSpec({ ...input, hostNetwork: 'none' }).networkMode).toBe('none');
    expect(buildContainerSpec({ ...input, manifest: { ...manifest, network: 'none' } }).networkMode).toBe(
      'none',
    );
  });
});
