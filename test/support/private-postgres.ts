import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './multi-host.js';
import { recordSecret } from './secret-scan.js';

const run = promisify(execFile);
const START_SCRIPT = fileURLToPath(new URL('../../scripts/start-postgres.sh', import.meta.url));

/** The newest installed PostgreSQL's bin folder (Debian's layout), or null. */
async function postgresBin(): Promise<string | null> {
  try {
    const versions = (await readdir('/usr/lib/postgresql')).sort((a, b) => Number(a) - Number(b));
    return versions.length > 0 ? path.join('/usr/lib/postgresql', versions.at(-1)!, 'bin') : null;
  } catch {
    return null;
  }
}

/**
 * A PostgreSQL server of one test's own (scripts/start-postgres.sh on a folder and port of its own),
 * so the test can stop and start it without disturbing the others. Only as root (the server then runs
 * as the postgres user); elsewhere, or without PostgreSQL installed, `start` throws.
 */
export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly url: string,
    readonly bin: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const bin = await postgresBin();
    if (bin === null) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql)');
    if (process.getuid?.() !== 0)
      throw new Error('a private PostgreSQL server needs root (to run it as postgres)');
    const dir = await mkdtemp('/var/tmp/nanoclaw-pg-');
    const port = await freePort();
    await run('bash', [START_SCRIPT], {
      env: { ...process.env, NANOCLAW_PG_DIR: dir, NANOCLAW_PG_PORT: String(port) },
    });
    const url = (await readFile(path.join(dir, 'url'), 'utf8')).trim();
    recordSecret(new URL(url).password);
    return new PrivatePostgres(dir, port, url, bin);
  }

  /** Stops the server (fast shutdown: connections are cut, as when a database host goes away). */
  async stop(): Promise<void> {
    await run('runuser', [
      '-u',
      'postgres',
      '--',
      path.join(this.bin, 'pg_ctl'),
      '-D',
      path.join(this.dir, 'data'),
      '-m',
      'fast',
      '-w',
      'stop',
    ]);
  }

  /** Starts it again on the same port. */
  async resume(): Promise<void> {
    await run('bash', [START_SCRIPT], {
      env: { ...process.env, NANOCLAW_PG_DIR: this.dir, NANOCLAW_PG_PORT: String(this.port) },
    });
  }

  async dispose(): Promise<void> {
    await this.stop().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}
