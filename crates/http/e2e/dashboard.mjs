// End-to-end: the dashboard in headless Chromium, driven by Playwright, against a running
// Warren. Logs in, declares a queue, publishes a message, sees the count change, gets the
// message back, purges; checks the overview's charts are drawn, the exchanges page and its
// rates, and (on a second Warren started here under a disk alarm, when WARREN_BIN is given) a
// blocked publisher on the connections page. Saves screenshots to $SHOTS (the repo's docs/ by
// default).
//
//   WARREN_HTTP=http://127.0.0.1:15672 WARREN_AMQP=127.0.0.1:5672 [WARREN_BIN=target/debug/warren] node dashboard.mjs
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const hdr = { Authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64'), 'Content-Type': 'application/json' };
async function api(method, path, body, at = base) {
  const r = await fetch(at + path, { method, headers: hdr, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
const apiPublish = (exchange, key, payload) =>
  api('POST', '/api/exchanges/%2F/' + encodeURIComponent(exchange) + '/publish', { properties: {}, routing_key: key, payload, payload_encoding: 'string' });

// Some traffic for the charts and the exchanges page: publish through the HTTP API for a few
// seconds, to the default exchange and to a topic exchange bound to both queues.
async function traffic(ms) {
  await api('PUT', '/api/queues/%2F/orders', { durable: false });
  await api('PUT', '/api/queues/%2F/invoices', { durable: true });
  await api('PUT', '/api/exchanges/%2F/events', { type: 'topic', durable: true });
  await api('POST', '/api/bindings/%2F/e/events/q/orders', { routing_key: 'order.*' });
  await api('POST', '/api/bindings/%2F/e/events/q/invoices', { routing_key: '#.paid' });
  const end = Date.now() + ms;
  let i = 0;
  while (Date.now() < end) {
    const key = i % 3 ? 'orders' : 'invoices';
    if (i % 2) await apiPublish('', key, 'order ' + i);
    else await apiPublish('events', i % 4 ? 'order.new' : 'order.paid', 'event ' + i);
    if (i % 4 === 0) {
      await fetch(base + '/api/queues/%2F/orders/get', { method: 'POST', headers: hdr, body: '{"count":1,"ackmode":"ack_requeue_false","encoding":"auto"}' });
    }
    i++;
    await new Promise((r) => setTimeout(r, 15));
  }
}

// Where a canvas has pixels of a CSS colour variable's value (what a chart's series drew in
// that colour): how many, and on how many rows (a flat line of zeros covers only two or three).
async function pixelsOf(page, canvasId, colorVar) {
  return page.evaluate(([id, v]) => {
    const hex = getComputedStyle(document.documentElement).getPropertyValue(v).trim().replace('#', '');
    const want = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const c = document.getElementById(id);
    if (!c || !c.width || !c.height) return { n: 0, rows: 0 };
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    const rows = new Set();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 200 && Math.abs(d[i] - want[0]) < 12 && Math.abs(d[i + 1] - want[1]) < 12 && Math.abs(d[i + 2] - want[2]) < 12) {
        n++;
        rows.add(Math.floor(i / 4 / c.width));
      }
    }
    return { n, rows: rows.size };
  }, [canvasId, colorVar]);
}

async function login(page, at) {
  await page.goto(at + '/');
  await page.waitForSelector('#login-form');
  await page.fill('#login-username', 'guest');
  await page.fill('#login-password', 'guest');
  await page.click('#login-submit');
  await page.waitForSelector('#stat-queues');
}

// A second Warren whose disk alarm is on from the start (a free-disk limit no disk meets), so
// any connection that publishes is blocked. Resolves to its HTTP and AMQP addresses.
function startAlarmedWarren() {
  const dir = mkdtempSync(join(tmpdir(), 'warren-alarm-'));
  writeFileSync(join(dir, 'warren.toml'), '[resources]\ndisk_free_limit = "1000000000GB"\n');
  const proc = spawn(process.env.WARREN_BIN, ['server', '--amqp-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0',
    '--data-dir', dir, '--config', join(dir, 'warren.toml')], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('second warren did not start:\n' + log)), 15000);
    const seen = (chunk) => {
      log += chunk;
      const http = log.match(/management HTTP listening on (http:\S+)/);
      const amqp = log.match(/AMQP listening on (\S+)/);
      if (http && amqp) { clearTimeout(timer); resolve({ http: http[1], amqp: amqp[1] }); }
    };
    proc.stdout.on('data', seen);
    proc.stderr.on('data', seen);
    proc.on('exit', (code) => reject(new Error('second warren exited ' + code + ':\n' + log)));
  });
  const stop = () => { proc.kill(); rmSync(dir, { recursive: true, force: true }); };
  return { ready, stop };
}

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
const cleanups = [];
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  page.on('pageerror', (e) => { console.error('page error:', e); process.exitCode = 1; });
  // The Content-Security-Policy must not block anything the dashboard does.
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) { console.error('CSP violation:', m.text()); process.exitCode = 1; }
  });
  page.on('dialog', (d) => d.accept());

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

  // A slow overview refresh still in flight when the user moves to another page draws nothing
  // on the page it left, and shows no error ("Cannot set properties of null" before).
  {
    await page.click('nav a[data-page=queues]');
    await page.waitForSelector('#declare-queue');
    let release;
    const held = new Promise((r) => { release = r; });
    await page.route('**/api/overview', async (r) => { await held; await r.continue(); });
    await page.click('nav a[data-page=overview]');
    await page.waitForSelector('#stat-queues');
    await page.click('nav a[data-page=queues]');
    await page.waitForSelector('#declare-queue');
    const done = page.waitForResponse((r) => r.url().endsWith('/api/overview'));
    release();
    await done;
    await page.waitForTimeout(300);
    const bad = await page.evaluate(() => {
      const t = document.querySelector('#toast');
      return t && t.classList.contains('bad') && !t.classList.contains('hidden') ? t.textContent : null;
    });
    check(bad === null, 'a refresh that ends after a page switch shows no error (got: ' + bad + ')');
    await page.unroute('**/api/overview');
    await page.click('nav a[data-page=overview]');
    await page.waitForSelector('#stat-queues');
  }

  // The y-axis labels are not clipped: with a billion on the axis, nothing is drawn in the
  // canvas's two leftmost columns (the label starts inside the canvas).
  {
    const r = await page.evaluate(() => {
      const c = document.createElement('canvas');
      c.style.width = '420px'; c.style.height = '160px';
      document.body.append(c);
      const d = window.warrenDashboard;
      const layout = d.drawChart(c, [0, 60000], [{ label: 'x', color: '#3366ff', values: [0, 987654321] }], (v) => d.num(Math.round(v)));
      const dpr = window.devicePixelRatio || 1;
      const px = c.getContext('2d').getImageData(0, 0, Math.ceil(2 * dpr), c.height).data;
      let inked = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked++;
      c.remove();
      return { inked, layout };
    });
    check(r.inked === 0, 'the widest y-axis label ("1,000,000,000") is drawn whole (' + r.inked + ' pixels at the left edge)');
    check(r.layout.left < 200, 'the plot still takes most of the chart (starts at ' + r.layout.left + ' px)');
  }
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

  // Purge from the queue page: three messages in, the purge button, none left.
  for (let i = 0; i < 3; i++) await apiPublish('', queue, 'to purge ' + i);
  await page.waitForFunction(() => document.querySelector('[data-testid=queue-ready]').textContent === '3', null, { timeout: 15000 });
  check(true, 'the ready count shows the 3 messages to purge');
  await page.click('[data-testid=purge]');
  await page.waitForFunction(() => document.querySelector('[data-testid=queue-ready]').textContent === '0', null, { timeout: 10000 });
  const purged = await api('GET', '/api/queues/%2F/' + encodeURIComponent(queue));
  check(purged.messages_ready === 0 && purged.messages === 0, 'purged from the dashboard: the queue is empty');

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
  // The charts drew their series: the publish rate line (--c1) and the ready depth line (--c2)
  // left pixels of their colours on the canvases, rising over many rows (not a flat line of
  // zeros, not only the axes).
  await page.waitForFunction(() => document.querySelectorAll('#legend-rates span').length === 3);
  const ratePx = await pixelsOf(page, 'chart-rates', '--c1');
  const depthPx = await pixelsOf(page, 'chart-depth', '--c2');
  check(ratePx.n > 100 && ratePx.rows > 20, `the message rates chart drew the publish line (${ratePx.n} pixels on ${ratePx.rows} rows)`);
  check(depthPx.n > 100 && depthPx.rows > 20, `the queued messages chart drew the ready line (${depthPx.n} pixels on ${depthPx.rows} rows)`);
  await page.screenshot({ path: shots + 'dashboard-overview.png', fullPage: true });

  // The exchanges page: the topic exchange with its message rates in and out (a trickle of
  // publishes keeps them up while we look).
  let trickling = true;
  const trickle = (async () => {
    while (trickling) {
      await apiPublish('events', 'order.new', 'trickle');
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  await page.click('nav a[data-page=exchanges]');
  await page.waitForSelector('#exchanges-table td.name');
  await page.fill('[data-testid=exchanges-filter]', 'events');
  await page.waitForSelector('#exchanges-table td.name:text-is("events")');
  const rowCells = () => page.evaluate(() => {
    const tr = Array.from(document.querySelectorAll('#exchanges-table tbody tr')).find((r) => r.querySelector('td.name')?.textContent === 'events');
    return tr ? Array.from(tr.querySelectorAll('td')).map((td) => td.textContent) : [];
  });
  check((await rowCells()).includes('topic'), 'the exchanges page lists the topic exchange');
  await page.waitForFunction(() => {
    const tr = Array.from(document.querySelectorAll('#exchanges-table tbody tr')).find((r) => r.querySelector('td.name')?.textContent === 'events');
    const rates = tr ? Array.from(tr.querySelectorAll('td')).map((td) => td.textContent).filter((c) => /\/s$/.test(c)).map((c) => parseFloat(c.replace(/,/g, ''))) : [];
    return rates.length === 2 && rates[0] > 0 && rates[1] > 0;
  }, null, { timeout: 15000 }).catch(() => {});
  const cells = await rowCells();
  const rates = cells.filter((c) => /\/s$/.test(c)).map((c) => parseFloat(c.replace(/,/g, '')));
  check(rates.length === 2 && rates[0] > 0 && rates[1] > 0, `the exchange shows rates in and out (${cells.join(' | ')})`);
  await page.fill('[data-testid=exchanges-filter]', '');
  await page.waitForFunction(() => document.querySelectorAll('#exchanges-table tbody tr').length > 2);
  await page.screenshot({ path: shots + 'dashboard-exchanges.png', fullPage: true });
  await page.click('#exchanges-table td.name:text-is("events")');
  await page.waitForSelector('[data-testid=exchange-publish-in]');
  const x = await api('GET', '/api/exchanges/%2F/events');
  const shownIn = Number((await page.textContent('[data-testid=exchange-publish-in]')).split(' ')[0].replace(/,/g, ''));
  check(shownIn > 0 && shownIn <= x.message_stats.publish_in, `the exchange page shows messages published in (${shownIn})`);
  await page.waitForSelector('#main td:text-is("order.*")');
  check(true, 'the exchange page lists its bindings');
  trickling = false;
  await trickle;

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

  // Flow control on the connections page: a publisher to a Warren under a disk alarm shows
  // as blocked (and its channel in flow).
  if (process.env.WARREN_BIN) {
    const alarmed = startAlarmedWarren();
    cleanups.push(alarmed.stop);
    const at = await alarmed.ready;
    const blocked = spawn(process.env.WARREN_BIN, ['perf', '--uri', `amqp://guest:guest@${at.amqp}/%2f`,
      '-x', '1', '-y', '0', '-r', '5', '-z', '60', '-u', 'blocked-demo', '--quiet'], { stdio: 'ignore' });
    cleanups.push(() => blocked.kill());
    const page2 = await browser.newPage({ viewport: { width: 1360, height: 700 } });
    page2.on('pageerror', (e) => { console.error('page error:', e); process.exitCode = 1; });
    await login(page2, at.http);
    await page2.waitForSelector('#alarm:not(.hidden)');
    check((await page2.textContent('#alarm')).includes('Disk alarm'), 'the alarm banner says the disk alarm is on');
    await page2.click('nav a[data-page=connections]');
    await page2.waitForSelector('#connections-table th:text-is("State")');
    await page2.waitForSelector('#connections-table td .pill.bad:text-is("blocked")', { timeout: 15000 });
    check(true, 'the connections page shows the publisher as blocked');
    await page2.click('nav a[data-page=channels]');
    await page2.waitForSelector('#channels-table td .pill.bad:text-is("flow")', { timeout: 15000 });
    check(true, 'the channels page shows its channel in flow');
    await page2.close();
  }

  // Clean up through the UI: delete the queue.
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
  for (const c of cleanups) c();
  await browser.close();
}
