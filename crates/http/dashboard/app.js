// Warren's dashboard: plain JavaScript, no framework, no build step, no CDN.
// It speaks only the management API (/api/...), so whatever it shows, a script can get too.
(function () {
  'use strict';

  // ----------------------------------------------------------------------------------------
  // helpers

  const $ = (sel, el) => (el || document).querySelector(sel);
  const $$ = (sel, el) => Array.from((el || document).querySelectorAll(sel));

  // h('div', {class: 'x', onclick: f}, child, 'text', ...) -> element
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      // Through the CSSOM: the Content-Security-Policy refuses style attributes.
      else if (k === 'style') el.style.cssText = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const enc = encodeURIComponent;
  const num = (n) => (n === undefined || n === null ? '' : Number(n).toLocaleString());
  const rate = (r) => (r === undefined || r === null ? '' : (Math.round(r * 10) / 10).toLocaleString() + '/s');
  function bytes(n) {
    if (n === undefined || n === null) return '';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
  }
  const get = (o, path) => path.split('.').reduce((a, k) => (a === undefined || a === null ? a : a[k]), o);

  function toast(text, bad) {
    const t = $('#toast');
    t.textContent = text;
    t.className = 'toast' + (bad ? ' bad' : '');
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => t.classList.add('hidden'), 4000);
  }

  // ----------------------------------------------------------------------------------------
  // API access

  const AUTH_KEY = 'warren.auth';
  let authHeader = sessionStorage.getItem(AUTH_KEY);

  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.reason || body.error)) || ('HTTP ' + status));
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const opts = { method, headers: { Authorization: authHeader || '', 'X-Requested-With': 'XMLHttpRequest' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(path, opts);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    if (r.status === 401 && path !== '/api/whoami') { logout('Your session has ended: please log in again.'); }
    if (!r.ok) throw new ApiError(r.status, data);
    return data;
  }

  // ----------------------------------------------------------------------------------------
  // login

  let loginMode = 'password';
  $$('.login .tab').forEach((b) => b.addEventListener('click', () => {
    loginMode = b.dataset.mode;
    $$('.login .tab').forEach((x) => x.classList.toggle('active', x === b));
    $$('[data-mode-panel]').forEach((p) => p.classList.toggle('hidden', p.dataset.modePanel !== loginMode));
  }));

  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('#login-error').textContent = '';
    if (loginMode === 'token') {
      authHeader = 'Bearer ' + $('#login-token').value.trim();
    } else {
      const u = $('#login-username').value, p = $('#login-password').value;
      authHeader = 'Basic ' + btoa(unescape(encodeURIComponent(u + ':' + p)));
      // With a token issuer, the session holds a short-lived token rather than the password.
      try {
        const r = await fetch('/api/auth/token', {
          method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
          body: JSON.stringify({ username: u, password: p }),
        });
        if (r.ok) authHeader = 'Bearer ' + (await r.json()).access_token;
      } catch (_) { /* no issuer: basic auth */ }
    }
    try {
      const who = await api('GET', '/api/whoami');
      sessionStorage.setItem(AUTH_KEY, authHeader);
      start(who);
    } catch (err) {
      authHeader = null;
      $('#login-error').textContent = err.status === 401 ? 'Login failed: wrong credentials, or no management tag.' : err.message;
    }
  });

  function logout(message) {
    authHeader = null;
    sessionStorage.removeItem(AUTH_KEY);
    stopTimer();
    $('#app').classList.add('hidden');
    $('#login').classList.remove('hidden');
    $('#login-error').textContent = message || '';
  }
  $('#logout').addEventListener('click', () => logout());

  // ----------------------------------------------------------------------------------------
  // refresh loop

  let timer = null;
  let refresher = null;
  function stopTimer() { if (timer) clearInterval(timer); timer = null; }
  function startTimer() {
    stopTimer();
    const ms = Number($('#refresh').value);
    // A timer tick is skipped while the last refresh is still in flight (a slow server).
    if (ms > 0) timer = setInterval(() => { if (!tick.busy) tick(); }, ms);
  }
  $('#refresh').addEventListener('change', startTimer);
  async function tick() {
    if (!refresher || document.hidden) return;
    tick.busy = (tick.busy || 0) + 1;
    try {
      await refresher();
      $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      await refreshAlarm();
    } catch (err) {
      if (err.status !== 401) toast(err.message, true);
    } finally {
      tick.busy--;
    }
  }
  async function refreshAlarm() {
    const nodes = await api('GET', '/api/nodes').catch(() => null);
    const n = nodes && nodes[0];
    const b = $('#alarm');
    if (n && (n.mem_alarm || n.disk_free_alarm)) {
      b.textContent = (n.mem_alarm ? 'Memory' : 'Disk') + ' alarm in effect: publishers are blocked.';
      b.classList.remove('hidden');
    } else {
      b.classList.add('hidden');
    }
  }

  // ----------------------------------------------------------------------------------------
  // charts (canvas)

  // series: [{label, color, values: [numbers]}], times: [ms]
  function drawChart(canvas, times, series, fmt) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, hgt = canvas.clientHeight;
    canvas.width = w * dpr; canvas.height = hgt * dpr;
    const c = canvas.getContext('2d');
    c.scale(dpr, dpr);
    c.clearRect(0, 0, w, hgt);
    const style = getComputedStyle(document.documentElement);
    const muted = style.getPropertyValue('--muted').trim();
    const line = style.getPropertyValue('--line').trim();
    let max = 0;
    for (const s of series) for (const v of s.values) max = Math.max(max, v || 0);
    if (max === 0) max = 1;
    const mag = Math.pow(10, Math.floor(Math.log10(max)));
    max = Math.ceil(max / mag) * mag;
    c.font = '11px system-ui, sans-serif';
    // The plot starts right of the widest y-axis label, so no label is clipped at the edge.
    const labels = [0, 1, 2, 3, 4].map((i) => fmt((max * i) / 4));
    const labelWidth = Math.max(...labels.map((l) => c.measureText(l).width));
    const gap = 6, bottom = 22, top = 8, right = 8;
    const left = Math.ceil(labelWidth) + gap + 4;
    const pw = w - left - right, ph = hgt - top - bottom;
    c.fillStyle = muted; c.strokeStyle = line; c.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - (ph * i) / 4;
      c.beginPath(); c.moveTo(left, y); c.lineTo(left + pw, y); c.stroke();
      c.textAlign = 'right'; c.textBaseline = 'middle';
      c.fillText(labels[i], left - gap, y);
    }
    const n = times.length;
    if (n > 1) {
      c.textBaseline = 'top';
      for (const [i, align] of [[0, 'left'], [Math.floor((n - 1) / 2), 'center'], [n - 1, 'right']]) {
        const x = left + (pw * i) / (n - 1);
        c.textAlign = align;
        c.fillText(new Date(times[i]).toLocaleTimeString(), x, top + ph + 5);
      }
    }
    for (const s of series) {
      c.strokeStyle = s.color; c.lineWidth = 2; c.beginPath();
      s.values.forEach((v, i) => {
        const x = left + (n > 1 ? (pw * i) / (n - 1) : pw);
        const y = top + ph - (ph * (v || 0)) / max;
        if (i === 0) c.moveTo(x, y); else c.lineTo(x, y);
      });
      c.stroke();
    }
    return { left, labelWidth, gap };
  }

  function legend(series) {
    return h('div', { class: 'legend' }, series.map((s) => h('span', {}, h('i', { style: 'background:' + s.color }), s.label)));
  }

  // ----------------------------------------------------------------------------------------
  // pages

  const main = () => $('#main');
  const css = (v) => getComputedStyle(document.documentElement).getPropertyValue(v).trim();

  function statCard(key, label) {
    return h('div', { class: 'stat', 'data-testid': 'stat-' + key }, h('div', { class: 'v', id: 'stat-' + key }, '–'), h('div', { class: 'k' }, label));
  }

  function pageOverview() {
    // Everything below is looked up inside this page's root: a refresh still in flight when
    // the user moves to another page finds its root detached and draws nothing.
    const root = h('div', {},
      h('div', { class: 'stats' },
        statCard('connections', 'Connections'), statCard('channels', 'Channels'),
        statCard('queues', 'Queues'), statCard('consumers', 'Consumers'),
        statCard('ready', 'Ready'), statCard('unacked', 'Unacked'),
        statCard('publish', 'Publish'), statCard('deliver', 'Deliver / get')),
      h('div', { class: 'charts' },
        h('div', { class: 'card' }, h('h2', {}, 'Message rates'), h('canvas', { class: 'chart', id: 'chart-rates' }), h('div', { id: 'legend-rates' })),
        h('div', { class: 'card' }, h('h2', {}, 'Queued messages'), h('canvas', { class: 'chart', id: 'chart-depth' }), h('div', { id: 'legend-depth' }))),
      h('div', { class: 'card' }, h('h2', {}, 'Busiest queues'), h('div', { id: 'top-queues' })));
    main().replaceChildren(root);
    const $p = (sel) => $(sel, root);
    const refresh = async () => {
      const [o, hist, top] = await Promise.all([
        api('GET', '/api/overview'),
        api('GET', '/api/overview/history'),
        api('GET', '/api/queues?page=1&page_size=10&sort=messages&sort_reverse=true&columns=name,vhost,messages,messages_ready,messages_unacknowledged,consumers,message_stats.publish_details.rate,message_stats.deliver_get_details.rate'),
      ]);
      if (!root.isConnected) return;
      const t = o.object_totals, q = o.queue_totals, ms = o.message_stats || {};
      $p('#stat-connections').textContent = num(t.connections);
      $p('#stat-channels').textContent = num(t.channels);
      $p('#stat-queues').textContent = num(t.queues);
      $p('#stat-consumers').textContent = num(t.consumers);
      $p('#stat-ready').textContent = num(q.messages_ready);
      $p('#stat-unacked').textContent = num(q.messages_unacknowledged);
      $p('#stat-publish').textContent = rate(get(ms, 'publish_details.rate'));
      $p('#stat-deliver').textContent = rate(get(ms, 'deliver_get_details.rate'));
      $('#version').textContent = o.product_name + ' ' + o.product_version + ' on ' + o.node;
      const times = hist.map((p) => p.timestamp);
      const rs = [
        { label: 'publish', color: css('--c1'), values: hist.map((p) => p.rates.publish) },
        { label: 'deliver / get', color: css('--c2'), values: hist.map((p) => p.rates.deliver_get) },
        { label: 'ack', color: css('--c3'), values: hist.map((p) => p.rates.ack) },
      ];
      const ds = [
        { label: 'ready', color: css('--c2'), values: hist.map((p) => p.messages_ready) },
        { label: 'unacked', color: css('--c4'), values: hist.map((p) => p.messages_unacknowledged) },
      ];
      drawChart($p('#chart-rates'), times, rs, (v) => (Math.round(v * 10) / 10) + '/s');
      drawChart($p('#chart-depth'), times, ds, (v) => num(Math.round(v)));
      $p('#legend-rates').replaceChildren(legend(rs));
      $p('#legend-depth').replaceChildren(legend(ds));
      $p('#top-queues').replaceChildren(table(QUEUE_COLS.slice(0, 7), top.items, (r) => go('#/queues/' + enc(r.vhost) + '/' + enc(r.name))));
    };
    return refresh;
  }

  // A table: cols [{key, label, num, fmt, sort}]; rows: objects.
  function table(cols, rows, onclick, sortState, onsort) {
    const head = h('tr', {}, cols.map((c) => {
      const active = sortState && sortState.sort === (c.sort || c.key);
      return h('th', {
        class: c.num ? 'num' : '',
        onclick: onsort && c.sort !== false ? () => onsort(c.sort || c.key) : null,
      }, c.label, active ? (sortState.sort_reverse ? ' ▼' : ' ▲') : '');
    }));
    const body = rows.map((r) => h('tr', { class: onclick ? 'clickable' : '', onclick: onclick ? () => onclick(r) : null },
      cols.map((c) => {
        const v = c.fmt ? c.fmt(get(r, c.key), r) : get(r, c.key);
        return h('td', { class: (c.num ? 'num ' : '') + (c.key === 'name' ? 'name' : '') }, v instanceof Node ? v : (v === undefined ? '' : String(v)));
      })));
    if (!rows.length) body.push(h('tr', {}, h('td', { colspan: cols.length, class: 'muted' }, 'Nothing here yet.')));
    return h('table', {}, h('thead', {}, head), h('tbody', {}, body));
  }

  const pill = (text, kind) => h('span', { class: 'pill ' + (kind || '') }, text);
  const stateFmt = (s) => pill(s, s === 'running' ? 'ok' : s === 'blocked' || s === 'flow' ? 'bad' : 'warn');

  const QUEUE_COLS = [
    { key: 'name', label: 'Name' },
    { key: 'vhost', label: 'Vhost' },
    { key: 'messages_ready', label: 'Ready', num: true, fmt: num },
    { key: 'messages_unacknowledged', label: 'Unacked', num: true, fmt: num },
    { key: 'consumers', label: 'Consumers', num: true, fmt: num },
    { key: 'message_stats.publish_details.rate', label: 'Incoming', num: true, fmt: rate },
    { key: 'message_stats.deliver_get_details.rate', label: 'Deliver / get', num: true, fmt: rate },
    { key: 'durable', label: 'Durable', fmt: (v) => (v ? 'D' : '') },
    { key: 'type', label: 'Type' },
  ];

  // A server-paginated list: filter, sort, pages; only one page of rows is ever fetched.
  function pagedList(opts) {
    const st = { page: 1, page_size: 50, name: '', use_regex: false, sort: opts.sort || 'name', sort_reverse: false };
    const box = h('div', { class: 'card' });
    const search = h('input', { type: 'search', placeholder: 'Filter by name', 'data-testid': opts.id + '-filter' });
    const regex = h('input', { type: 'checkbox' });
    const size = h('select', {}, [25, 50, 100, 500].map((n) => h('option', { value: n, selected: n === 50 }, n)));
    const tbl = h('div', { id: opts.id + '-table' });
    const pager = h('div', { class: 'pager' });
    let debounce;
    search.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(() => { st.name = search.value; st.page = 1; refresh(); }, 250); });
    regex.addEventListener('change', () => { st.use_regex = regex.checked; st.page = 1; refresh(); });
    size.addEventListener('change', () => { st.page_size = Number(size.value); st.page = 1; refresh(); });
    box.append(h('h2', {}, opts.title), h('div', { class: 'toolbar' }, search, h('label', { class: 'inline' }, regex, 'regex'), h('span', { class: 'muted' }, 'per page'), size), tbl, pager);
    const refresh = async () => {
      const qs = new URLSearchParams({ page: st.page, page_size: st.page_size, name: st.name, use_regex: st.use_regex, sort: st.sort, sort_reverse: st.sort_reverse });
      if (opts.columns) qs.set('columns', opts.columns);
      let data;
      try {
        data = await api('GET', opts.path + '?' + qs);
      } catch (err) {
        if (err.status === 400 && st.page > 1) { st.page = 1; return refresh(); }
        throw err;
      }
      tbl.replaceChildren(table(opts.cols, data.items, opts.onclick, st, (key) => {
        if (st.sort === key) st.sort_reverse = !st.sort_reverse; else { st.sort = key; st.sort_reverse = false; }
        refresh();
      }));
      pager.replaceChildren(
        h('button', { disabled: st.page <= 1, onclick: () => { st.page--; refresh(); } }, '‹ Prev'),
        h('span', {}, `Page ${data.page} of ${data.page_count} · ${num(data.filtered_count)} of ${num(data.total_count)} items`),
        h('button', { disabled: st.page >= data.page_count, onclick: () => { st.page++; refresh(); } }, 'Next ›'));
    };
    return { el: box, refresh };
  }

  function vhostSelect(id) {
    const s = h('select', { id, name: 'vhost' });
    api('GET', '/api/vhosts?columns=name').then((vs) => vs.forEach((v) => s.append(h('option', { value: v.name }, v.name))));
    return s;
  }

  function parseArgs(text) {
    if (!text.trim()) return {};
    const v = JSON.parse(text);
    if (typeof v !== 'object' || Array.isArray(v)) throw new Error('arguments must be a JSON object');
    return v;
  }

  async function act(fn, okText) {
    try { await fn(); if (okText) toast(okText); await tick(); } catch (err) { toast(err.message, true); }
  }

  function pageQueues() {
    const list = pagedList({
      id: 'queues', title: 'Queues', path: '/api/queues', cols: QUEUE_COLS,
      columns: 'name,vhost,messages_ready,messages_unacknowledged,consumers,durable,type,message_stats.publish_details.rate,message_stats.deliver_get_details.rate',
      onclick: (r) => go('#/queues/' + enc(r.vhost) + '/' + enc(r.name)),
    });
    const form = h('form', { class: 'card', id: 'declare-queue' },
      h('h2', {}, 'Add a queue'),
      h('div', { class: 'grid2' },
        h('div', {}, h('label', {}, 'Vhost', vhostSelect('dq-vhost')), h('label', {}, 'Name', h('input', { id: 'dq-name', required: true, 'data-testid': 'queue-name' }))),
        h('div', {}, h('label', { class: 'inline' }, h('input', { type: 'checkbox', id: 'dq-durable', checked: true }), 'durable'),
          h('label', { class: 'inline' }, h('input', { type: 'checkbox', id: 'dq-autodelete' }), 'auto-delete'),
          h('label', {}, 'Arguments (JSON)', h('textarea', { id: 'dq-args', rows: 3, placeholder: '{"x-max-length": 1000}' })))),
      h('button', { class: 'primary', type: 'submit', 'data-testid': 'declare-queue' }, 'Add queue'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(async () => {
        const name = $('#dq-name').value;
        await api('PUT', '/api/queues/' + enc($('#dq-vhost').value) + '/' + enc(name), {
          durable: $('#dq-durable').checked, auto_delete: $('#dq-autodelete').checked, arguments: parseArgs($('#dq-args').value),
        });
        $('#dq-name').value = '';
      }, 'Queue declared');
    });
    main().replaceChildren(list.el, form);
    return list.refresh;
  }

  function publishForm(vhost, exchange, fixedKey) {
    const f = h('form', { class: 'card', id: 'publish-form' },
      h('h2', {}, 'Publish a message'),
      fixedKey === undefined ? h('label', {}, 'Routing key', h('input', { id: 'pub-key' })) : h('p', { class: 'muted' }, 'Sent through the default exchange with routing key "' + fixedKey + '".'),
      h('label', { class: 'inline' }, h('input', { type: 'checkbox', id: 'pub-persistent' }), 'persistent'),
      h('label', {}, 'Headers (JSON)', h('textarea', { id: 'pub-headers', rows: 2, placeholder: '{"key": "value"}' })),
      h('label', {}, 'Payload', h('textarea', { id: 'pub-payload', rows: 4, 'data-testid': 'publish-payload' })),
      h('button', { class: 'primary', type: 'submit', 'data-testid': 'publish' }, 'Publish'));
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      act(async () => {
        const key = fixedKey === undefined ? $('#pub-key').value : fixedKey;
        const props = { delivery_mode: $('#pub-persistent').checked ? 2 : 1 };
        const hdrs = $('#pub-headers').value.trim();
        if (hdrs) props.headers = parseArgs(hdrs);
        const r = await api('POST', '/api/exchanges/' + enc(vhost) + '/' + enc(exchange || 'amq.default') + '/publish', {
          properties: props, routing_key: key, payload: $('#pub-payload').value, payload_encoding: 'string',
        });
        if (!r.routed) throw new Error('Message published but not routed to any queue');
      }, 'Message published');
    });
    return f;
  }

  function pageQueue(vhost, name) {
    const base = '/api/queues/' + enc(vhost) + '/' + enc(name);
    const info = h('dl', { class: 'kv', id: 'queue-info' });
    const getOut = h('div', { id: 'get-result' });
    const getForm = h('form', { class: 'card', id: 'get-form' },
      h('h2', {}, 'Get messages'),
      h('label', {}, 'Ack mode', h('select', { id: 'get-ackmode' },
        h('option', { value: 'ack_requeue_true' }, 'Nack, requeue (peek)'),
        h('option', { value: 'ack_requeue_false' }, 'Ack (remove from queue)'),
        h('option', { value: 'reject_requeue_false' }, 'Reject, no requeue (dead-letter)'))),
      h('label', {}, 'Messages', h('input', { id: 'get-count', type: 'number', value: 1, min: 1 })),
      h('button', { class: 'primary', type: 'submit', 'data-testid': 'get-messages' }, 'Get'), getOut);
    getForm.addEventListener('submit', (e) => {
      e.preventDefault();
      act(async () => {
        const msgs = await api('POST', base + '/get', { count: Number($('#get-count').value), ackmode: $('#get-ackmode').value, encoding: 'auto', truncate: 50000 });
        getOut.replaceChildren(msgs.length ? '' : h('p', { class: 'muted' }, 'Queue is empty.'),
          ...msgs.map((m, i) => h('div', {},
            h('p', {}, `Message ${i + 1} · exchange "${m.exchange}" · routing key "${m.routing_key}" · ${m.redelivered ? 'redelivered · ' : ''}${m.message_count} left`),
            h('pre', { class: 'msg', 'data-testid': 'message-payload' }, m.payload),
            Object.keys(m.properties || {}).length ? h('pre', { class: 'msg' }, JSON.stringify(m.properties, null, 1)) : null)));
      });
    });
    const danger = h('div', { class: 'card' }, h('h2', {}, 'Purge or delete'),
      h('div', { class: 'toolbar' },
        h('button', { class: 'danger', 'data-testid': 'purge', onclick: () => confirm('Purge all ready messages of ' + name + '?') && act(() => api('DELETE', base + '/contents'), 'Queue purged') }, 'Purge messages'),
        h('button', { class: 'danger', 'data-testid': 'delete-queue', onclick: () => confirm('Delete queue ' + name + '?') && act(async () => { await api('DELETE', base); go('#/queues'); }, 'Queue deleted') }, 'Delete queue')));
    const bindings = h('div', { id: 'queue-bindings' });
    const bindForm = h('form', { class: 'toolbar' }, h('input', { id: 'bind-x', placeholder: 'From exchange', required: true }), h('input', { id: 'bind-key', placeholder: 'Routing key' }), h('button', { type: 'submit' }, 'Bind'));
    bindForm.addEventListener('submit', (e) => {
      e.preventDefault();
      act(() => api('POST', '/api/bindings/' + enc(vhost) + '/e/' + enc($('#bind-x').value) + '/q/' + enc(name), { routing_key: $('#bind-key').value, arguments: {} }), 'Bound');
    });
    main().replaceChildren(
      h('p', {}, h('a', { href: '#/queues' }, '‹ Queues')),
      h('div', { class: 'card' }, h('h2', {}, 'Queue ', h('strong', { 'data-testid': 'queue-title' }, name), h('span', { class: 'muted' }, ' in vhost ' + vhost)), info),
      h('div', { class: 'grid2' }, publishForm(vhost, '', name), getForm),
      h('div', { class: 'card' }, h('h2', {}, 'Bindings'), bindings, bindForm),
      danger);
    return async () => {
      let q;
      try { q = await api('GET', base); } catch (err) { if (err.status === 404) { info.replaceChildren('This queue no longer exists.'); return; } throw err; }
      const ms = q.message_stats || {};
      const kv = [
        ['Ready', h('span', { 'data-testid': 'queue-ready' }, num(q.messages_ready))], ['Unacked', num(q.messages_unacknowledged)],
        ['Total', num(q.messages)], ['Ready bytes', bytes(q.message_bytes_ready)], ['Consumers', num(q.consumers)],
        ['Publish', rate(get(ms, 'publish_details.rate'))], ['Deliver / get', rate(get(ms, 'deliver_get_details.rate'))], ['Ack', rate(get(ms, 'ack_details.rate'))],
        ['Durable', String(q.durable)], ['Auto-delete', String(q.auto_delete)], ['Exclusive', String(q.exclusive)],
        ['Arguments', JSON.stringify(q.arguments)], ['State', stateFmt(q.state)],
      ];
      info.replaceChildren(...kv.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
      const bs = await api('GET', base + '/bindings');
      bindings.replaceChildren(table([
        { key: 'source', label: 'From', fmt: (v) => v || '(default exchange)' }, { key: 'routing_key', label: 'Routing key' },
        { key: 'arguments', label: 'Arguments', fmt: (v) => JSON.stringify(v) },
        { key: 'properties_key', label: '', fmt: (pk, b) => (b.source ? h('button', { class: 'link', onclick: (e) => { e.stopPropagation(); act(() => api('DELETE', '/api/bindings/' + enc(vhost) + '/e/' + enc(b.source) + '/q/' + enc(name) + '/' + pk), 'Unbound'); } }, 'Unbind') : '') },
      ], bs));
    };
  }

  function pageExchanges() {
    const list = pagedList({
      id: 'exchanges', title: 'Exchanges', path: '/api/exchanges',
      cols: [{ key: 'name', label: 'Name', fmt: (v) => v || '(AMQP default)' }, { key: 'vhost', label: 'Vhost' }, { key: 'type', label: 'Type' },
        { key: 'durable', label: 'Durable', fmt: (v) => (v ? 'D' : '') }, { key: 'auto_delete', label: 'Auto-delete', fmt: (v) => (v ? 'AD' : '') },
        { key: 'internal', label: 'Internal', fmt: (v) => (v ? 'I' : '') }, { key: 'arguments', label: 'Arguments', fmt: (v) => (v && Object.keys(v).length ? JSON.stringify(v) : ''), sort: false },
        // RabbitMQ's exchange stats: published in, routed out (one per queue reached).
        { key: 'message_stats.publish_in_details.rate', label: 'Rate in', num: true, fmt: rate },
        { key: 'message_stats.publish_out_details.rate', label: 'Rate out', num: true, fmt: rate }],
      columns: 'name,vhost,type,durable,auto_delete,internal,arguments,message_stats.publish_in_details.rate,message_stats.publish_out_details.rate',
      onclick: (r) => go('#/exchanges/' + enc(r.vhost) + '/' + enc(r.name || 'amq.default')),
    });
    const form = h('form', { class: 'card' }, h('h2', {}, 'Add an exchange'),
      h('div', { class: 'grid2' },
        h('div', {}, h('label', {}, 'Vhost', vhostSelect('dx-vhost')), h('label', {}, 'Name', h('input', { id: 'dx-name', required: true }))),
        h('div', {}, h('label', {}, 'Type', h('select', { id: 'dx-type' }, ['direct', 'fanout', 'topic', 'headers'].map((t) => h('option', { value: t }, t)))),
          h('label', { class: 'inline' }, h('input', { type: 'checkbox', id: 'dx-durable', checked: true }), 'durable'),
          h('label', { class: 'inline' }, h('input', { type: 'checkbox', id: 'dx-internal' }), 'internal'),
          h('label', {}, 'Arguments (JSON)', h('textarea', { id: 'dx-args', rows: 2, placeholder: '{"alternate-exchange": "unrouted"}' })))),
      h('button', { class: 'primary', type: 'submit' }, 'Add exchange'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(async () => {
        await api('PUT', '/api/exchanges/' + enc($('#dx-vhost').value) + '/' + enc($('#dx-name').value), {
          type: $('#dx-type').value, durable: $('#dx-durable').checked, internal: $('#dx-internal').checked, arguments: parseArgs($('#dx-args').value),
        });
        $('#dx-name').value = '';
      }, 'Exchange declared');
    });
    main().replaceChildren(list.el, form);
    return list.refresh;
  }

  function pageExchange(vhost, name) {
    const base = '/api/exchanges/' + enc(vhost) + '/' + enc(name);
    const info = h('dl', { class: 'kv' });
    const bindings = h('div', {});
    const builtin = name === 'amq.default' || name.startsWith('amq.');
    main().replaceChildren(
      h('p', {}, h('a', { href: '#/exchanges' }, '‹ Exchanges')),
      h('div', { class: 'card' }, h('h2', {}, 'Exchange ', h('strong', {}, name === 'amq.default' ? '(AMQP default)' : name), h('span', { class: 'muted' }, ' in vhost ' + vhost)), info),
      h('div', { class: 'grid2' }, publishForm(vhost, name), h('div', { class: 'card' }, h('h2', {}, 'Bindings from this exchange'), bindings)),
      builtin ? null : h('div', { class: 'card' }, h('button', { class: 'danger', onclick: () => confirm('Delete exchange ' + name + '?') && act(async () => { await api('DELETE', base); go('#/exchanges'); }, 'Exchange deleted') }, 'Delete exchange')));
    return async () => {
      const x = await api('GET', base);
      const ms = x.message_stats || {};
      const stat = (k) => h('span', { 'data-testid': 'exchange-' + k.replace('_', '-') }, num(ms[k] || 0) + ' · ' + (rate(get(ms, k + '_details.rate')) || '0/s'));
      info.replaceChildren(...[['Type', x.type], ['Durable', String(x.durable)], ['Auto-delete', String(x.auto_delete)], ['Internal', String(x.internal)], ['Arguments', JSON.stringify(x.arguments)],
        ['Published in', stat('publish_in')], ['Routed out', stat('publish_out')]]
        .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
      if (name === 'amq.default') { bindings.replaceChildren(h('p', { class: 'muted' }, 'The default exchange is bound to every queue by its name.')); return; }
      const bs = await api('GET', base + '/bindings/source');
      bindings.replaceChildren(table([{ key: 'destination', label: 'To' }, { key: 'destination_type', label: 'Type' }, { key: 'routing_key', label: 'Routing key' }, { key: 'arguments', label: 'Arguments', fmt: (v) => JSON.stringify(v) }], bs));
    };
  }

  function pageConnections() {
    const list = pagedList({
      id: 'connections', title: 'Connections', path: '/api/connections',
      cols: [
        { key: 'name', label: 'Name' }, { key: 'user', label: 'User' }, { key: 'vhost', label: 'Vhost' },
        { key: 'state', label: 'State', fmt: stateFmt }, { key: 'client_properties.product', label: 'Client', sort: false },
        { key: 'channels', label: 'Channels', num: true }, { key: 'timeout', label: 'Heartbeat', num: true, fmt: (v) => v + ' s' },
        { key: 'recv_oct_details.rate', label: 'From client', num: true, fmt: (v) => bytes(Math.round(v || 0)) + '/s' },
        { key: 'send_oct_details.rate', label: 'To client', num: true, fmt: (v) => bytes(Math.round(v || 0)) + '/s' },
        { key: 'name', label: '', sort: false, fmt: (n) => h('button', { class: 'link danger', onclick: (e) => { e.stopPropagation(); if (confirm('Close connection ' + n + '?')) act(() => api('DELETE', '/api/connections/' + enc(n)), 'Connection closed'); } }, 'Close') },
      ],
    });
    main().replaceChildren(list.el);
    return list.refresh;
  }

  function pageChannels() {
    const list = pagedList({
      id: 'channels', title: 'Channels', path: '/api/channels',
      cols: [
        { key: 'name', label: 'Channel' }, { key: 'user', label: 'User' }, { key: 'vhost', label: 'Vhost' },
        { key: 'state', label: 'State', fmt: stateFmt },
        { key: 'confirm', label: 'Mode', fmt: (c, r) => (c ? 'confirm' : r.transactional ? 'tx' : ''), sort: false },
        { key: 'prefetch_count', label: 'Prefetch', num: true, fmt: (v) => (v ? num(v) : '∞') },
        { key: 'global_prefetch_count', label: 'Global prefetch', num: true, fmt: (v) => (v ? num(v) : '∞') },
        { key: 'messages_unacknowledged', label: 'Unacked', num: true, fmt: num },
        { key: 'messages_unconfirmed', label: 'Unconfirmed', num: true, fmt: num },
        { key: 'consumer_count', label: 'Consumers', num: true, fmt: num },
      ],
    });
    main().replaceChildren(list.el);
    return list.refresh;
  }

  // ----------------------------------------------------------------------------------------
  // routing

  function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

  function route() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
    const page = parts[0] || 'overview';
    $$('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === page));
    if (page === 'queues' && parts.length >= 3) refresher = pageQueue(parts[1], parts.slice(2).join('/'));
    else if (page === 'queues') refresher = pageQueues();
    else if (page === 'exchanges' && parts.length >= 3) refresher = pageExchange(parts[1], parts.slice(2).join('/'));
    else if (page === 'exchanges') refresher = pageExchanges();
    else if (page === 'connections') refresher = pageConnections();
    else if (page === 'channels') refresher = pageChannels();
    else refresher = pageOverview();
    tick();
  }
  window.addEventListener('hashchange', route);
  // For the browser test: the chart's layout on a canvas of its choosing.
  window.warrenDashboard = { drawChart, num };
  window.addEventListener('resize', () => { if ((location.hash || '#/overview').startsWith('#/overview')) tick(); });

  function start(who) {
    $('#login').classList.add('hidden');
    $('#app').classList.remove('hidden');
    $('#whoami').textContent = who.name + (who.tags && who.tags.length ? ' (' + who.tags.join(', ') + ')' : '');
    startTimer();
    route();
  }

  // A saved session goes straight in; otherwise, the login form.
  if (authHeader) {
    api('GET', '/api/whoami').then(start).catch(() => logout());
  } else {
    logout();
  }
})();
