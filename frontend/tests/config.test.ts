import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, logoutUrl, parseConfig } from '../src/config';

const ORIGIN = 'http://localhost:8100';
const base = {
  apiUrl: '',
  authority: 'http://localhost:9229/us-east-1_LocalPool/',
  clientId: 'city-tasks-web',
  hostedUiDomain: 'http://localhost:9229',
};

describe('parseConfig', () => {
  it('fills defaults from the origin and trims trailing slashes', () => {
    const config = parseConfig(base, ORIGIN);
    expect(config.authority).toBe('http://localhost:9229/us-east-1_LocalPool');
    expect(config.redirectUri).toBe('http://localhost:8100/auth/callback');
    expect(config.logoutUri).toBe('http://localhost:8100/');
    expect(config.scope).toContain('openid');
    expect(config.apiUrl).toBe('');
  });
  it('derives the hosted UI domain from the issuer when it is not given', () => {
    const { hostedUiDomain: _omit, ...rest } = base;
    expect(parseConfig(rest, ORIGIN).hostedUiDomain).toBe('http://localhost:9229');
  });
  it('accepts `issuer` for the authority (as the CDK stack writes it)', () => {
    const { authority: _omit, ...rest } = base;
    const config = parseConfig({ ...rest, issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc' }, ORIGIN);
    expect(config.authority).toBe('https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc');
  });
  it('keeps explicit redirect and logout URIs', () => {
    const config = parseConfig({ ...base, redirectUri: 'http://localhost:8100/home/', logoutUri: 'http://x/y' }, ORIGIN);
    expect(config.redirectUri).toBe('http://localhost:8100/home/');
    expect(config.logoutUri).toBe('http://x/y');
  });
  it.each([
    [null, /JSON object/],
    [[], /JSON object/],
    [{ ...base, authority: '' }, /authority/],
    [{ ...base, authority: 'ftp://x' }, /http/],
    [{ ...base, clientId: '' }, /clientId/],
    [{ ...base, apiUrl: 5 }, /apiUrl/],
  ])('refuses %j', (raw, message) => {
    expect(() => parseConfig(raw, ORIGIN)).toThrow(ConfigError);
    expect(() => parseConfig(raw, ORIGIN)).toThrow(message);
  });
});

describe('loadConfig', () => {
  it('fetches /config.json without the cache', async () => {
    const calls: [string, RequestInit | undefined][] = [];
    const fake = (async (url: string, init?: RequestInit) => {
      calls.push([url, init]);
      return new Response(JSON.stringify(base), { headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof fetch;
    const config = await loadConfig(fake, ORIGIN);
    expect(calls).toEqual([['/config.json', { cache: 'no-store' }]]);
    expect(config.clientId).toBe('city-tasks-web');
  });
  it('explains a missing or broken file', async () => {
    const missing = (async () => new Response('nope', { status: 404 })) as unknown as typeof fetch;
    await expect(loadConfig(missing, ORIGIN)).rejects.toThrow(/HTTP 404/);
    const broken = (async () => new Response('{', { status: 200 })) as unknown as typeof fetch;
    await expect(loadConfig(broken, ORIGIN)).rejects.toThrow(/not valid JSON/);
    const down = (async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch;
    await expect(loadConfig(down, ORIGIN)).rejects.toThrow(/could not be loaded/);
  });
});

describe('logoutUrl', () => {
  it("is the hosted UI's /logout with client_id and logout_uri", () => {
    const url = new URL(logoutUrl(parseConfig(base, ORIGIN)));
    expect(url.origin + url.pathname).toBe('http://localhost:9229/logout');
    expect(url.searchParams.get('client_id')).toBe('city-tasks-web');
    expect(url.searchParams.get('logout_uri')).toBe('http://localhost:8100/');
  });
});
