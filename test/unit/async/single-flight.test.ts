import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../../src/async/single-flight.js';

describe('SingleFlight', () => {
  it('runs the work once for callers that ask while it is in flight', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    let release!: (value: number) => void;
    const work = () => {
      runs++;
      return new Promise<number>((resolve) => (release = resolve));
    };
    const callers = Array.from({ length: 20 }, () => flight.run('a', work));
    expect(flight.size).toBe(1);
    release(7);
    expect(await Promise.all(callers)).toEqual(Array(20).fill(7));
    expect(runs).toBe(1);
    expect(flight.size).toBe(0);
  });

  it('keeps keys apart and runs again once the first call settled', async () => {
    const flight = new SingleFlight<string>();
    let runs = 0;
    const work = async () => `run-${++runs}`;
    expect(await Promise.all([flight.run('a', work), flight.run('b', work)])).toEqual(['run-1', 'run-2']);
    expect(await flight.run('a', work)).toBe('run-3');
  });

  it('shares a failure and forgets it', async () => {
    const flight = new SingleFlight<string>();
    const failing = () => Promise.reject(new Error('boom'));
    await expect(Promise.all([flight.run('a', failing), flight.run('a', failing)])).rejects.toThrow('boom');
    expect(flight.size).toBe(0);
    expect(await flight.run('a', async () => 'ok')).toBe('ok');
  });
});
