// End-to-end: the grading service's web page in headless Chromium, driven by Playwright,
// against a running `grader serve` (with a worker and Warren behind it). A wrong login is
// refused; the student logs in, picks the teacher's assignment, uploads a correct and a wrong
// MIPS program and watches them go queued -> graded (2/2, then 0/2 with a diff); saves
// grader-page.png to $SHOTS (the repo's docs/ by default).
//
//   GRADER_HTTP=http://127.0.0.1:8080 node page.mjs   (users tina/tina-pw, sam/sam-pw)
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const base = process.env.GRADER_HTTP || 'http://127.0.0.1:8080';
const shots = process.env.SHOTS || new URL('../../../docs/', import.meta.url).pathname;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(shots, { recursive: true });

function check(cond, what) {
  if (!cond) throw new Error('FAILED: ' + what);
  console.log('ok -', what);
}

// Reads an int (syscall 5), prints it times FACTOR (syscall 1) after the prompts the cases expect.
const program = (factor) => `        .data
prompt: .asciiz "Please, type a number: "
result: .asciiz "The result is "
        .text
main:   li   $v0, 4
        la   $a0, prompt
        syscall
        li   $v0, 5
        syscall
        mul  $t0, $v0, ${factor}
        li   $v0, 4
        la   $a0, result
        syscall
        li   $v0, 1
        move $a0, $t0
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        li   $v0, 10
        syscall
`;

// The teacher's assignments, through the HTTP API: the page lists the newest (the warm-up)
// first, so the student has to choose.
async function api(method, path, token, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: 'Bearer ' + token } : {}) },
    body: body && JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}
const tina = (await api('POST', '/login', null, { username: 'tina', password: 'tina-pw' })).token;
const times10 = await api('POST', '/assignments', tina, {
  title: 'Times ten',
  cases: [
    { stdin: '4\n', expected_stdout: 'Please, type a number: The result is 40\n' },
    { stdin: '-7\n', expected_stdout: 'Please, type a number: The result is -70\n' },
  ],
});
const warmup = await api('POST', '/assignments', tina, {
  title: 'Warm-up', cases: [{ stdin: '', expected_stdout: 'hello\n' }],
});
check(times10.id !== warmup.id, 'the teacher created two assignments through the API');

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('pageerror', (e) => { console.error('page error:', e); process.exitCode = 1; });

  await page.goto(base + '/');
  await page.waitForSelector('#login-form');
  check(await page.isHidden('#app'), 'the page starts at the login form');

  // A wrong password: an error, still on the login form.
  await page.fill('#login-form input[name=username]', 'sam');
  await page.fill('#login-form input[name=password]', 'wrong');
  await page.click('#login-form button');
  await page.waitForFunction(() => document.querySelector('#error').textContent.length > 0);
  check((await page.textContent('#error')).includes('invalid username or password'), 'a wrong password shows an error');
  check(await page.isVisible('#login-form') && await page.isHidden('#app'), 'a wrong password does not log in');

  await page.fill('#login-form input[name=password]', 'sam-pw');
  await page.click('#login-form button');
  await page.waitForSelector('#app:not(.hidden)');
  check((await page.textContent('#who')) === 'sam (student)', 'logged in as sam (student)');
  check((await page.textContent('#error')) === '', 'a successful login clears the error');
  check(await page.isHidden('#teacher'), 'a student does not see the new-assignment form');

  const options = await page.$$eval('#assignments option', (os) => os.map((o) => [o.value, o.textContent]));
  check(options.some(([v, t]) => v === String(times10.id) && t.includes('Times ten')), "the teacher's assignment is listed");
  check((await page.inputValue('#assignments')) === String(warmup.id), 'the newest assignment is preselected');
  await page.selectOption('#assignments', { label: `${times10.id}: Times ten` });
  check((await page.inputValue('#assignments')) === String(times10.id), 'the assignment can be selected');

  // Record every status each submission shows, to see it move.
  await page.evaluate(() => {
    window.seen = {};
    new MutationObserver(() => {
      for (const box of document.querySelectorAll('#submissions > div')) {
        const s = box.querySelector('.status')?.textContent;
        const list = (window.seen[box.id] ||= []);
        if (s && list[list.length - 1] !== s) list.push(s);
      }
    }).observe(document.querySelector('#submissions'), { childList: true, subtree: true, characterData: true });
  });

  async function upload(name, source) {
    const before = await page.$$eval('#submissions > div', (ds) => ds.map((d) => d.id));
    await page.setInputFiles('#upload-form input[type=file]', {
      name, mimeType: 'text/plain', buffer: Buffer.from(source),
    });
    await page.click('#upload-form button');
    const handle = await page.waitForFunction((ids) => [...document.querySelectorAll('#submissions > div')]
      .map((d) => d.id).find((id) => !ids.includes(id)), before);
    const id = await handle.jsonValue();
    await page.waitForSelector(`#${id} .status.graded`, { timeout: 30000 });
    return id;
  }

  const good = await upload('times10.s', program(10));
  const goodText = await page.textContent('#' + good);
  check(goodText.includes('times10.s') && goodText.includes(`for assignment ${times10.id}`), 'the upload went to the chosen assignment');
  const seen = await page.evaluate((id) => window.seen[id], good);
  check(seen[0] === 'queued' && seen[seen.length - 1] === 'graded', `the status went ${seen.join(' -> ')}`);
  check((await page.textContent(`#${good} .pass`)) === '2 / 2 cases passed', 'the correct program passed 2 / 2 cases');
  check((await page.$(`#${good} pre`)) === null, 'a passing submission shows no failure details');

  const bad = await upload('times11.s', program(11));
  check((await page.textContent(`#${bad} .fail`)) === '0 / 2 cases passed', 'a wrong program passed 0 / 2 cases');
  const details = await page.textContent(`#${bad} pre`);
  check(details.includes('case 1') && details.includes('The result is 44'), 'a failing submission shows the diff of each case');
  check((await page.textContent('#error')) === '', 'no error shown while uploading and grading');
  await page.screenshot({ path: shots + 'grader-page.png', fullPage: true });

  // A reload keeps the session and lists the graded submissions, newest first.
  await page.reload();
  await page.waitForSelector(`#${bad} .status.graded`);
  const order = await page.$$eval('#submissions > div', (ds) => ds.map((d) => d.id));
  check(order[0] === bad && order[1] === good, 'after a reload the session holds and both submissions are listed, newest first');

  await page.click('#logout');
  await page.waitForSelector('#login-form');
  check(await page.isHidden('#app'), 'logging out returns to the login form');
  console.log('grader page e2e: all checks passed');
} finally {
  await browser.close();
}
