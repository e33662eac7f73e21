import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { isSecureUrl, resolveConfig, type ResolveResult } from '../../../src/config/resolve-config.js';
import type { NanoclawConfig, NangoProviderConfig } from '../../../src/config/types.js';

const KEY = 'nango-secret-key-0123456789abcdef';
const CONTEXT = { cwd: '/srv/work', configPath: '/etc/nanoclaw/nanoclaw.config.yaml' };

function resolve(file: unknown, env: Record<string, string> = { NANGO_SECRET_KEY: KEY }): ResolveResult {
  return resolveConfig(file, { ...CONTEXT, env });
}

function configOf(result: ResolveResult): NanoclawConfig {
  if ('errors' in result) throw new Error(`unexpected errors:\n${result.errors.join('\n')}`);
  return result.config;
}

function errorsOf(result: ResolveResult): string[] {
  if (!('errors' in result)) throw new Error('expected errors, the config resolved');
  return result.errors;
}

describe('resolveConfig: the smallest file', () => {
  const SMALLEST = `
providers:
  - name: google-calendar
    integration: google-calendar   # the Nango integration id; defaults to name
    scopes: [calendar, calendar.events]
`;

  it('keeps working: one Nango provider with its scopes and secure defaults', () => {
    const config = configOf(resolve(parseYaml(SMALLEST)));
    expect(config.providers).toEqual([
      {
        name: 'google-calendar',
        source: 'nango',
        integration: 'google-calendar',
        scopes: ['calendar', 'calendar.events'],
        exposeRefreshToken: false,
        connections: {},
      },
    ]);
    expect(config.nango).toMatchObject({ host: 'https://api.nango.dev', secretKey: KEY, timeoutMs: 10_000 });
    expect(config.defaultOwner).toBe('main');
    expect(config.refresh).toEqual({ marginMs: 300_000, maxAgeMs: 300_000, concurrency: 10 });
    expect(config.dataDir).toBe('/etc/nanoclaw/data');
    expect(config.tokensDir).toBe('/etc/nanoclaw/data/tokens');
    expect(config.skillsDir).toBe('/etc/nanoclaw/skills');
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.builtin.refreshLeaseMs).toBeUndefined();
  });

  it('reads builtin.refreshLease in seconds, and refuses one that is not more than 0', () => {
    const file = { ...(parseYaml(SMALLEST) as Record<string, unknown>) };
    expect(configOf(resolve({ ...file, builtin: { refreshLease: 4.5 } })).builtin.refreshLeaseMs).toBe(4_500);
    expect(errorsOf(resolve({ ...file, builtin: { refreshLease: 0 } }))).toEqual([
      'builtin.refreshLease: must be more than 0',
    ]);
  });

  it('defaults the integration id to the provider name', () => {
    const config = configOf(resolve({ providers: [{ name: 'github' }] }));
    expect((config.providers[0] as NangoProviderConfig).integration).toBe('github');
  });

  it('works with no file at all', () => {
    const config = configOf(resolveConfig(undefined, { env: {}, cwd: '/srv/work', configPath: null }));
    expect(config.providers).toEqual([]);
    expect(config.nango).toBeNull();
    expect(config.dataDir).toBe('/srv/work/data');
  });

  it('asks for NANGO_SECRET_KEY when a provider has no source', () => {
    expect(errorsOf(resolve(parseYaml(SMALLEST), {}))).toEqual([
      expect.stringMatching(/^providers\[0\]: no token source for "google-calendar": set NANGO_SECRET_KEY/),
    ]);
  });
});

