import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../support/cli.js';
import { containersWithLabel, dockerForTests, TEST_SKILL_IMAGE } from '../../support/docker.js';

const docker = await dockerForTests();

describe.skipIf(!docker.available)('nanoclaw run: usage errors exit 2', () => {
  let cwd: string;

  beforeAll(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'nanoclaw-run-usage-'));
    await writeFile(
      path.join(cwd, 'nanoclaw.config.yaml'),
      stringify({
        nango: { secretKey: 'unused-in-these-tests', host: 'http://127.0.0.1:1' },
        sandbox: { image: TEST_SKILL_IMAGE, network: 'none' },
        providers: [{ name: 'github', source: 'nango' }],
      }),
    );
    await mkdir(path.join(cwd, 'skills', 'needs-dropbox'), { recursive: true });
    await writeFile(
      path.join(cwd, 'skills', 'needs-dropbox', 'skill.yaml'),
      'name: needs-dropbox\ncommand: [python3, -c, "print(1)"]\nproviders:\n  - name: dropbox\n',
    );
  });
  afterAll(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  it('a skill that declares a provider the configuration does not have: exit 2, no container', async () => {
    const run = await spawnCli(['run', 'needs-dropbox'], { cwd });
    expect(run.stderr).toContain(
      'skill "needs-dropbox" declares provider "dropbox", which is not configured in nanoclaw.config.yaml (UNKNOWN_PROVIDER)',
    );
    expect(run.exitCode).toBe(2);
    if (docker.available) {
      expect(await containersWithLabel(docker.docker, 'nanoclaw.skill', 'needs-dropbox')).toEqual([]);
    }
  });
});
