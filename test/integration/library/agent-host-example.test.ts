import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoProviderEntries } from '../../../src/demo/demo-providers.js';
import { BuiltinDaemon } from '../../support/builtin-daemon.js';
import { TSX_LOADER } from '../../support/cli.js';
import { dockerForTests, TEST_BASE_IMAGE, type DockerForTests } from '../../support/docker.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/agent-host/agent-host.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../..', import.meta.url));

let docker: DockerForTests;
let daemon: BuiltinDaemon;

beforeAll(async () => {
  docker = await dockerForTests();
  if (docker.available) daemon = await BuiltinDaemon.start();
}, 300_000);

afterAll(async () => {
  await daemon?.close();
});

/** The example as its README runs it: its own process, importing 'nanoclaw' by name. */
function startHost(
  owner: string,
  configPath: string,
): { child: ChildProcess; output: () => string; exited: Promise<number> } {
  const child = spawn(
    process.execPath,
    [
      '--conditions=nanoclaw-source',
      '--import',
      TSX_LOADER,
      EXAMPLE,
      '--owner',
      owner,
      '--provider',
      'demo',
      '--image',
      TEST_BASE_IMAGE,
    ],
    {
      cwd: REPO,
      env: {
        PATH: process.env.PATH,
        NANOCLAW_CONFIG: configPath,
        NANOCLAW_DATA_DIR: daemon.runtime.config.dataDir,
        NANOCLAW_PUBLIC_URL: daemon.url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
  return { child, output: () => output, exited };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('an agent host that runs its own container (examples/agent-host)', () => {
  it('prompts while its container runs, and the running container reads the token once the owner connects', async (context) => {
    if (!docker.available) return context.skip();
    const { docker: engine } = docker;
    const configPath = path.join(daemon.dir, 'host.config.yaml');
    await writeFile(configPath, stringify({ providers: demoProviderEntries(daemon.oauth) }));

    const host = startHost('alice', configPath);
    try {
      await waitFor(() => host.output().includes('[host] alice must authorize demo:'), 'the prompt');
      // The prompt names the daemon's sign-in link, and the container is still running then.
      expect(host.output()).toContain(`${daemon.url}/auth/oauth/demo/start?owner=alice`);
      expect(host.output()).toContain('[host] demo: needs-auth');
      expect(host.output()).not.toContain('agent exited');
      const running = await engine.listContainers({
        filters: JSON.stringify({ label: ['agent-host.owner=alice'], status: ['running'] }),
      });
      expect(running).toHaveLength(1);

      // The owner connects on the daemon; the file appears in the mount the container already has.
      expect((await daemon.connect('alice')).status).toBe(200);
      expect(await host.exited).toBe(0);
      expect(host.output()).toContain('agent: tokens ready for demo');
      expect(host.output()).toContain('[host] agent exited with 0');
    } finally {
      host.child.kill('SIGKILL');
    }
  }, 180_000);
});
