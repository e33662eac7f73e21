import { randomUUID } from 'node:crypto';
import { rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerForTests } from '../../support/docker.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { SkillSandbox } from '../../support/skill-sandbox.js';

const docker = await dockerForTests();

/** Prints every file under its own skill folder in the container, base64, so redaction cannot hide one. */
const PROBE = String.raw`
import base64, os
root = "/opt/nanoclaw/skills/probe"
for folder, _, files in os.walk(root):
    for name in files:
        with open(os.path.join(folder, name), "rb") as handle:
            print(name, base64.b64encode(handle.read()).decode(), flush=True)
`;

const ALICE_TOKEN = 'alice-calendar-token-that-main-must-never-see-71c2';

/**
 * A skill author swaps their skill folder with a symbolic link to another owner's token folder, in
 * a loop, while runs start for owner "main". Docker must never resolve anything the author can swap:
 * each run sees its own skill files or does not start, and never alice's token.
 */
describe.skipIf(!docker.available)('a skill folder swapped for a symbolic link while runs start', () => {
  let nango: FakeNangoServer;
  let sandbox: SkillSandbox;

  beforeAll(async () => {
    if (!docker.available) return;
    nango = await FakeNangoServer.start();
    sandbox = await SkillSandbox.create({
      nango,
      containers: docker.containers,
      providers: [{ name: 'google-calendar' }],
      skills: {
        probe: {
          // Inline, so the probe runs whatever its folder holds at start.
          manifest: { command: ['python3', '-c', PROBE], timeout: 30 },
          files: { 'notes.txt': "the skill author's own file\n" },
        },
      },
    });
    await sandbox.writeToken('alice', 'google-calendar', ALICE_TOKEN);
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
    await nango?.close();
  });

  it("never shows another owner's token, however the swap falls", async () => {
    const skillDir = path.join(sandbox.skillsDir, 'probe');
    const realDir = path.join(sandbox.skillsDir, '.probe-real');
    const aliceDir = path.join(sandbox.tokensDir, 'alice');
    let swapping = true;
    let swaps = 0;
    const swapper = (async () => {
      while (swapping) {
        await rename(skillDir, realDir);
        await symlink(aliceDir, skillDir);
        await new Promise((resolve) => setImmediate(resolve));
        await rm(skillDir);
        await rename(realDir, skillDir);
        swaps++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    const outcomes: string[] = [];
    try {
      for (let attempt = 0; attempt < 12; attempt++) {
        const runId = randomUUID();
        try {
          const result = await sandbox.runner.run({ skill: 'probe', owner: 'main', runId });
          outcomes.push(`exit ${result.exitCode}: ${sandbox.stdout(runId).join(' | ')}`);
        } catch (error) {
          outcomes.push(`refused: ${(error as { code?: string }).code}`);
        }
      }
    } finally {
      swapping = false;
      await swapper;
    }

    const everything = JSON.stringify(sandbox.events) + outcomes.join('\n');
    expect(swaps).toBeGreaterThan(12);
    expect(everything).not.toContain(ALICE_TOKEN);
    expect(everything).not.toContain(Buffer.from(ALICE_TOKEN).toString('base64').slice(0, 24));
    // Every run that started saw its own probe and nothing else.
    const started = outcomes.filter((each) => each.startsWith('exit'));
    for (const outcome of started) {
      const names = outcome
        .replace(/^exit 0: /, '')
        .split(' | ')
        .map((line) => line.split(' ')[0]);
      expect(names.sort()).toEqual(['notes.txt', 'skill.yaml']);
    }
    // Runs either started with their own files or were refused as they found the link.
    expect(outcomes.filter((each) => !each.startsWith('exit'))).toEqual(
      outcomes.filter((each) => each.startsWith('refused')),
    );
  }, 300_000);
});
