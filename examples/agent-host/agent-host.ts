/**
 * An agent host that runs its own containers, as NanoClaw's container runner does, and adopts
 * nanoclaw at its launch point: one `prepareLaunch` before the container starts, its mount added to
 * the host's own, and the container's output fed to `watchOutput` while it runs.
 *
 *   NANOCLAW_CONFIG=nanoclaw.config.yaml node agent-host.js --owner alice --provider github --image my-agent
 */
import { parseArgs } from 'node:util';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { createNanoclaw } from 'nanoclaw';

const { values } = parseArgs({
  options: {
    owner: { type: 'string', default: 'main' },
    provider: { type: 'string', multiple: true, default: [] },
    image: { type: 'string', default: 'python:3.12-slim' },
  },
});
const owner = values.owner;
const providers = values.provider;

// The host's agent: waits for its token, asks for it once while it has none, then uses it.
const AGENT_PROGRAM = `
import os, sys, time
tokens = os.environ["NANOCLAW_TOKENS_DIR"]
providers = sys.argv[1:]
asked = set()
deadline = time.time() + 120
while time.time() < deadline:
    missing = [p for p in providers if not os.path.exists(os.path.join(tokens, p + ".json"))]
    for p in missing:
        if p not in asked:
            print("AUTH_REQUIRED:" + p, flush=True)
            asked.add(p)
    if not missing:
        print("agent: tokens ready for " + ",".join(providers), flush=True)
        sys.exit(0)
    time.sleep(0.2)
print("agent: gave up waiting for authorization", flush=True)
sys.exit(1)
`;

await using nanoclaw = await createNanoclaw();
nanoclaw.events.on('auth_required', (prompt) => {
  console.log(
    `[host] ${prompt.owner} must authorize ${prompt.provider}: ${prompt.connectUrl ?? '(open the nanoclaw page)'}`,
  );
});

// 1. Before the launch: fresh tokens for the declared providers, and where to mount them.
const launch = await nanoclaw.prepareLaunch({ owner, providers });
for (const token of launch.tokens) console.log(`[host] ${token.provider}: ${token.state}`);

// 2. The host's own container, with nanoclaw's read-only token mount beside the host's own mounts.
const docker = new Docker();
const container = await docker.createContainer({
  Image: values.image,
  Cmd: ['python3', '-c', AGENT_PROGRAM, ...launch.providers],
  Env: Object.entries(launch.env).map(([name, value]) => `${name}=${value}`),
  // Token files are readable by the skills' group (10001 unless sandbox.tokenGroup says otherwise).
  User: '10001:10001',
  Labels: { 'agent-host.owner': owner },
  HostConfig: {
    Mounts: [
      {
        Type: 'bind',
        Source: launch.mount.hostPath,
        Target: launch.mount.containerPath,
        ReadOnly: launch.mount.readOnly,
      },
    ],
    Tmpfs: { '/tmp': 'rw,noexec,nosuid,size=16m' },
    NetworkMode: 'none',
    ReadonlyRootfs: true,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
  },
});

// 3. While it runs: its output goes to the host's log and through nanoclaw's watch.
const watch = nanoclaw.watchOutput({ owner, providers: launch.providers, skill: 'agent' });
const stdout = new PassThrough();
const stderr = new PassThrough();
stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  watch.write(chunk, 'stdout');
});
stderr.on('data', (chunk: Buffer) => {
  process.stderr.write(chunk);
  watch.write(chunk, 'stderr');
});
const stream = await container.attach({ stream: true, stdout: true, stderr: true });
container.modem.demuxStream(stream, stdout, stderr);
await container.start();
console.log('[host] agent started');

const { StatusCode } = (await container.wait()) as { StatusCode: number };
watch.end();
await watch.settled();
await container.remove({ force: true });
console.log(`[host] agent exited with ${StatusCode}`);
process.exitCode = StatusCode;