describe('resolveConfig: problems as `path: message`', () => {
  it('names the exact path of a wrong type', () => {
    const result = resolve({
      providers: [{ name: 'a' }, { name: 'b' }, { name: 'c', scopes: 'calendar' }],
    });
    expect(errorsOf(result)).toEqual(['providers[2].scopes: expected an array of strings']);
  });

  it('reports every problem at once, not just the first', () => {
    const errors = errorsOf(
      resolve({
        owner: '../x',
        owners: ['ok', 'a/b'],
        logLevel: 'loud',
        refresh: { margin: -1, concurrency: 0 },
        nango: { timeout: 0, host: 'ftp://nango.example' },
        providers: [
          { name: 'Calendar', scopes: [1] },
          { name: 'b', exposeRefreshToken: 'yes' },
        ],
        server: { port: 70_000 },
      }),
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        'owner: expected an owner id: 1-64 letters, digits, "_", "." or "-"',
        'owners[1]: expected an owner id: 1-64 letters, digits, "_", "." or "-"',
        'logLevel: expected one of fatal, error, warn, info, debug, trace, silent',
        'refresh.margin: must not be negative',
        'refresh.concurrency: must be at least 1',
        'nango.timeout: must be more than 0',
        'nango.host: expected an http(s) URL',
        'providers[0].name: expected a provider name: 1-64 lowercase letters, digits, "_", "." or "-"',
        'providers[0].scopes[0]: expected a string',
        'providers[1].exposeRefreshToken: expected true or false',
      ]),
    );
    expect(errors).toHaveLength(11);
    for (const error of errors) expect(error).toMatch(/^[A-Za-z_[][^:]*: \S/);
  });

  it('names unknown fields one per line at their own path', () => {
    expect(errorsOf(resolve({ providers: [{ name: 'a', scope: ['x'] }], dataDirectory: 'd' }))).toEqual([
      'providers[0].scope: unknown field',
      'dataDirectory: unknown field',
    ]);
  });

  it('refuses a provider defined twice', () => {
    expect(errorsOf(resolve({ providers: [{ name: 'a' }, { name: 'a' }] }))).toEqual([
      'providers[1].name: provider "a" is defined twice',
    ]);
  });

  it('refuses owner and provider names that would escape their folder', () => {
    for (const bad of ['..', '.', '../x', 'a/b', '', 'x'.repeat(65), 'tab\there', '-lead']) {
      const errors = errorsOf(resolve({ owner: bad, providers: [{ name: bad }] }));
      expect(errors.some((error) => error.startsWith('owner: '))).toBe(true);
      expect(errors.some((error) => error.startsWith('providers[0].name: '))).toBe(true);
    }
  });

  it('checks owner ids used as keys of fixed connections', () => {
    expect(errorsOf(resolve({ providers: [{ name: 'a', connections: { '../x': 'conn-1' } }] }))).toEqual([
      expect.stringMatching(/^providers\[0\]\.connections\["\.\.\/x"\]: /),
    ]);
    const config = configOf(resolve({ providers: [{ name: 'a', connections: { alice: 'conn-1' } }] }));
    expect((config.providers[0] as NangoProviderConfig).connections).toEqual({ alice: 'conn-1' });
  });

  it('refuses builtin-only fields on a Nango provider', () => {
    expect(errorsOf(resolve({ providers: [{ name: 'a', clientId: 'id', tokenUrl: 'https://t' }] }))).toEqual([
      'providers[0].tokenUrl: only applies to the builtin source',
      'providers[0].clientId: only applies to the builtin source',
    ]);
  });
});

describe('resolveConfig: secrets stay out of problems', () => {
  it('never repeats a secret from the file or the environment in an error', () => {
    const secret = 'sk-live-5f1e2d3c4b5a69788796a5b4c3d2e1f0';
    const errors = errorsOf(
      resolveConfig(
        {
          nango: { secretKey: [secret], host: secret, webhookSigningKey: 42, timeout: secret },
          builtin: { encryptionKey: { value: '${SECRET_VAR}' } },
          providers: [
            { name: 'a', source: secret, clientSecret: ['${SECRET_VAR}'], scopes: secret },
            { name: secret },
            { name: 'b', clientId: 'id', clientSecret: secret, issuer: `http://evil.example/${secret}` },
          ],
          owner: secret,
          server: { publicUrl: secret, port: secret },
          logLevel: secret,
        },
        { ...CONTEXT, env: { SECRET_VAR: secret, NANGO_HOST: secret, NANOCLAW_PUBLIC_URL: secret } },
      ),
    );
    expect(errors.length).toBeGreaterThan(5);
    for (const error of errors) expect(error).not.toContain(secret);
    expect(errors.join('\n')).not.toContain('5f1e2d3c');
  });
});

