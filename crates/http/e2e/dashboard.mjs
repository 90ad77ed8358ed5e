// End-to-end: the dashboard in headless Chromium, driven by Playwright, against a running
// Warren. Logs in, declares a queue, publishes a message, sees the count change, gets the
// message back; saves screenshots to $SHOTS (the repo's docs/ by default).
//
//   WARREN_HTTP=http://127.0.0.1:15672 WARREN_AMQP=127.0.0.1:5672 node dashboard.mjs
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';

const base = process.env.WARREN_HTTP || 'http://127.0.0.1:15672';
const shots = process.env.SHOTS || new URL('../../../docs/', import.meta.url).pathname;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const queue = 'e2e-' + Date.now();
mkdirSync(shots, { recursive: true });

function check(cond, what) {
  if (!cond) throw new Error('FAILED: ' + what);
  console.log('ok -', what);
}

// Some traffic for the charts: publish through the HTTP API for a few seconds.
async function traffic(ms) {
  const auth = 'Basic ' + Buffer.from('guest:guest').toString('base64');
  const hdr = { Authorization: auth, 'Content-Type': 'application/json' };
  await fetch(base + '/api/queues/%2F/orders', { method: 'PUT', headers: hdr, body: '{"durable":false}' });
  await fetch(base + '/api/queues/%2F/invoices', { method: 'PUT', headers: hdr, body: '{"durable":true}' });
  const end = Date.now() + ms;
  let i = 0;
  while (Date.now() < end) {
    const key = i % 3 ? 'orders' : 'invoices';
    await fetch(base + '/api/exchanges/%2F/amq.default/publish', {
      method: 'POST', headers: hdr,
      body: JSON.stringify({ properties: {}, routing_key: key, payload: 'order ' + i, payload_encoding: 'string' }),
    });
    if (i % 4 === 0) {
      await fetch(base + '/api/queues/%2F/orders/get', { method: 'POST', headers: hdr, body: '{"count":1,"ackmode":"ack_requeue_false","encoding":"auto"}' });
    }
    i++;
    await new Promise((r) => setTimeout(r, 15));
  }
}

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  page.on('pageerror', (e) => { console.error('page error:', e); process.exitCode = 1; });

  await page.goto(base + '/');
  await page.waitForSelector('#login-form');
  await page.screenshot({ path: shots + 'dashboard-login.png' });
  await page.fill('#login-username', 'guest');
  await page.fill('#login-password', 'wrong');
  await page.click('#login-submit');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
  check(await page.isVisible('#login-form'), 'a wrong password is refused');
  await page.fill('#login-password', 'guest');
  await page.click('#login-submit');
  await page.waitForSelector('#stat-queues');
  check((await page.textContent('#whoami')).includes('guest'), 'logged in as guest');
  const settings = await (await fetch(base + '/api/auth')).json();
  if (settings.token_issuer) {
    const held = await page.evaluate(() => sessionStorage.getItem('warren.auth'));
    check(held.startsWith('Bearer '), 'with a token issuer the session holds a token, not the password');
  }

  // Declare a queue from the queues page.
  await page.click('nav a[data-page=queues]');
  await page.waitForSelector('#declare-queue');
  await page.fill('#dq-name', queue);
  await page.uncheck('#dq-durable');
  await page.click('[data-testid=declare-queue]');
  await page.fill('[data-testid=queues-filter]', queue);
  await page.waitForSelector(`#queues-table td.name:text-is("${queue}")`);
  check(true, 'the declared queue is listed');

  // Open it, publish, see the count change.
  await page.click(`#queues-table td.name:text-is("${queue}")`);
  await page.waitForSelector('[data-testid=queue-ready]');
  check((await page.textContent('[data-testid=queue-ready]')) === '0', 'the new queue is empty');
  await page.fill('[data-testid=publish-payload]', 'hello from the browser');
  await page.click('[data-testid=publish]');
  await page.waitForFunction(() => document.querySelector('[data-testid=queue-ready]').textContent === '1', null, { timeout: 10000 });
  check(true, 'the ready count went to 1 after publishing');

  // Get it back (ack: it leaves the queue).
  await page.selectOption('#get-ackmode', 'ack_requeue_false');
  await page.click('[data-testid=get-messages]');
  await page.waitForSelector('[data-testid=message-payload]');
  check((await page.textContent('[data-testid=message-payload]')) === 'hello from the browser', 'got the message back');
  await page.waitForFunction(() => document.querySelector('[data-testid=queue-ready]').textContent === '0', null, { timeout: 10000 });
  check(true, 'the ready count went back to 0');
  await page.screenshot({ path: shots + 'dashboard-queue.png', fullPage: true });

  // Real AMQP traffic for the charts and the connections and channels pages: `warren perf`
  // (2 producers at 300 msg/s each, 2 consumers with prefetch 50), plus API publishes.
  let perf;
  if (process.env.WARREN_BIN && process.env.WARREN_AMQP) {
    perf = spawn(process.env.WARREN_BIN, ['perf', '--uri', `amqp://guest:guest@${process.env.WARREN_AMQP}/%2f`,
      '-x', '2', '-y', '2', '-q', '50', '-r', '300', '-z', '40', '--queues', '2', '-u', 'perf-demo', '--quiet'], { stdio: 'ignore' });
  }
  await page.click('nav a[data-page=overview]');
  await page.selectOption('#refresh', '2000');
  await traffic(16000);
  await page.waitForTimeout(2500);
  const queues = Number((await page.textContent('#stat-queues')).replace(/\D/g, ''));
  check(queues >= 3, 'the overview counts the queues');
  await page.screenshot({ path: shots + 'dashboard-overview.png', fullPage: true });
  await page.click('nav a[data-page=queues]');
  await page.waitForSelector('#queues-table td.name');
  await page.screenshot({ path: shots + 'dashboard-queues.png', fullPage: true });
  await page.click('nav a[data-page=connections]');
  await page.waitForSelector('#connections-table');
  if (perf) {
    await page.waitForSelector('#connections-table td.name');
    check(true, 'the connections page lists the AMQP connections');
  }
  await page.screenshot({ path: shots + 'dashboard-connections.png', fullPage: true });
  await page.click('nav a[data-page=channels]');
  await page.waitForSelector('#channels-table');
  if (perf) {
    await page.waitForSelector('#channels-table td.name');
    check(true, 'the channels page lists the AMQP channels');
  }
  await page.screenshot({ path: shots + 'dashboard-channels.png', fullPage: true });
  if (perf) perf.kill();

  // Clean up through the UI: delete the queue.
  page.on('dialog', (d) => d.accept());
  await page.goto(base + '/#/queues/%2F/' + encodeURIComponent(queue));
  await page.waitForSelector('[data-testid=delete-queue]');
  await page.click('[data-testid=delete-queue]');
  await page.waitForSelector('#queues-table');
  const r = await fetch(base + '/api/queues/%2F/' + queue, { headers: { Authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') } });
  check(r.status === 404, 'the queue was deleted from the UI');
  // Log out and in again with a pasted token (when the broker issues them).
  if (settings.token_issuer) {
    const t = await (await fetch(base + '/api/auth/token', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'guest', password: 'guest' }),
    })).json();
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    await page.click('.login .tab[data-mode=token]');
    await page.fill('#login-token', t.access_token);
    await page.click('#login-submit');
    await page.waitForSelector('#whoami:has-text("guest")');
    check(true, 'logged in with a pasted token');
  }
  console.log('dashboard e2e: all checks passed');
} finally {
  await browser.close();
}
