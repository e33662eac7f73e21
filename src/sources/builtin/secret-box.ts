import { createCipheriv, createDecipheriv, createHmac, randomFillSync } from 'node:crypto';

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';

/** IVs drawn from the system's CSPRNG this many at a time: one system call per batch, not per value. */
const IVS_PER_DRAW = 128;

/** Fresh random IVs, taken in turn from a buffer refilled from the CSPRNG once it is used up. */
class RandomIvs {
  readonly #pool = Buffer.alloc(IV_BYTES * IVS_PER_DRAW);
  #next = this.#pool.length;

  take(): Buffer {
    if (this.#next === this.#pool.length) {
      randomFillSync(this.#pool);
      this.#next = 0;
    }
    // A copy: the pool's bytes are overwritten at the next draw.
    const iv = Buffer.from(this.#pool.subarray(this.#next, this.#next + IV_BYTES));
    this.#next += IV_BYTES;
    return iv;
  }
}

/** A sealed value could not be opened: another key, or the bytes were changed. */
export class SecretBoxOpenError extends Error {
  override name = 'SecretBoxOpenError';
}

/**
 * AES-256-GCM with a random 12-byte IV per value. The associated data binds a ciphertext to where
 * it belongs (owner, provider, field), so a value moved to another grant or field fails to open.
 * The key lives in a private field: logging or serialising a box never shows it.
 */
export class SecretBox {
  readonly #key: Buffer;
  readonly #ivs = new RandomIvs();
  /** A public fingerprint of the key, stored beside ciphertexts to tell "wrong key" from "damaged". */
  readonly keyId: string;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) throw new RangeError(`expected a ${KEY_BYTES}-byte key`);
    this.#key = Buffer.from(key);
    this.keyId = createHmac('sha256', this.#key)
      .update('nanoclaw credential store key id')
      .digest('hex')
      .slice(0, 16);
  }

  /** `v1.<iv>.<ciphertext>.<tag>`, each part base64url. */
  seal(plaintext: string, associatedData: string): string {
    const iv = this.#ivs.take();
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, iv, ciphertext, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  open(sealed: string, associatedData: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== FORMAT) throw new SecretBoxOpenError('not a sealed value');
    const [iv, ciphertext, tag] = parts.slice(1).map((part) => Buffer.from(part, 'base64url')) as [
      Buffer,
      Buffer,
      Buffer,
    ];
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES)
      throw new SecretBoxOpenError('not a sealed value');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxOpenError('authentication failed');
    }
  }

  toJSON(): { keyId: string } {
    return { keyId: this.keyId };
  }
}