describe('resolveConfig: environment', () => {
  it('takes Nango settings from the environment over the file', () => {
    const config = configOf(
      resolve(
        { nango: { secretKey: 'from-file', host: 'https://file.example' }, providers: [{ name: 'a' }] },
        {
          NANGO_SECRET_KEY: 'from-env',
          NANGO_HOST: 'http://127.0.0.1:3003/',
          NANGO_WEBHOOK_SIGNING_KEY: 'signing',
        },
      ),
    );
    expect(config.nango).toMatchObject({
      secretKey: 'from-env',
      host: 'http://127.0.0.1:3003',
      webhookSigningKey: 'signing',
    });
  });

  it('uses the file secret key when the environment has none (and an empty variable counts as none)', () => {
    const config = configOf(resolve({ nango: { secretKey: 'from-file' } }, { NANGO_SECRET_KEY: '' }));
    expect(config.nango?.secretKey).toBe('from-file');
  });

  it('moves the data and skills folders, relative to the working folder', () => {
    const config = configOf(
      resolve(
        { dataDir: 'file-data', skillsDir: '/abs/skills' },
        { NANOCLAW_DATA_DIR: 'env-data', NANOCLAW_SKILLS_DIR: '../shared/skills' },
      ),
    );
    expect(config.dataDir).toBe('/srv/work/env-data');
    expect(config.tokensDir).toBe('/srv/work/env-data/tokens');
    expect(config.skillsDir).toBe('/srv/shared/skills');
  });

  it('takes relative folders in the file from the file’s own folder', () => {
    const config = configOf(resolve({ dataDir: 'state', skillsDir: '/abs/skills' }, {}));
    expect(config.dataDir).toBe('/etc/nanoclaw/state');
    expect(config.skillsDir).toBe('/abs/skills');
  });

  it('checks values from the environment as carefully as the file', () => {
    expect(
      errorsOf(
        resolve(
          {},
          {
            NANGO_SECRET_KEY: KEY,
            NANGO_HOST: 'not a url',
            NANOCLAW_PUBLIC_URL: 'file:///etc/passwd',
            NANOCLAW_LOG_LEVEL: 'loud',
            NANOCLAW_PORT: '99999',
            NANOCLAW_SANDBOX_NETWORK: 'host',
          },
        ),
      ),
    ).toEqual([
      'NANGO_HOST: expected an http(s) URL',
      'NANOCLAW_PORT: expected a port number',
      'NANOCLAW_PUBLIC_URL: expected an http(s) URL',
      'NANOCLAW_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent',
      'NANOCLAW_SANDBOX_NETWORK: expected "manifest" or "none"',
    ]);
  });

  it('warns when the Nango key would travel over plain http to another machine', () => {
    const result = resolve({}, { NANGO_SECRET_KEY: KEY, NANGO_HOST: 'http://nango.internal:3003' });
    if ('errors' in result) throw new Error(result.errors.join('\n'));
    expect(result.warnings).toEqual([
      'nango.host: http://nango.internal:3003 uses plain http: the secret key is sent unencrypted',
    ]);
    expect(result.warnings.join('')).not.toContain(KEY);
    const loopback = resolve({}, { NANGO_SECRET_KEY: KEY, NANGO_HOST: 'http://127.0.0.1:3003' });
    expect('warnings' in loopback && loopback.warnings).toEqual([]);
  });

  it('reads the log level, port and public URL from the environment', () => {
    const config = configOf(
      resolve(
        { logLevel: 'error', server: { port: 4000 } },
        { NANOCLAW_LOG_LEVEL: 'debug', NANOCLAW_PORT: '5000', NANOCLAW_PUBLIC_URL: 'https://claw.example/' },
      ),
    );
    expect(config.logLevel).toBe('debug');
    expect(config.server.port).toBe(5000);
    expect(config.server.publicUrl).toBe('https://claw.example');
  });

  it('interpolates ${VAR} in the file before checking it', () => {
    const config = configOf(
      resolveConfig(
        { nango: { secretKey: '${MY_KEY}' }, providers: [{ name: '${PROVIDER:-calendar}' }] },
        { ...CONTEXT, env: { MY_KEY: 'k' } },
      ),
    );
    expect(config.nango?.secretKey).toBe('k');
    expect(config.providers[0]?.name).toBe('calendar');
  });

  it('reads numbers and booleans that arrive as text through ${VAR}', () => {
    const config = configOf(
      resolveConfig(
        parseYaml(
          [
            'server:',
            '  port: ${PORT}',
            'refresh:',
            '  margin: ${MARGIN}',
            '  concurrency: ${CONCURRENCY}',
            'providers:',
            '  - name: calendar',
            '    exposeRefreshToken: ${EXPOSE}',
          ].join('\n'),
        ),
        {
          ...CONTEXT,
          env: { NANGO_SECRET_KEY: KEY, PORT: '8080', MARGIN: '120', CONCURRENCY: '4', EXPOSE: 'true' },
        },
      ),
    );
    expect(config.server.port).toBe(8080);
    expect(config.refresh).toMatchObject({ marginMs: 120_000, concurrency: 4 });
    expect(config.providers[0]?.exposeRefreshToken).toBe(true);
    // Text that is not a number stays an error at its own path; secrets are never turned into numbers.
    expect(errorsOf(resolve({ server: { port: 'http' } }))).toEqual(['server.port: expected a port number']);
    const secret = configOf(
      resolve({ nango: { secretKey: '${NUMERIC_KEY}' } }, { NUMERIC_KEY: '0123456789' }),
    );
    expect(secret.nango?.secretKey).toBe('0123456789');
  });
});

