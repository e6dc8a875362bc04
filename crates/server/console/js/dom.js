// DOM helpers. Every piece of data reaches the page as a text node (textContent),
// never as HTML: a key named <script>alert(1)</script> is shown as those characters.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = !!v;
      else if (k === 'disabled') el.disabled = !!v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

const dec = new TextDecoder('utf-8', { fatal: true });

// Bytes as text when they are printable UTF-8, else as hex.
export function isText(bytes) {
  try {
    const s = dec.decode(bytes);
    // Control characters other than tab and newlines make it binary for display.
    return !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s);
  } catch (_) {
    return false;
  }
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

export function bytesText(bytes) {
  return isText(bytes) ? dec.decode(bytes) : hex(bytes);
}

// A key or value shown as text, or as hex with a marker when it is not UTF-8.
export function bytesView(bytes, cls) {
  if (isText(bytes)) return h('span', { class: cls || 'val' }, dec.decode(bytes));
  return h('span', { class: (cls || 'val') + ' hex', title: 'not UTF-8: shown as hex' },
    h('span', { class: 'badge' }, 'hex'), ' ', hex(bytes));
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + ' ' + u[i];
}

export function fmtNum(n) {
  if (n === null || n === undefined) return '–';
  const v = Number(n);
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + 'M';
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function fmtTtl(ms) {
  if (ms === -1) return 'no TTL';
  if (ms === -2) return 'gone';
  if (ms < 1000) return ms + ' ms';
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400); s %= 86400;
  const hh = Math.floor(s / 3600); s %= 3600;
  const m = Math.floor(s / 60); s %= 60;
  return [d && d + 'd', hh && hh + 'h', m && m + 'm', s + 's'].filter(Boolean).join(' ');
}

// A modal asking to confirm; resolves true or false.
export function confirmDialog(title, message, okLabel = 'Confirm', danger = true) {
  return new Promise((resolve) => {
    const close = (v) => { back.remove(); resolve(v); };
    const ok = h('button', { class: danger ? 'danger' : 'primary', 'data-testid': 'confirm-ok', onclick: () => close(true) }, okLabel);
    const back = h('div', { class: 'modal-back', role: 'dialog', 'aria-modal': 'true' },
      h('div', { class: 'modal' },
        h('h3', null, title),
        h('p', null, message),
        h('div', { class: 'row end' },
          h('button', { 'data-testid': 'confirm-cancel', onclick: () => close(false) }, 'Cancel'),
          ok)));
    back.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(false); });
    document.body.appendChild(back);
    ok.focus();
  });
}

// A modal with a form of text fields; resolves the values or null.
export function promptDialog(title, fields, okLabel = 'OK') {
  return new Promise((resolve) => {
    const inputs = fields.map((f) => f.multiline
      ? h('textarea', { rows: 6, 'data-testid': 'prompt-' + f.name, value: f.value || '', placeholder: f.placeholder || '' })
      : h('input', { type: 'text', 'data-testid': 'prompt-' + f.name, value: f.value || '', placeholder: f.placeholder || '' }));
    const close = (v) => { back.remove(); resolve(v); };
    const submit = (e) => {
      e.preventDefault();
      const out = {};
      fields.forEach((f, i) => { out[f.name] = inputs[i].value; });
      close(out);
    };
    const back = h('div', { class: 'modal-back', role: 'dialog', 'aria-modal': 'true' },
      h('form', { class: 'modal', onsubmit: submit },
        h('h3', null, title),
        fields.map((f, i) => h('label', { class: 'field' }, h('span', null, f.label), inputs[i])),
        h('div', { class: 'row end' },
          h('button', { type: 'button', 'data-testid': 'prompt-cancel', onclick: () => close(null) }, 'Cancel'),
          h('button', { type: 'submit', class: 'primary', 'data-testid': 'prompt-ok' }, okLabel))));
    back.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(null); });
    document.body.appendChild(back);
    if (inputs[0]) inputs[0].focus();
  });
}

let toastBox;
export function toast(msg, kind = 'info') {
  if (!toastBox) {
    toastBox = h('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.appendChild(toastBox);
  }
  const t = h('div', { class: 'toast ' + kind, 'data-testid': 'toast-' + kind }, msg);
  toastBox.appendChild(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}
