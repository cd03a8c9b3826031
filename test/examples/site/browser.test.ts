// The board page in a real browser: headless Chromium (Debian's `chromium`, driven by
// playwright-core) registers, logs in, posts and logs out through public/board.html.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { Client, startSite, tempDir } from './support.js';

const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser']
  .filter((p): p is string => p !== undefined && p !== '')
  .find((p) => existsSync(p));

describe('the board page in headless Chromium', { timeout: 180_000 }, () => {
  if (CHROMIUM === undefined) {
    const why = 'chromium not found: apt-get install -y chromium (or set CHROMIUM_PATH)';
    // Locally a missing browser skips; in CI it must be installed.
    if (process.env['CI']) it('has Chromium to test with', () => assert.fail(why));
    else it('needs Chromium', { skip: why }, () => {});
    return;
  }

  it('registers, logs in, posts and logs out through the page', async () => {
    const site = await startSite(['--loops', '2', '--data', tempDir('pl-site-browser-')]);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Root in a container has no user namespaces for Chromium's sandbox.
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
      timeout: 60_000,
    });
    after(() => browser.close());
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    const status = page.locator('#status');

    await page.goto(`${site.url}/board.html`);
    await page.locator('#account').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#board').isVisible(), false);

    await page.fill('#username', 'gina');
    await page.fill('#password', 'browser pw 1');
    await page.click('#register');
    await status.filter({ hasText: 'Registered gina' }).waitFor();

    // A wrong password shows the API's message and stays logged out.
    await page.fill('#password', 'not the password');
    await page.click('#login');
    await status.filter({ hasText: 'wrong username or password' }).waitFor();
    assert.equal(await page.locator('#board').isVisible(), false);

    await page.fill('#password', 'browser pw 1');
    await page.click('#login');
    await page.locator('#board').waitFor({ state: 'visible' });
    assert.equal(await page.textContent('#me'), 'gina');

    // The session cookie is HttpOnly: the browser holds it, the page's script cannot read it.
    assert.equal(await page.evaluate('document.cookie'), '');
    const sid = (await page.context().cookies()).find((c) => c.name === 'sid');
    assert.ok(sid !== undefined);
    assert.equal(sid.httpOnly, true);
    assert.equal(sid.sameSite, 'Lax');

    // Markup in a post is shown as text, never run as HTML.
    const text = '<b>bold?</b> hello from Chromium';
    await page.fill('#text', text);
    await page.click('#send');
    await status.filter({ hasText: 'Posted.' }).waitFor();
    const first = page.locator('#messages li').first();
    await first.waitFor();
    assert.equal(await first.locator('strong').textContent(), 'gina');
    assert.equal(await first.locator('p').textContent(), text);
    assert.equal(await page.locator('#messages b').count(), 0);

    // The API sees the same post, made with the browser's own session.
    const api = new Client(site.url);
    api.sid = sid.value;
    const list = await api.messages();
    assert.deepEqual(
      list.map((m) => [m.author, m.text]),
      [['gina', text]],
    );

    // A reload keeps the session; logging out ends it.
    await page.reload();
    await page.locator('#board').waitFor({ state: 'visible' });
    await page.locator('#messages li').first().waitFor();
    await page.click('#logout');
    await page.locator('#account').waitFor({ state: 'visible' });
    assert.equal((await api.call('GET', '/api/messages')).status, 401);
    assert.equal(await site.stop('SIGTERM'), 0);
  });
});