describe('resolveConfig: builtin providers', () => {
  it('fills a preset and lets explicit fields win', () => {
    const config = configOf(
      resolve(
        {
          providers: [
            {
              name: 'google',
              preset: 'google',
              clientId: 'id',
              clientSecret: 'secret',
              authorizationParams: { prompt: 'select_account' },
            },
            { name: 'github', preset: 'github', clientId: 'id', clientSecret: 'secret' },
          ],
        },
        {},
      ),
    );
    expect(config.providers[0]).toMatchObject({
      source: 'builtin',
      issuer: 'https://accounts.google.com',
      authorizationParams: { access_type: 'offline', prompt: 'select_account' },
      tokenEndpointAuthMethod: 'client_secret_post',
      pkce: true,
    });
    expect(config.providers[1]).toMatchObject({
      source: 'builtin',
      authorizationUrl: 'https://github.com/login/oauth/authorize',
      tokenUrl: 'https://github.com/login/oauth/access_token',
    });
  });

  it('fills the Lark and Feishu presets: their v2 token endpoint in the lark dialect', () => {
    const lark = {
      clientId: 'cli_a1b2c3',
      clientSecret: 'secret',
      scopes: ['calendar:calendar', 'offline_access'],
    };
    const config = configOf(
      resolve(
        {
          providers: [
            { name: 'lark-calendar', preset: 'lark', ...lark },
            { name: 'feishu-calendar', preset: 'feishu', ...lark },
            { name: 'plain', clientId: 'id', issuer: 'https://issuer.example' },
          ],
        },
        {},
      ),
    );
    expect(config.providers[0]).toMatchObject({
      source: 'builtin',
      grant: 'authorization_code',
      issuer: null,
      authorizationUrl: 'https://accounts.larksuite.com/open-apis/authen/v1/authorize',
      tokenUrl: 'https://open.larksuite.com/open-apis/authen/v2/oauth/token',
      tokenEndpointAuthMethod: 'client_secret_post',
      pkce: true,
      dialect: 'lark',
      scopes: ['calendar:calendar', 'offline_access'],
    });
    expect(config.providers[1]).toMatchObject({
      authorizationUrl: 'https://accounts.feishu.cn/open-apis/authen/v1/authorize',
      tokenUrl: 'https://open.feishu.cn/open-apis/authen/v2/oauth/token',
      dialect: 'lark',
    });
    expect(config.providers[2]).toMatchObject({ dialect: 'oauth2' });
  });

  it('refuses what Lark cannot do', () => {
    expect(
      errorsOf(
        resolve(
          {
            providers: [
              { name: 'a', preset: 'lark', clientId: 'id', clientSecret: 's', grant: 'client_credentials' },
              {
                name: 'b',
                preset: 'feishu',
                clientId: 'id',
                clientSecret: 's',
                tokenEndpointAuthMethod: 'client_secret_basic',
              },
            ],
          },
          {},
        ),
      ),
    ).toEqual([
      "providers[0].grant: Lark's user OAuth has no client_credentials grant (use authorization_code)",
      'providers[1].tokenEndpointAuthMethod: Lark takes the client secret in the request body (client_secret_post)',
    ]);
  });

  it('serves a provider from the builtin source beside Nango only when it says so', () => {
    const client = { name: 'a', clientId: 'id', issuer: 'https://issuer.example' };
    expect(errorsOf(resolve({ providers: [client] }))).toEqual([
      'providers[0].issuer: only applies to the builtin source',
      'providers[0].clientId: only applies to the builtin source',
    ]);
    const config = configOf(resolve({ providers: [{ ...client, source: 'builtin' }, { name: 'b' }] }));
    expect(config.providers.map((provider) => provider.source)).toEqual(['builtin', 'nango']);
  });

  it('allows plain http only on loopback', () => {
    const provider = (issuer: string) => ({ providers: [{ name: 'a', clientId: 'id', issuer }] });
    for (const issuer of ['http://127.0.0.1:9000', 'http://localhost:8080/realms/x', 'http://[::1]:4000']) {
      configOf(resolve(provider(issuer), {}));
    }
    for (const issuer of [
      'http://issuer.example',
      'http://127.0.0.1.nip.io',
      'http://localhost.evil.example',
      'http://10.0.0.1',
    ]) {
      expect(errorsOf(resolve(provider(issuer), {}))).toEqual([
        'providers[0].issuer: must use https (plain http is allowed only on loopback)',
      ]);
    }
    expect(isSecureUrl('https://issuer.example')).toBe(true);
    expect(isSecureUrl('ftp://127.0.0.1')).toBe(false);
  });

  it('asks for what each grant needs', () => {
    expect(
      errorsOf(resolve({ providers: [{ name: 'a', source: 'builtin', grant: 'client_credentials' }] }, {})),
    ).toEqual([
      'providers[0].clientId: required for the builtin source',
      'providers[0].tokenUrl: give an issuer or a tokenUrl',
      'providers[0].clientSecret: required for the client_credentials grant',
    ]);
  });
});
