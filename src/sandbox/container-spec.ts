import type { ContainerSpec } from './container-runtime.js';
import {
  formatDeadline,
  LABEL_DEADLINE,
  LABEL_HOST,
  LABEL_INSTANCE,
  LABEL_MANAGED,
  LABEL_OWNER,
  LABEL_PID,
  LABEL_RUN_ID,
  LABEL_SKILL,
  type ContainerOwnerProcess,
} from './container-labels.js';
import type { SkillManifest } from './skill-manifest.js';

/** The skill image's unprivileged user; Dockerfile.skill creates it. */
export const SKILL_UID = 10001;
export const SKILL_GID = 10001;
/** Root's group: never handed to a skill, whatever group owns its token folder. */
export const ROOT_GID = 0;
export const TOKENS_MOUNT = '/workspace/tokens';
export const SKILLS_MOUNT_ROOT = '/opt/nanoclaw/skills';
export const TMP_OPTIONS = 'rw,noexec,nosuid,size=64m';

export interface ContainerSpecInput {
  manifest: SkillManifest;
  image: string;
  owner: string;
  runId: string;
  args: readonly string[];
  /**
   * The launch's token view (only the declared providers' files of this owner): mounted whole,
   * read-only; never single files.
   */
  tokensDir: string;
  /**
   * The snapshot of the skill's files nanoclaw wrote (see SkillSnapshots), in a folder only it can
   * change: mounted whole, read-only, at the skill's mount point.
   */
  skillFilesDir: string;
  /** Group that owns the token view; added to the user unless it is the skill's own or root's. */
  tokenFolderGid: number | null;
  /** The host's setting: `none` puts every container on no network whatever the manifest says. */
  hostNetwork: 'manifest' | 'none';
  /** The operator's CPU cap for every skill container; null for none. */
  cpus?: number | null;
  process: ContainerOwnerProcess;
  /** When the run must be over, in milliseconds since the epoch: past it, anyone may reap the container. */
  deadline: number;
}

/** Where a skill's files are in its container. */
export function skillMountOf(skill: string): string {
  return `${SKILLS_MOUNT_ROOT}/${skill}`;
}

/** The hardened container for one run of one skill for one owner. Pure: tests read the result. */
export function buildContainerSpec(input: ContainerSpecInput): ContainerSpec {
  const { manifest } = input;
  const gid = input.tokenFolderGid;
  const groupAdd = gid !== null && gid !== SKILL_GID && gid !== ROOT_GID ? [String(gid)] : [];
  return {
    image: input.image,
    command: [...manifest.command, ...input.args],
    env: {
      NANOCLAW_OWNER: input.owner,
      NANOCLAW_SKILL: manifest.name,
      NANOCLAW_TOKENS_DIR: TOKENS_MOUNT,
    },
    user: `${SKILL_UID}:${SKILL_GID}`,
    groupAdd,
    workingDir: '/workspace',
    labels: {
      [LABEL_MANAGED]: 'true',
      [LABEL_SKILL]: manifest.name,
      [LABEL_OWNER]: input.owner,
      [LABEL_RUN_ID]: input.runId,
      [LABEL_HOST]: input.process.host,
      [LABEL_PID]: String(input.process.pid),
      [LABEL_INSTANCE]: input.process.instance,
      [LABEL_DEADLINE]: formatDeadline(input.deadline),
    },
    // Only folders nanoclaw owns are bound from the host: the token view and the snapshot of the
    // skill's files. A bind of the skill folder itself would be resolved by Docker at start, after
    // any check of ours, and a skill author could swap it for a symlink in between.
    mounts: [
      { source: input.tokensDir, target: TOKENS_MOUNT, readOnly: true },
      { source: input.skillFilesDir, target: skillMountOf(manifest.name), readOnly: true },
    ],
    tmpfs: { '/tmp': TMP_OPTIONS },
    readonlyRootfs: true,
    capDrop: ['ALL'],
    securityOpt: ['no-new-privileges'],
    memoryBytes: manifest.memoryBytes,
    pidsLimit: manifest.pidsLimit,
    nanoCpus: input.cpus ? Math.round(input.cpus * 1e9) : 0,
    networkMode: input.hostNetwork === 'none' ? 'none' : manifest.network,
    init: true,
  };
}
