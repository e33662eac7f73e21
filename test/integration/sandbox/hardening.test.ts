import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerForTests } from '../../support/docker.js';
import { FakeNangoServer } from '../../support/fake-nango-server.js';
import { SkillSandbox, tokenFingerprint } from '../../support/skill-sandbox.js';

const docker = await dockerForTests();

/** Looks at its own container from inside and prints what it finds as one JSON line. */
const PROBE = String.raw`
import errno, hashlib, json, os, subprocess

def attempt_write(path):
    try:
        with open(path, "w") as handle:
            handle.write("x")
        return "written"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))

def attempt_exec(path):
    try:
        with open(path, "w") as handle:
            handle.write("#!/bin/sh\necho ran\n")
        os.chmod(path, 0o755)
        subprocess.run([path], check=True, capture_output=True)
        return "ran"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))

status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
mounts = {}
for line in open("/proc/self/mountinfo"):
    fields = line.split()
    mounts[fields[4]] = {"root": fields[3], "options": fields[5].split(",")}

token_path = "/workspace/tokens/google-calendar.json"
fingerprint = None
if os.access(token_path, os.R_OK):
    token = json.load(open(token_path))["access_token"]
    fingerprint = hashlib.sha256(token.encode()).hexdigest()[:16]

print(json.dumps({
    "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
    "capEff": status["CapEff"].strip(), "capPrm": status["CapPrm"].strip(),
    "capBnd": status["CapBnd"].strip(),
    "noNewPrivs": status["NoNewPrivs"].strip(),
    "writes": {
        "rootfs": attempt_write("/probe"),
        "workspace": attempt_write("/workspace/probe"),
        "tokenFile": attempt_write(token_path),
        "tokensFolder": attempt_write("/workspace/tokens/new.json"),
        "skillFolder": attempt_write("/opt/nanoclaw/skills/probe/new.py"),
        "tmp": attempt_write("/tmp/probe"),
    },
    "tmpExec": attempt_exec("/tmp/probe.sh"),
    "tokens": sorted(os.listdir("/workspace/tokens")),
    "tokenFingerprint": fingerprint,
    "mounts": {point: mounts.get(point) for point in ["/", "/workspace/tokens", "/opt/nanoclaw/skills/probe", "/tmp"]},
    "env": {key: value for key, value in os.environ.items() if key.startswith("NANOCLAW_")},
    "interfaces": sorted(os.listdir("/sys/class/net")),
}))
`;

interface ProbeReport {
  uid: number;
  euid: number;
  gid: number;
  groups: number[];
  capEff: string;
  capPrm: string;
  capBnd: string;
  noNewPrivs: string;
  writes: Record<string, string>;
  tmpExec: string;
  tokens: string[];
  tokenFingerprint: string | null;
  mounts: Record<string, { root: string; options: string[] } | null>;
  env: Record<string, string>;
  interfaces: string[];
}

describe.skipIf(!docker.available)('container hardening, seen from inside a real container', () => {
  let nango: FakeNangoServer;
  let sandbox: SkillSandbox;
  let report: ProbeReport;
  const aliceToken = 'alice-token-value-0123456789';
  const bobToken = 'bob-token-value-9876543210';

  beforeAll(async () => {
    if (!docker.available) return;
    nango = await FakeNangoServer.start();
    sandbox = await SkillSandbox.create({
      nango,
      containers: docker.containers,
      providers: [{ name: 'google-calendar' }, { name: 'github' }],
      skills: {
        probe: {
          manifest: {
            command: ['python3', '/opt/nanoclaw/skills/probe/probe.py'],
            providers: [{ name: 'google-calendar' }],
            // Asks for a network; the host setting (none, as in CI) wins.
            network: 'bridge',
            memory: '64m',
            pids: 32,
          },
          files: { 'probe.py': PROBE },
        },
      },
    });
    await sandbox.writeToken('alice', 'google-calendar', aliceToken);
    await sandbox.writeToken('bob', 'google-calendar', bobToken);
    // Alice's token of a provider the skill does not declare.
    await sandbox.writeToken('alice', 'github', 'alice-github-token-value-0123');
    const result = await sandbox.runner.run({ skill: 'probe', owner: 'alice' });
    expect(result).toMatchObject({ exitCode: 0, reason: 'exited' });
    const [line] = sandbox.stdout(result.runId);
    report = JSON.parse(line ?? 'null') as ProbeReport;
  });

  afterAll(async () => {
    await sandbox?.close();
    await nango?.close();
  });

  it('runs as the unprivileged skill user, never root', () => {
    expect(report.uid).toBe(10001);
    expect(report.euid).toBe(10001);
    expect(report.gid).toBe(10001);
    expect(report.uid).not.toBe(0);
  });

  it('has no capabilities and cannot gain privileges', () => {
    expect(BigInt(`0x${report.capEff}`)).toBe(0n);
    expect(BigInt(`0x${report.capPrm}`)).toBe(0n);
    // CapDrop ALL empties the bounding set: not even a setuid binary could bring one back.
    expect(BigInt(`0x${report.capBnd}`)).toBe(0n);
    expect(report.noNewPrivs).toBe('1');
  });

  it('has a read-only root filesystem, token folder and skill folder, and a noexec /tmp', () => {
    expect(report.writes).toEqual({
      rootfs: 'EROFS',
      workspace: 'EROFS',
      tokenFile: 'EROFS',
      tokensFolder: 'EROFS',
      // The skill's files are nanoclaw's snapshot, bound read-only.
      skillFolder: 'EROFS',
      tmp: 'written',
    });
    expect(report.tmpExec).toBe('EACCES');
    expect(report.mounts['/']?.options).toContain('ro');
    expect(report.mounts['/workspace/tokens']?.options).toContain('ro');
    expect(report.mounts['/opt/nanoclaw/skills/probe']?.options).toContain('ro');
    expect(report.mounts['/opt/nanoclaw/skills/probe']?.root).toMatch(/\/data\/skill-files\/[0-9a-f]{64}$/);
    expect(report.mounts['/tmp']?.options).toEqual(expect.arrayContaining(['rw', 'nosuid', 'noexec']));
  });

  it("sees its owner's token of the declared provider only, and nothing of another owner", () => {
    // Alice's github.json exists on the host, but the skill does not declare github.
    expect(report.tokens).toEqual(['google-calendar.json']);
    expect(report.tokenFingerprint).toBe(tokenFingerprint(aliceToken));
    expect(report.tokenFingerprint).not.toBe(tokenFingerprint(bobToken));
    // The mount is a view of the owner's folder for this provider set, not the tokens root.
    expect(report.mounts['/workspace/tokens']?.root).toMatch(/\/data\/tokens\/\.views\/alice\/[0-9a-f]{24}$/);
    expect(report.env).toEqual({
      NANOCLAW_OWNER: 'alice',
      NANOCLAW_SKILL: 'probe',
      NANOCLAW_TOKENS_DIR: '/workspace/tokens',
    });
  });

  it('has no network but loopback when the host forces none', () => {
    expect(report.interfaces).toEqual(['lo']);
  });
});
