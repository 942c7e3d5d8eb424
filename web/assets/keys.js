// allot dashboard, Keys page: list, create (the secret shown once, with a
// copy button) and revoke keys through /api/v1/keys with the session and
// its CSRF token. The API decides who may touch which key.
'use strict';
(function () {
  if (document.body.dataset.page !== 'keys') return;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  const params = new URLSearchParams(location.search);
  const user = params.get('user') || '';
  const body = document.querySelector('#keys .body');
  const problem = document.getElementById('key-problem');

  async function api(method, path, payload) {
    const res = await fetch(path, {
      method, credentials: 'same-origin',
      headers: Object.assign({ Accept: 'application/json' }, payload ? { 'Content-Type': 'application/json' } : {}, method !== 'GET' ? { 'X-CSRF-Token': csrf } : {}),
      body: payload ? JSON.stringify(payload) : undefined,
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
    return data;
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === 'text') e.textContent = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    }
    e.append(...kids);
    return e;
  }
  const day = (t) => (t ? String(t).slice(0, 10) : '');
  function status(k) {
    if (k.revoked_at) return 'revoked ' + day(k.revoked_at);
    if (!k.active) return 'expired ' + day(k.expires_at);
    return k.expires_at ? 'active until ' + day(k.expires_at) : 'active';
  }
  async function load() {
    try {
      const keys = await api('GET', '/api/v1/keys' + (user ? '?user=' + encodeURIComponent(user) : ''));
      if (!keys.length) { body.replaceChildren(el('p', { class: 'empty', text: 'No keys yet.' })); return; }
      const rows = keys.map((k) => el('tr', { 'data-key': k.id },
        el('td', { text: k.id }), el('td', { text: k.user }), el('td', { text: k.label }), el('td', { text: day(k.created_at) }),
        el('td', { text: status(k), 'data-testid': 'key-status' }),
        el('td', {}, k.active ? el('button', { type: 'button', class: 'link', 'data-testid': 'key-revoke', text: 'Revoke', onclick: () => revoke(k) }) : '')));
      const head = el('tr', {}, ...['ID', 'Person', 'Label', 'Created', 'Status', ''].map((t) => el('th', { scope: 'col', text: t })));
      body.replaceChildren(el('table', { 'data-testid': 'keys-table' }, el('thead', {}, head), el('tbody', {}, ...rows)));
    } catch (e) {
      body.replaceChildren(el('p', { class: 'problem', role: 'alert', text: e.message }));
    }
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
  }
  async function revoke(k) {
    if (!confirm('Revoke key ' + k.id + ' (' + k.label + ')? Tools using it stop working.')) return;
    try { await api('DELETE', '/api/v1/keys/' + encodeURIComponent(k.id)); } catch (e) { problem.textContent = e.message; problem.hidden = false; }
    load();
  }
  const form = document.getElementById('key-form');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    problem.hidden = true;
    const f = new FormData(form);
    const payload = { label: f.get('label') || '' };
    const days = Number(f.get('expires'));
    if (days) payload.expires_at = new Date(Date.now() + days * 86400000).toISOString();
    if (f.get('user')) payload.user = f.get('user');
    try {
      const k = await api('POST', '/api/v1/keys', payload);
      const box = document.getElementById('new-secret');
      box.querySelector('code').textContent = k.secret;
      box.hidden = false;
      form.reset();
    } catch (e) {
      problem.textContent = e.message;
      problem.hidden = false;
    }
    load();
  });
  document.querySelector('[data-testid="key-copy"]').addEventListener('click', async (ev) => {
    const secret = document.querySelector('[data-testid="key-secret"]').textContent;
    try { await navigator.clipboard.writeText(secret); ev.target.textContent = 'Copied'; } catch (e) { ev.target.textContent = 'Select and copy it'; }
  });
  load();
})();
