import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxOpenError } from '../../../../src/sources/builtin/secret-box.js';

describe('SecretBox (AES-256-GCM)', () => {
  const box = new SecretBox(randomBytes(32));

  it('opens what it sealed, with a new IV every time', () => {
    const first = box.seal('access-token-value', 'alice/demo/access_token');
    const second = box.seal('access-token-value', 'alice/demo/access_token');
    expect(first).not.toBe(second);
    expect(first).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(first).not.toContain('access-token-value');
    expect(box.open(first, 'alice/demo/access_token')).toBe('access-token-value');
    expect(box.open(second, 'alice/demo/access_token')).toBe('access-token-value');
  });

  it('never uses an IV twice, across many draws from the random source, and each still opens', () => {
    const sealed = Array.from({ length: 1_000 }, (_, index) => box.seal(`value-${index}`, 'alice/demo/x'));
    const ivs = new Set(sealed.map((value) => value.split('.')[1]));
    expect(ivs.size).toBe(sealed.length);
    // Every value opens after later seals drew new IVs (none shares bytes the pool overwrote).
    sealed.forEach((value, index) => expect(box.open(value, 'alice/demo/x')).toBe(`value-${index}`));
  });

  it('refuses another key, other associated data and changed bytes', () => {
    const sealed = box.seal('secret', 'alice/demo/refresh_token');
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'alice/demo/refresh_token')).toThrow(
      SecretBoxOpenError,
    );
    expect(() => box.open(sealed, 'bob/demo/refresh_token')).toThrow(SecretBoxOpenError);
    const parts = sealed.split('.');
    const ciphertext = Buffer.from(parts[2]!, 'base64url');
    ciphertext[0]! ^= 0x80;
    parts[2] = ciphertext.toString('base64url');
    expect(() => box.open(parts.join('.'), 'alice/demo/refresh_token')).toThrow(SecretBoxOpenError);
    expect(() => box.open('v2.a.b.c', 'alice/demo/refresh_token')).toThrow(SecretBoxOpenError);
  });

  it('has a stable public key id and never shows the key', () => {
    const key = randomBytes(32);
    expect(new SecretBox(key).keyId).toBe(new SecretBox(key).keyId);
    expect(new SecretBox(key).keyId).not.toBe(new SecretBox(randomBytes(32)).keyId);
    const shown = `${JSON.stringify(new SecretBox(key))} ${String(new SecretBox(key))}`;
    expect(shown).not.toContain(key.toString('base64'));
    expect(shown).not.toContain(key.toString('hex'));
    expect(() => new SecretBox(randomBytes(16))).toThrow(RangeError);
  });
});
