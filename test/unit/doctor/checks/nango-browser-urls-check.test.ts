import { describe, expect, it } from 'vitest';
import { checkNangoBrowserUrls } from '../../../../src/doctor/checks/nango-browser-urls-check.js';

const settings = (host: string, connectBaseUrl: string | null, connectApiUrl: string | null) => ({
  host,
  connectBaseUrl,
  connectApiUrl,
});

describe('checkNangoBrowserUrls', () => {
  it('has nothing to say without Nango', () => {
    expect(checkNangoBrowserUrls(null)).toBeNull();
  });

  it('passes for Nango Cloud with its defaults', () => {
    expect(checkNangoBrowserUrls(settings('https://api.nango.dev', null, null))?.status).toBe('ok');
  });

  it('warns when a self-hosted Nango would get the cloud Connect UI', () => {
    const result = checkNangoBrowserUrls(settings('https://nango.example.com', null, null));
    expect(result?.status).toBe('warn');
    expect(result?.fix).toContain('NANGO_CONNECT_URL');
  });

  it('warns when the page would send browsers to a container-only host name', () => {
    const result = checkNangoBrowserUrls(settings('http://nango-server:3003', 'http://localhost:3009', null));
    expect(result?.status).toBe('warn');
    expect(result?.message).toContain('http://nango-server:3003');
    expect(result?.fix).toContain('nango.connectApiUrl');
  });

  it('passes once both browser URLs are set, or the host is one browsers reach', () => {
    expect(
      checkNangoBrowserUrls(
        settings('http://nango-server:3003', 'http://localhost:3009', 'http://localhost:3003'),
      )?.status,
    ).toBe('ok');
    expect(
      checkNangoBrowserUrls(settings('http://127.0.0.1:3003', 'http://127.0.0.1:3009', null))?.status,
    ).toBe('ok');
    expect(
      checkNangoBrowserUrls(settings('http://localhost:3003', 'http://localhost:3009', null))?.status,
    ).toBe('ok');
  });
});
