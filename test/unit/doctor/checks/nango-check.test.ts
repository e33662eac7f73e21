import { describe, expect, it } from 'vitest';
import { checkNango } from '../../../../src/doctor/checks/nango-check.js';
import { CheckTimeoutError } from '../../../../src/doctor/with-timeout.js';

const signal = new AbortController().signal;
const SECRET = 'sk-nango-0f2b9c1e-do-not-print';
const settings = { host: 'https://admin:pw@nango.example.com' };

/** What the SDK throws: an axios error whose request config carries the key. */
function axiosError(status: number | null, body: unknown, code?: string): unknown {
  return Object.assign(new Error(status ? `Request failed with status code ${status}` : 'connect failed'), {
    isAxiosError: true,
    code,
    config: { headers: { Authorization: `Bearer ${SECRET}` } },
    response: status === null ? undefined : { status, data: body, headers: {} },
  });
}

function failingWith(error: unknown) {
  return { settings, listConnections: async () => Promise.reject(error) };
}

describe('checkNango', () => {
  it('passes when the key lists connections', async () => {
    const result = await checkNango(
      {
        settings,
        listConnections: async () => ({ connections: [{ connection_id: 'c', provider_config_key: 'g' }] }),
      },
      signal,
    );
    expect(result).toMatchObject({ name: 'nango-source', status: 'ok', fix: null });
    expect(result.message).toBe(
      'Nango at https://nango.example.com accepts the secret key (1 connections for the default owner)',
    );
  });

  it('names NANGO_SECRET_KEY when Nango answers 401, and never prints the key', async () => {
    const result = await checkNango(
      failingWith(axiosError(401, { error: { code: 'unknown_account', message: `bad key ${SECRET}` } })),
      signal,
    );
    expect(result.status).toBe('fail');
    expect(result.message).toBe(
      'Nango at https://nango.example.com rejected NANGO_SECRET_KEY (HTTP 401 unknown_account)',
    );
    expect(result.fix).toContain('NANGO_SECRET_KEY');
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(JSON.stringify(result)).not.toContain('admin:pw');
  });

  it('says when Nango cannot be reached', async () => {
    const result = await checkNango(failingWith(axiosError(null, undefined, 'ECONNREFUSED')), signal);
    expect(result).toMatchObject({
      status: 'fail',
      message: 'cannot reach Nango at https://nango.example.com (ECONNREFUSED)',
    });
    expect(result.fix).toContain('NANGO_HOST');
  });

  it('says when Nango does not answer in time, by our clock or the client timeout', async () => {
    for (const error of [new CheckTimeoutError(5000), axiosError(null, undefined, 'ECONNABORTED')]) {
      const result = await checkNango(failingWith(error), signal);
      expect(result).toMatchObject({
        status: 'fail',
        message: 'Nango at https://nango.example.com did not answer in time',
      });
    }
  });

  it('reports other HTTP answers with their status and code', async () => {
    const result = await checkNango(
      failingWith(axiosError(503, { error: { code: 'server_error' } })),
      signal,
    );
    expect(result.message).toBe('Nango at https://nango.example.com answered HTTP 503 (server_error)');
  });

  it('fails when the answer is not a Nango connection list', async () => {
    const result = await checkNango(
      { settings, listConnections: async () => '<html>dashboard</html>' },
      signal,
    );
    expect(result).toMatchObject({ status: 'fail' });
    expect(result.fix).toContain('port 3003');
  });
});
