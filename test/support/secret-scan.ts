import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * The secret scan's shared parts: where a test run's captures live, the per-process writer the
 * setup file feeds, and the scanner the global teardown runs. See secret-scan-setup.ts for the
 * whole design.
 */

/** The run folder, set by the global setup and inherited by every test worker. */
export const SECRET_SCAN_DIR_ENV = 'NANOCLAW_SECRET_SCAN_DIR';

/** Shorter values (`access-1` in unit tests) are fixtures, not secrets, and would match by chance. */
export const MIN_SECRET_LENGTH = 12;

/** Characters the generated secrets are made of (base64url, hex, JWTs, URL-safe keys). */
const SECRET_ALPHABET = /^[A-Za-z0-9._~+/=-]+$/;
/** Runs of those characters in captured text: a secret can only sit inside one of them. */
const SECRET_ALPHABET_RUNS = /[A-Za-z0-9._~+/=-]{12,}/g;
/** How many trailing characters of a secret index it. */
const KEY_LENGTH = MIN_SECRET_LENGTH;

export const CAPTURE_PREFIX = 'capture-';
export const SECRETS_PREFIX = 'secrets-';

/** One captured piece of output: an event, a log line, or a line a child process wrote. */
export interface CaptureRecord {
  /** The test file that was running. */
  test: string;
  /** `event`, `log`, or `child <command> stdout|stderr`. */
  kind: string;
  text: string;
}

/** A secret found in captured output, described without the secret itself. */
export interface Leak {
  file: string;
  line: number;
  test: string;
  kind: string;
  /** `sha256:<first 12 hex digits>` of the secret and its length. */
  secret: string;
}

/** What a scan looked at. */
export interface ScanReport {
  secrets: number;
  records: number;
  bytes: number;
  captureFiles: number;
  leaks: Leak[];
}

/** A secret as a report may name it: a hash prefix and the length, never the value. */
export function describeSecret(secret: string): string {
  return `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 12)} (${secret.length} chars)`;
}

/**
 * Finds any of many secrets in text in one pass: secrets are indexed by their last characters, and
 * only windows inside runs of secret characters are looked up.
 */
export class SecretMatcher {
  readonly #byKey = new Map<string, string[]>();
  /** Secrets with characters outside the alphabet: checked with a plain search. */
  readonly #odd: string[] = [];
  readonly size: number;

  constructor(secrets: Iterable<string>) {
    let size = 0;
    for (const secret of new Set(secrets)) {
      if (secret.length < MIN_SECRET_LENGTH) continue;
      size++;
      if (!SECRET_ALPHABET.test(secret)) {
        this.#odd.push(secret);
        continue;
      }
      const key = secret.slice(-KEY_LENGTH);
      const bucket = this.#byKey.get(key);
      if (bucket) bucket.push(secret);
      else this.#byKey.set(key, [secret]);
    }
    this.size = size;
  }

