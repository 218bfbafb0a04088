// sixdomain dashboard. Plain JavaScript, no dependencies. Every string
// from the node is inserted as text (textContent / text nodes), never as
// HTML.
'use strict';

(() => {
  const MAX_ROWS = 50;            // final blocks kept in the table
  const WINDOW_MS = 5 * 60 * 1000; // the chart's window
  const BUCKET_MS = 10 * 1000;     // the chart's bucket
  const STATUS_EVERY = 2000, PEERS_EVERY = 5000, AUTH_EVERY = 5000;
  const BACKFILL = 30;             // final blocks read at start, and per poll at most

  const $ = (id) => document.getElementById(id);
  const state = {
    head: 0, finalized: 0, live: false, failures: 0,
    blocks: [],        // table rows, newest first
    heights: new Set(), // heights in blocks or being fetched
    points: [],        // {t: block time ms, n: tx count} of final blocks, oldest first
    fetching: false,
  };

  // el builds an element; string and number children become text nodes.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = String(v);
      else e.setAttribute(k, String(v));
    }
    for (const kid of kids) {
      if (kid === null || kid === undefined) continue;
      e.append(typeof kid === 'object' ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  function short(s, head = 10, tail = 6) {
    s = String(s ?? '');
    return s.length > head + tail + 1 ? s.slice(0, head) + '…' + s.slice(-tail) : s;
  }

  function setText(id, v) { const e = $(id); if (e) e.textContent = String(v); }

  function fmtTime(ms) {
    if (!Number.isFinite(ms)) return '–';
    return new Date(ms).toLocaleTimeString([], { hour12: false });
  }

  // getJSON never rejects: it resolves to {ok, status, body, error}.
  async function getJSON(url, opts) {
    try {
      const r = await fetch(url, Object.assign({ headers: { Accept: 'application/json' } }, opts));
      let body = null;
      try { body = await r.json(); } catch (e) { body = null; }
      return { ok: r.ok, status: r.status, body };
    } catch (e) {
      return { ok: false, status: 0, body: null, error: String(e && e.message || e) };
    }
  }

  function errorText(res) {
    if (res.body && typeof res.body.error === 'string') return res.body.error;
    if (res.body && res.body.didResolutionMetadata && res.body.didResolutionMetadata.message) {
      return res.body.didResolutionMetadata.message;
    }
    return res.error || ('HTTP ' + res.status);
  }

  function replaceRows(tbody, rows, emptyText, cols) {
    tbody.replaceChildren(...rows);
    if (rows.length === 0) tbody.append(el('tr', { class: 'empty' }, el('td', { colspan: cols }, emptyText)));
  }

  // ---- connection indicator ----
  function setConn(s) {
    const c = $('conn');
    c.dataset.state = s;
    c.textContent = { live: 'live', connecting: 'connecting', reconnecting: 'reconnecting…', polling: 'polling' }[s] || s;
    c.title = s === 'live' ? 'following /v1/events' : s === 'polling' ? 'no event stream: polling /v1/status' : 'event stream reconnecting';
  }

  // ---- heights ----
  function setHeights(head, fin) {
    if (Number.isFinite(head) && head > state.head) state.head = head;
    if (Number.isFinite(fin) && fin > state.finalized) state.finalized = fin;
    setText('head', state.head);
    setText('finalized', state.finalized);
    const lag = Math.max(0, state.head - state.finalized);
    setText('lag', lag + (lag === 1 ? ' block' : ' blocks'));
    $('lag').classList.toggle('warn', lag > 10);
  }

  // ---- final blocks ----
  function addFinal(b) {
    if (!b || !Number.isFinite(b.height) || state.blocks.some((x) => x.height === b.height)) return;
    state.heights.add(b.height);
    state.blocks.push(b);
    state.blocks.sort((a, c) => c.height - a.height);
    for (const old of state.blocks.splice(MAX_ROWS)) state.heights.delete(old.height);
    if (Number.isFinite(b.time)) {
      state.points.push({ t: b.time, n: b.tx_count || 0 });
      state.points.sort((a, c) => a.t - c.t);
    }
    setHeights(NaN, b.height);
    renderBlocks();
    renderChart();
  }

  function renderBlocks() {
    const rows = state.blocks.map((b) => el('tr', {},
      el('td', { class: 'num' }, b.height),
      el('td', { class: 'mono opt', title: b.hash }, short(b.hash, 8, 4)),
      el('td', { class: 'mono', title: b.proposer }, short(b.proposer, 14, 4)),
      el('td', { class: b.in_turn ? 'ok' : 'muted', title: b.in_turn ? 'sealed in turn' : 'sealed out of turn' }, b.in_turn ? 'in' : 'out'),
      el('td', { class: 'num' }, b.tx_count),
      el('td', { class: 'num' }, Number.isFinite(b.ttf) ? b.ttf + ' ms' : '–'),
      el('td', { class: 'opt' }, fmtTime(b.time))));
    replaceRows($('blocks').tBodies[0], rows, 'no final block yet', 7);
  }

  function blockFromEvent(d) {
    return { height: d.height, hash: d.hash, proposer: d.proposer, in_turn: !!d.in_turn, tx_count: d.tx_count,
      time: Date.parse(d.time), ttf: Number.isFinite(d.time_to_finality_ms) ? d.time_to_finality_ms : NaN };
  }

  function blockFromAPI(d) {
    return { height: d.height, hash: d.hash, proposer: d.proposer, in_turn: d.difficulty === 2, tx_count: d.tx_count,
      time: Date.parse(d.time), ttf: NaN };
  }

  // fetchFinal reads final blocks the page has not seen, newest first, at
  // most BACKFILL of them (used without the event stream and at start).
  async function fetchFinal() {
    if (state.fetching) return;
    state.fetching = true;
    try {
      const want = [];
      for (let h = state.finalized; h >= 1 && want.length < BACKFILL; h--) {
        if (!state.heights.has(h)) want.push(h);
        if (state.blocks.length && h <= state.blocks[state.blocks.length - 1].height) break;
      }
      for (const h of want) state.heights.add(h);
      const got = await Promise.all(want.map((h) => getJSON('/v1/blocks/' + h)));
      got.forEach((res, i) => {
        if (res.ok && res.body && res.body.final) addFinal(blockFromAPI(res.body));
        else state.heights.delete(want[i]);
      });
      $('blocks-note').textContent = state.live ? '' : '(read from /v1/blocks; time to finality needs the event stream)';
    } finally {
      state.fetching = false;
    }
  }

  // ---- chart ----
  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function renderChart() {
    const now = Date.now();
    const n = WINDOW_MS / BUCKET_MS;
    const buckets = new Array(n).fill(0);
    const start = now - WINDOW_MS;
    state.points = state.points.filter((p) => p.t >= start - BUCKET_MS);
    let lastMinute = 0;
    for (const p of state.points) {
      const i = Math.floor((p.t - start) / BUCKET_MS);
      if (i >= 0 && i < n) buckets[i] += p.n;
      else if (i >= n) buckets[n - 1] += p.n; // block times slightly ahead of this clock
      if (p.t >= now - 60000) lastMinute += p.n;
    }
    setText('tps', (lastMinute / 60).toFixed(2));
    const rates = buckets.map((x) => x / (BUCKET_MS / 1000));
    const max = Math.max(1, ...rates);
    const box = $('chart');
    const W = Math.max(240, Math.floor(box.clientWidth || 600)), H = W < 500 ? 140 : 180, L = 34, B = 18, T = 8;
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart-svg' });
    const y = (v) => T + (H - B - T) * (1 - v / max);
    for (const f of [0, 0.5, 1]) {
      root.append(svg('line', { x1: L, x2: W, y1: y(max * f), y2: y(max * f), class: 'grid' }));
      root.append(svg('text', { x: L - 4, y: y(max * f) + 4, class: 'axis', 'text-anchor': 'end' }, (max * f).toFixed(max * f < 10 && f ? 1 : 0)));
    }
    const bw = (W - L) / n;
    rates.forEach((v, i) => {
      if (v <= 0) return;
      root.append(svg('rect', { x: L + i * bw + 1, y: y(v), width: Math.max(1, bw - 2), height: H - B - y(v), class: 'bar' },));
    });
    [['−5 min', L, 'start'], ['−2.5 min', L + (W - L) / 2, 'middle'], ['now', W, 'end']].forEach(([s, x, a]) =>
      root.append(svg('text', { x, y: H - 4, class: 'axis', 'text-anchor': a }, s)));
    const title = svg('title', {}, 'committed tx/s per 10 s, last 5 minutes');
    root.prepend(title);
    box.replaceChildren(root);
  }

  // ---- status ----
  async function pollStatus() {
    const res = await getJSON('/v1/status');
    if (!res.ok || !res.body) {
      if (!state.live) setConn('polling');
      return;
    }
    const s = res.body;
    setText('chain-id', s.chain_id);
    setText('role', s.role + (s.authority ? ' · authority' : ''));
    setText('mempool', s.mempool);
    setText('peers-count', s.peers);
    setText('node-did', short(s.did, 20, 6));
    $('node-did').title = s.did;
    setText('version', 'sixd ' + s.version);
    document.title = 'sixdomain · ' + s.chain_id;
    setHeights(s.height, s.finalized);
    if (!state.live) fetchFinal();
  }

  // ---- peers ----
  async function loadPeers() {
    const res = await getJSON('/v1/peers');
    if (!res.ok || !res.body) return;
    const rows = (res.body.peers || []).map((p) => el('tr', {},
      el('td', { class: 'mono', title: p.peer_id + '\n' + (p.addrs || []).join('\n') }, short(p.peer_id, 10, 6)),
      el('td', {}, el('span', { class: 'role role-' + p.role }, p.role)),
      el('td', { class: 'opt' }, p.direction),
      el('td', { class: 'num' }, p.latency_ms ? p.latency_ms.toFixed(1) + ' ms' : '–'),
      el('td', { class: 'num' }, Number(p.score || 0).toFixed(1)),
      el('td', { class: 'mono small opt' }, p.agent || '–')));
    replaceRows($('peers').tBodies[0], rows, 'no peers', 6);
  }

  // ---- authorities ----
  async function loadAuthorities() {
    const res = await getJSON('/v1/authorities');
    if (!res.ok || !res.body) return;
    const a = res.body;
    $('authorities').replaceChildren(...(a.authorities || []).map((d) => el('li', { class: 'mono', title: d }, short(d, 18, 6))));
    setText('auth-note', `${(a.authorities || []).length} at height ${a.height}, ${a.signer_limit} to pass a vote`);
    const rows = (a.votes || []).map((v) => el('tr', {},
      el('td', { class: 'mono', title: v.signer }, short(v.signer, 14, 4)),
      el('td', { class: 'mono', title: v.target }, short(v.target, 14, 4)),
      el('td', { class: v.add ? 'ok' : 'bad' }, v.add ? 'add' : 'remove')));
    replaceRows($('votes').tBodies[0], rows, 'no pending votes', 3);
    setText('tally', (a.tally || []).map((t) => `${t.add ? 'add' : 'remove'} ${short(t.target, 14, 4)}: ${t.votes}/${a.signer_limit}`).join(' · '));
  }

  // ---- records ----
  async function search(ev) {
    ev.preventDefault();
    const kind = $('search-kind').value === 'sender' ? 'sender' : 'stream';
    const q = $('search-q').value.trim();
    if (!q) return;
    setText('search-msg', 'searching…');
    const res = await getJSON('/v1/records?' + new URLSearchParams({ [kind]: q, limit: '50' }));
    const tbody = $('records').tBodies[0];
    if (!res.ok || !res.body) {
      setText('search-msg', '✗ ' + errorText(res));
      replaceRows(tbody, [], 'no results', 6);
      return;
    }
    const recs = res.body.records || [];
    setText('search-msg', `${recs.length} record${recs.length === 1 ? '' : 's'}` +
      (kind === 'stream' ? ' on stream ' + q + ', newest first' : ' of ' + short(q, 18, 6)) + (res.body.next ? ' (first 50)' : ''));
    replaceRows(tbody, recs.map(recordRow), 'no records', 6);
  }

  function recordRow(r) {
    const hash = String(r.tx_hash);
    const value = r.value !== undefined ? r.value : (r.value_hex !== undefined ? '0x' + r.value_hex : '');
    const result = el('span', { class: 'verdict', 'data-hash': hash });
    const link = el('a', { href: '/v1/proofs/' + encodeURIComponent(hash), download: 'proof-' + hash + '.json', class: 'proof-link' }, 'proof');
    const btn = el('button', { type: 'button', class: 'verify small-btn' }, 'verify');
    btn.addEventListener('click', () => verify(hash, result, btn));
    return el('tr', { 'data-hash': hash },
      el('td', { class: 'num' }, r.height),
      el('td', { class: 'mono sender', title: r.sender }, short(r.sender, 14, 4)),
      el('td', { class: 'opt' }, r.stream || '–'),
      el('td', { class: 'value', title: value }, short(value, 24, 8)),
      el('td', { class: 'opt' }, fmtTime(r.timestamp_ms)),
      el('td', { class: 'actions' }, link, ' ', btn, ' ', result));
  }

  async function verify(hash, out, btn) {
    btn.disabled = true;
    out.className = 'verdict';
    out.textContent = '…';
    try {
      let proof;
      try {
        const r = await fetch('/v1/proofs/' + encodeURIComponent(hash));
        proof = await r.text();
        if (!r.ok) throw new Error('proof: HTTP ' + r.status);
      } catch (e) {
        out.className = 'verdict bad';
        out.textContent = '✗ ' + String(e && e.message || e);
        return;
      }
      const res = await getJSON('/v1/proofs/verify', { method: 'POST', body: proof, headers: { 'Content-Type': 'application/json' } });
      if (res.ok && res.body && res.body.valid) {
        out.className = 'verdict ok';
        out.textContent = `✓ valid · block ${res.body.height} · ${short(res.body.signer, 14, 4)}`;
        out.title = 'sealed by ' + res.body.signer + ' in block ' + res.body.block_hash;
      } else {
        out.className = 'verdict bad';
        out.textContent = '✗ ' + (res.body && res.body.reason ? res.body.reason : errorText(res));
      }
    } finally {
      btn.disabled = false;
    }
  }

  // ---- DIDs ----
  async function resolveDID(ev) {
    ev.preventDefault();
    const did = $('did-q').value.trim();
    if (!did) return;
    setText('did-msg', 'resolving…');
    const res = await getJSON('/v1/dids/' + encodeURIComponent(did));
    if (!res.body) {
      setText('did-msg', '✗ ' + errorText(res));
      $('did-doc').textContent = '';
      return;
    }
    setText('did-msg', res.ok ? '✓ resolved' : '✗ ' + errorText(res));
    $('did-doc').textContent = JSON.stringify(res.ok && res.body.didDocument ? res.body.didDocument : res.body, null, 2);
  }

  // ---- event stream ----
  function parse(data) { try { return JSON.parse(data); } catch (e) { return null; } }

  function connectEvents() {
    if (!('EventSource' in window)) { setConn('polling'); return; }
    setConn(state.failures ? 'reconnecting' : 'connecting');
    const es = new EventSource('/v1/events?types=head,final,authorities');
    es.onopen = () => { state.live = true; state.failures = 0; setConn('live'); };
    es.onerror = () => {
      state.live = false;
      if (es.readyState === EventSource.CLOSED) {
        // Refused (no such route on this node, or an error): poll, and try
        // again later.
        es.close();
        state.failures++;
        setConn('polling');
        setTimeout(connectEvents, Math.min(60000, 5000 * state.failures));
      } else {
        setConn('reconnecting'); // EventSource retries with Last-Event-ID
      }
    };
    es.addEventListener('head', (m) => { const d = parse(m.data); if (d) setHeights(d.height, NaN); });
    es.addEventListener('final', (m) => { const d = parse(m.data); if (d) addFinal(blockFromEvent(d)); });
    es.addEventListener('authorities', () => { loadAuthorities(); });
    es.addEventListener('reset', () => { fetchFinal(); });
    es.addEventListener('lagged', () => { setConn('reconnecting'); });
  }

  function every(ms, f) { f(); setInterval(f, ms); }

  function start() {
    renderBlocks();
    renderChart();
    replaceRows($('records').tBodies[0], [], 'search a stream or a sender', 6);
    $('search').addEventListener('submit', search);
    $('did-form').addEventListener('submit', resolveDID);
    every(STATUS_EVERY, pollStatus);
    every(PEERS_EVERY, loadPeers);
    every(AUTH_EVERY, loadAuthorities);
    setInterval(renderChart, 5000);
    window.addEventListener('resize', renderChart);
    connectEvents();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
