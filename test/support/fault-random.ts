import { randomInt } from 'node:crypto';

/** A seeded generator (mulberry32): a fault test prints its seed, and a failure replays with it. */
export interface SeededRandom {
  readonly seed: number;
  /** In [0, 1). */
  next(): number;
  /** A whole number in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  bytes(length: number): Buffer;
}

/** `FAULT_SEED` from the environment replays a run; otherwise a fresh seed. */
export function seededRandom(
  seed: number = Number(process.env.FAULT_SEED) || randomInt(1, 2 ** 31),
): SeededRandom {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    seed,
    next,
    int,
    pick: (items) => items[int(0, items.length - 1)]!,
    bytes: (length) => {
      const buffer = Buffer.allocUnsafe(length);
      for (let index = 0; index < length; index += 4) {
        const word = (next() * 4294967296) >>> 0;
        for (let shift = 0; shift < 4 && index + shift < length; shift++) {
          buffer[index + shift] = (word >>> (shift * 8)) & 0xff;
        }
      }
      return buffer;
    },
  };
}
