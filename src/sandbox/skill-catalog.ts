import { constants, type Dirent, type Stats } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '../errors.js';
import { SKILL_NAME_PATTERN, validateSkillName } from '../names.js';
import { InvalidManifestError, UnknownSkillError } from './sandbox-errors.js';
import type { SkillLimits } from '../config/skill-limits.js';
import { checkSkillLimits, parseSkillManifest, type SkillManifest } from './skill-manifest.js';

export const MANIFEST_FILE = 'skill.yaml';
/** A manifest is a few lines; anything this big is a mistake or an attack, and is not read. */
export const MAX_MANIFEST_BYTES = 64 * 1024;
// No symlink (O_NOFOLLOW), and a FIFO must not block the open (O_NONBLOCK): it is refused after fstat.
const OPEN_MANIFEST = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The manifest's text, or why it cannot be one: only a regular file of at most the cap is read. */
async function readManifest(file: string, signal?: AbortSignal): Promise<string | { problem: string }> {
  let handle;
  try {
    handle = await open(file, OPEN_MANIFEST);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      return { problem: '(file): is not a regular file (a symbolic link); write the manifest in place' };
    }
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { problem: '(file): is not a regular file' };
    if (info.size > MAX_MANIFEST_BYTES) {
      return { problem: `(file): is larger than ${MAX_MANIFEST_BYTES / 1024} KiB` };
    }
    signal?.throwIfAborted();
    // Read no more than the cap, even if the file grew since fstat.
    const buffer = Buffer.alloc(MAX_MANIFEST_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_MANIFEST_BYTES) {
      return { problem: `(file): is larger than ${MAX_MANIFEST_BYTES / 1024} KiB` };
    }
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
/** A skill folder that is a symbolic link: Docker would mount whatever it points to on the host. */
export const SKILL_FOLDER_SYMLINK = 'SKILL_FOLDER_SYMLINK';

/** A skill found on disk: its manifest and where it lives. */
export interface Skill extends SkillManifest {
  directory: string;
  manifestPath: string;
}

/** A skill folder whose manifest cannot be used; `problems` are `path: message` lines. */
export interface SkillProblem {
  skill: string;
  file: string;
  code: string;
  problems: string[];
}

export type ReloadOutcome =
  | { status: 'loaded'; skill: Skill }
  | { status: 'removed' }
  /** The new manifest is invalid; the previous version (if any) stays in use. */
  | { status: 'invalid'; problem: SkillProblem; kept: Skill | null };

function isSkillFolderName(name: string): boolean {
  return SKILL_NAME_PATTERN.test(name) && name !== '.' && name !== '..';
}

/**
 * The skills in `skills/*\/skill.yaml`. A manifest that turns invalid on reload never replaces a good
 * one: runs keep using the last valid version and the problem is reported until it is fixed.
 */
export class SkillCatalog {
  readonly #skills = new Map<string, Skill>();
  readonly #problems = new Map<string, SkillProblem>();

  readonly #limits: SkillLimits | null;

  /** With `limits`, a manifest asking for more than the operator's maximums is invalid. */
  constructor(
    readonly skillsDir: string,
    options: { limits?: SkillLimits } = {},
  ) {
    this.#limits = options.limits ?? null;
  }

  /** Reads every skill folder once; a missing skills folder is an empty catalog. */
  static async load(
    skillsDir: string,
    signal?: AbortSignal,
    options: { limits?: SkillLimits } = {},
  ): Promise<SkillCatalog> {
    const catalog = new SkillCatalog(skillsDir, options);
    await catalog.reloadAll(signal);
    return catalog;
  }

  async reloadAll(signal?: AbortSignal): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.skillsDir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      entries = [];
    }
    // Symbolic links are listed too, so that they are refused out loud rather than skipped.
    const names = entries
      .filter((entry) => (entry.isDirectory() || entry.isSymbolicLink()) && isSkillFolderName(entry.name))
      .map((entry) => entry.name);
    for (const name of [...this.#skills.keys(), ...this.#problems.keys()]) {
      if (!names.includes(name)) this.remove(name);
    }
    for (const name of names) await this.reload(name, signal);
  }

  /** Valid skills, by name. */
  list(): Skill[] {
    return [...this.#skills.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Skill folders whose manifest is invalid right now. */
  problems(): SkillProblem[] {
    return [...this.#problems.values()].sort((a, b) => a.skill.localeCompare(b.skill));
  }

  find(name: string): Skill | undefined {
    return this.#skills.get(name);
  }

  /** The skill, or `UnknownSkillError` (saying why when its manifest is invalid). */
  get(name: string): Skill {
    validateSkillName(name);
    const skill = this.#skills.get(name);
    if (skill) return skill;
    const problem = this.#problems.get(name);
    throw new UnknownSkillError(
      name,
      problem ? `: ${problem.file} is invalid:\n  ${problem.problems.join('\n  ')}` : ` in ${this.skillsDir}`,
    );
  }

  /**
   * Re-reads one skill's manifest (the skills watcher calls this when its folder changes). A skill
   * folder that is a symbolic link is refused, and a skill loaded from that path before is dropped:
   * its folder is bind-mounted, and Docker would follow the link on the host.
   */
  async reload(name: string, signal?: AbortSignal): Promise<ReloadOutcome> {
    validateSkillName(name);
    const directory = path.join(this.skillsDir, name);
    const manifestPath = path.join(directory, MANIFEST_FILE);
    let folder: Stats;
    try {
      folder = await lstat(directory);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.remove(name);
        return { status: 'removed' };
      }
      return this.#invalid(name, directory, describeError(error).code, [
        `(folder): cannot read it (${code ?? 'unknown error'})`,
      ]);
    }
    if (folder.isSymbolicLink()) {
      this.#skills.delete(name);
      return this.#invalid(name, directory, SKILL_FOLDER_SYMLINK, [
        '(folder): is a symbolic link; a skill folder must be a real folder under the skills folder ' +
          '(copy the skill there instead of linking it)',
      ]);
    }
    if (!folder.isDirectory()) {
      this.remove(name);
      return { status: 'removed' };
    }
    let text: string;
    try {
      const read = await readManifest(manifestPath, signal);
      if (typeof read !== 'string') {
        return this.#invalid(name, manifestPath, 'INVALID_MANIFEST', [read.problem]);
      }
      text = read;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.remove(name);
        return { status: 'removed' };
      }
      return this.#invalid(name, manifestPath, describeError(error).code, [
        `(file): cannot read it (${code ?? 'unknown error'})`,
      ]);
    }
    try {
      const manifest = parseSkillManifest(text, { file: manifestPath, folderName: name });
      const overLimits = this.#limits ? checkSkillLimits(manifest, this.#limits) : [];
      if (overLimits.length > 0) return this.#invalid(name, manifestPath, 'INVALID_MANIFEST', overLimits);
      const skill: Skill = { ...manifest, directory, manifestPath };
      this.#skills.set(name, skill);
      this.#problems.delete(name);
      return { status: 'loaded', skill };
    } catch (error) {
      if (error instanceof InvalidManifestError) {
        return this.#invalid(name, manifestPath, error.code, [...error.problems]);
      }
      // Whatever else goes wrong with one manifest stays that skill's problem.
      return this.#invalid(name, manifestPath, describeError(error).code, [
        `(file): ${describeError(error).message}`,
      ]);
    }
  }

  /** Forgets a skill whose folder is gone. */
  remove(name: string): boolean {
    const had = this.#skills.delete(name);
    return this.#problems.delete(name) || had;
  }

  #invalid(name: string, file: string, code: string, problems: string[]): ReloadOutcome {
    const problem: SkillProblem = { skill: name, file, code, problems };
    this.#problems.set(name, problem);
    return { status: 'invalid', problem, kept: this.#skills.get(name) ?? null };
  }
}
