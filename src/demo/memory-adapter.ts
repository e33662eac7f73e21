import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

/** Models whose records die with their grant (a revoked or replayed grant takes every token along). */
const GRANT_BOUND_MODELS = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

/** Expired records are swept after this many writes, so a long demo does not grow without bound. */
const SWEEP_EVERY_WRITES = 200;

interface Entry {
  payload: AdapterPayload;
  expiresAt: number;
}

/**
 * In-memory state of one demo OAuth server. oidc-provider's own memory adapter keeps a module-wide
 * store shared by every server in the process; two demo servers (or tests) must not see each other's tokens.
 */
class DemoStorage {
  readonly entries = new Map<string, Entry>();
  readonly grantMembers = new Map<string, Set<string>>();
  readonly keyByUid = new Map<string, string>();
  readonly keyByUserCode = new Map<string, string>();
  #writes = 0;

  get(key: string, now: number): AdapterPayload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.delete(key);
      return undefined;
    }
    return structuredClone(entry.payload);
  }

  set(key: string, payload: AdapterPayload, expiresAt: number, now: number): void {
    this.entries.set(key, { payload: structuredClone(payload), expiresAt });
    if (++this.#writes % SWEEP_EVERY_WRITES === 0) this.#sweep(now);
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    this.entries.delete(key);
    if (!entry) return;
    const { uid, userCode, grantId } = entry.payload;
    if (uid && this.keyByUid.get(uid) === key) this.keyByUid.delete(uid);
    if (userCode && this.keyByUserCode.get(userCode) === key) this.keyByUserCode.delete(userCode);
    if (grantId) this.grantMembers.get(grantId)?.delete(key);
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.delete(key);
    for (const [grantId, members] of this.grantMembers)
      if (members.size === 0) this.grantMembers.delete(grantId);
  }
}

class DemoMemoryAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly storage: DemoStorage,
  ) {}

  #key(id: string): string {
    return `${this.model}:${id}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const now = Date.now();
    const key = this.#key(id);
    const expiresAt = typeof expiresIn === 'number' ? now + expiresIn * 1000 : Number.POSITIVE_INFINITY;
    this.storage.set(key, payload, expiresAt, now);
    if (payload.grantId && GRANT_BOUND_MODELS.has(this.model)) {
      const members = this.storage.grantMembers.get(payload.grantId) ?? new Set<string>();
      members.add(key);
      this.storage.grantMembers.set(payload.grantId, members);
    }
    if (payload.uid) this.storage.keyByUid.set(payload.uid, key);
    if (payload.userCode) this.storage.keyByUserCode.set(payload.userCode, key);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.storage.get(this.#key(id), Date.now());
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const key = this.storage.keyByUid.get(uid);
    return key ? this.storage.get(key, Date.now()) : undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const key = this.storage.keyByUserCode.get(userCode);
    return key ? this.storage.get(key, Date.now()) : undefined;
  }

  async consume(id: string): Promise<void> {
    const entry = this.storage.entries.get(this.#key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.storage.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const key of [...(this.storage.grantMembers.get(grantId) ?? [])]) this.storage.delete(key);
    this.storage.grantMembers.delete(grantId);
  }
}

/** An oidc-provider adapter whose records live in this server's memory only (lost on restart). */
export function createMemoryAdapterFactory(): AdapterFactory {
  const storage = new DemoStorage();
  return (model) => new DemoMemoryAdapter(model, storage);
}