  /** The secrets that occur in `text`. */
  find(text: string): string[] {
    const found = new Set<string>();
    for (const secret of this.#odd) if (text.includes(secret)) found.add(secret);
    if (this.#byKey.size === 0) return [...found];
    for (const match of text.matchAll(SECRET_ALPHABET_RUNS)) {
      const run = match[0];
      for (let end = KEY_LENGTH; end <= run.length; end++) {
        const bucket = this.#byKey.get(run.slice(end - KEY_LENGTH, end));
        if (!bucket) continue;
        for (const secret of bucket) {
          const start = end - secret.length;
          if (start >= 0 && run.startsWith(secret, start)) found.add(secret);
        }
      }
    }
    return [...found];
  }
}

/** Reads every secret and capture file in a run folder and reports each capture line holding a secret. */
export function scanRunDirectory(dir: string): ScanReport {
  const names = readdirSync(dir).sort();
  const secrets: string[] = [];
  for (const name of names.filter((each) => each.startsWith(SECRETS_PREFIX))) {
    for (const line of readFileSync(path.join(dir, name), 'utf8').split('\n')) if (line) secrets.push(line);
  }
  const matcher = new SecretMatcher(secrets);
  const report: ScanReport = { secrets: matcher.size, records: 0, bytes: 0, captureFiles: 0, leaks: [] };
  for (const name of names.filter((each) => each.startsWith(CAPTURE_PREFIX))) {
    report.captureFiles++;
    const lines = readFileSync(path.join(dir, name), 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (line === '') return;
      report.records++;
      report.bytes += line.length;
      let record: CaptureRecord;
      try {
        record = JSON.parse(line) as CaptureRecord;
      } catch {
        // A worker killed mid-write leaves a torn last line: scan it as it is.
        record = { test: '(unknown)', kind: 'torn capture line', text: line };
      }
      for (const secret of matcher.find(record.text)) {
        report.leaks.push({
          file: name,
          line: index + 1,
          test: record.test,
          kind: record.kind,
          secret: describeSecret(secret),
        });
      }
    });
  }
  return report;
}

/** The report's leaks as lines a person can follow up. */
export function formatLeaks(dir: string, leaks: readonly Leak[], limit = 40): string {
  const lines = leaks
    .slice(0, limit)
    .map((leak) => `  ${path.join(dir, leak.file)}:${leak.line} [${leak.test}] ${leak.kind}: ${leak.secret}`);
  if (leaks.length > limit) lines.push(`  ... and ${leaks.length - limit} more`);
  return lines.join('\n');
}

/** Flushes buffered records once this much text is waiting, so capturing never holds much memory. */
const FLUSH_BYTES = 256 * 1024;

/**
 * The capture files of one process: records and secrets buffered and appended to files in the run
 * folder. Kept on `globalThis`, so every test file a worker runs shares it.
 */
export class CaptureWriter {
  readonly #captureFile: string;
  readonly #secretsFile: string;
  readonly #seenSecrets = new Set<string>();
  #records: string[] = [];
  #secrets: string[] = [];
  #bytes = 0;
  /** The test file now running, for the report. */
  currentTest = '(setup)';

  constructor(readonly dir: string) {
    const id = `${process.pid}-${randomBytes(4).toString('hex')}`;
    this.#captureFile = path.join(dir, `${CAPTURE_PREFIX}${id}.jsonl`);
    this.#secretsFile = path.join(dir, `${SECRETS_PREFIX}${id}.txt`);
  }

  record(kind: string, text: string): void {
    if (text === '') return;
    const line = `${JSON.stringify({ test: this.currentTest, kind, text } satisfies CaptureRecord)}\n`;
    this.#records.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= FLUSH_BYTES) this.flush();
  }

  secret(value: unknown): void {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || value.includes('\n')) return;
    if (this.#seenSecrets.has(value)) return;
    this.#seenSecrets.add(value);
    this.#secrets.push(`${value}\n`);
  }

  /** Appends what is buffered; synchronous, so it also works in an exit handler. */
  flush(): void {
    // Secrets first: a record on disk is never scanned without the secret it might hold.
    if (this.#secrets.length > 0) {
      this.#append(this.#secretsFile, this.#secrets.join(''));
      this.#secrets = [];
    }
    if (this.#records.length > 0) {
      this.#append(this.#captureFile, this.#records.join(''));
      this.#records = [];
      this.#bytes = 0;
    }
  }

  #append(file: string, text: string): void {
    try {
      appendFileSync(file, text, { mode: 0o600 });
    } catch (error) {
      // Someone cleaned the temp dir mid-run: capturing goes on rather than failing the test.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      appendFileSync(file, text, { mode: 0o600 });
    }
  }
}

const WRITER_KEY = Symbol.for('nanoclaw.secretScan.writer');

/** This process's writer, or null when the scan is not set up (the run did not use the global setup). */
export function captureWriter(): CaptureWriter | null {
  const holder = globalThis as { [WRITER_KEY]?: CaptureWriter | null };
  if (holder[WRITER_KEY] !== undefined) return holder[WRITER_KEY];
  const dir = process.env[SECRET_SCAN_DIR_ENV];
  const writer = dir ? new CaptureWriter(dir) : null;
  holder[WRITER_KEY] = writer;
  if (writer) process.once('exit', () => writer.flush());
  return writer;
}

/** Tells the scan about a secret a test made itself (one no hooked module hands out). */
export function recordSecret(value: string): void {
  captureWriter()?.secret(value);
}
