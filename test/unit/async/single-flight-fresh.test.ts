import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../../src/async/single-flight.js';

/** Work whose calls the test finishes one by one, in order. */
function controlledWork() {
  const releases: Array<(value: string) => void> = [];
  let started = 0;
  return {
    get started() {
      return started;
    },
    work: () => {
      const index = ++started;
      return new Promise<string>((resolve) => releases.push(() => resolve(`call-${index}`)));
    },
    finish: (index: number) => releases[index - 1]!(`call-${index}`),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('SingleFlight.runFresh', () => {
  it('with nothing in flight, starts one call for the fresh callers that ask together; plain ones share it', async () => {
    const flight = new SingleFlight<string>();
    const work = controlledWork();
    const fresh = [flight.runFresh('a', work.work), flight.runFresh('a', work.work)];
    const plain = flight.run('a', work.work);
    await tick();
    expect(work.started).toBe(1);
    work.finish(1);
    expect(await Promise.all([...fresh, plain])).toEqual(['call-1', 'call-1', 'call-1']);
  });

  it('does not share a fresh call that already started: the later caller gets the next one', async () => {
    const flight = new SingleFlight<string>();
    const work = controlledWork();
    const early = flight.runFresh('a', work.work);
    await tick();
    const late = flight.runFresh('a', work.work);
    work.finish(1);
    expect(await early).toBe('call-1');
    await tick();
    work.finish(2);
    expect(await late).toBe('call-2');
  });

  it('waits for the call in flight, then starts its own, shared by every fresh caller meanwhile', async () => {
    const flight = new SingleFlight<string>();
    const work = controlledWork();
    const plain = flight.run('a', work.work);
    const fresh = [flight.runFresh('a', work.work), flight.runFresh('a', work.work)];
    expect(work.started).toBe(1);

    work.finish(1);
    expect(await plain).toBe('call-1');
    await tick();
    expect(work.started).toBe(2);
    // A plain caller arriving now shares the fresh call.
    const late = flight.run('a', work.work);
    work.finish(2);
    expect(await Promise.all([...fresh, late])).toEqual(['call-2', 'call-2', 'call-2']);
    expect(flight.size).toBe(0);
  });

  it('starts the fresh call after a failed one, and idle() waits for both', async () => {
    const flight = new SingleFlight<string>();
    let calls = 0;
    const failing = flight.run('a', async () => {
      calls++;
      throw new Error('first failed');
    });
    const fresh = flight.runFresh('a', async () => `fresh-after-${++calls}`);
    await flight.idle();
    await expect(failing).rejects.toThrow('first failed');
    expect(await fresh).toBe('fresh-after-2');
    expect(flight.size).toBe(0);
  });
});
