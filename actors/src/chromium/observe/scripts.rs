//! The page scripts behind `observe` and markdown `extract`, each a function expression
//! called with one JSON argument.

/// Collects the snapshot's parts: title, URL, form fields, table heads, main-content lines and
/// visible interactive elements (nav last). Every string is clipped and well-formed UTF-16.
pub(super) const OBSERVE_JS: &str = r#"({fieldChars, contentChars, maxInteractive, maxFields, tableRows, maxTables, maxCols}) => {
  const doc = document;
  const wf = (s) => (typeof s.toWellFormed === 'function' ? s.toWellFormed() : s);
  const cut = (s, n) => {
    if (s.length <= n) return s;
    let k = Math.max(0, n);
    const c = s.charCodeAt(k - 1);
    if (c >= 0xD800 && c <= 0xDBFF) k--;
    return s.slice(0, k);
  };
  const clip = (s, n) => {
    s = String(s == null ? '' : s).slice(0, 4 * n + 64).replace(/\s+/g, ' ').trim();
    return wf(s.length > n ? cut(s, n - 1) + '…' : s);
  };
  const q = (s) => JSON.stringify(s);
  const out = {title: clip(doc.title, 150), url: wf(String(location.href)), fields: [], fields_more: false,
    tables: [], content: [], content_more: false, interactive: [], interactive_more: false};
  const body = doc.body || doc.documentElement;
  if (!body) return out;
  const shown = (el) => {
    if (!el.checkVisibility) return true;
    if (el.checkVisibility({checkVisibilityCSS: true})) return true;
    return getComputedStyle(el).display === 'contents';
  };
  const visible = (el) => {
    if (el.checkVisibility && !el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return false;
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) return false;
    return r.right + scrollX > 0 && r.bottom + scrollY > 0;
  };
  const textOf = (el, n) => {
    if (el.childElementCount < 20) return el.innerText || el.textContent || '';
    let s = '';
    const w = doc.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    while (s.length < 2 * n && w.nextNode()) s += ' ' + w.currentNode.data;
    return s;
  };
  const ownText = (el) => {
    let s = '';
    const walk = (n) => {
      for (let c = n.firstChild; c && s.length < 400; c = c.nextSibling) {
        if (c.nodeType === 3) s += c.data;
        else if (c.nodeType === 1 && !/^(INPUT|SELECT|TEXTAREA|BUTTON|SCRIPT|STYLE|OPTION)$/.test(c.tagName)) walk(c);
      }
    };
    walk(el);
    return s;
  };
  const labelOf = (el) => {
    if (el.labels && el.labels.length) {
      const t = ownText(el.labels[0]);
      if (t.trim()) return t;
    }
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      const t = by.split(/\s+/).map((id) => { const e = doc.getElementById(id); return e ? e.textContent : ''; }).join(' ');
      if (t.trim()) return t;
    }
    return el.getAttribute('aria-label') || el.getAttribute('placeholder') || el.getAttribute('title') || '';
  };
  const attrs = (pairs) => pairs.filter(([, v]) => v != null && v !== '').map(([k, v]) => k + '=' + q(clip(v, fieldChars))).join(' ');

  // Form fields with labels and current values (never a password's).
  for (const el of doc.querySelectorAll('input, select, textarea')) {
    const tag = el.tagName.toLowerCase();
    const type = tag === 'input' ? String(el.type || 'text').toLowerCase() : tag;
    if (/^(hidden|submit|button|reset|image)$/.test(type) || !shown(el)) continue;
    if (out.fields.length >= maxFields) { out.fields_more = true; break; }
    let value = null, state = '';
    if (type === 'password') value = el.value ? '••••' : '';
    else if (type === 'checkbox' || type === 'radio') { state = el.checked ? ' checked' : ' unchecked'; value = el.getAttribute('value'); }
    else if (tag === 'select') value = Array.from(el.selectedOptions, (o) => o.text).join(', ');
    else if (type === 'file') value = el.files ? Array.from(el.files, (f) => f.name).join(', ') : '';
    else value = el.value;
    let line = attrs([['label', labelOf(el)], ['name', el.getAttribute('name')], ['type', type], ['id', el.id]]);
    if (value != null) line += ' value=' + q(clip(value, fieldChars));
    line += state;
    if (el.required) line += ' required';
    if (el.disabled) line += ' disabled';
    out.fields.push(line.trim());
  }

  // Tables: a header row, the first rows, and how many more there are.
  let tableIndex = 0;
  for (const t of doc.querySelectorAll('table')) {
    tableIndex++;
    if (out.tables.length >= maxTables) break;
    const rows = t.rows;
    if (!rows.length || !shown(t)) continue;
    const line = (tr) => {
      const cells = [];
      for (let i = 0; i < tr.cells.length && i < maxCols; i++) cells.push(clip(textOf(tr.cells[i], fieldChars), fieldChars));
      if (tr.cells.length > maxCols) cells.push('…');
      return cells.join(' | ');
    };
    let header = null, skip = 0;
    if (t.tHead && t.tHead.rows.length) { header = t.tHead.rows[0]; skip = t.tHead.rows.length; }
    else if (rows[0].cells.length && Array.from(rows[0].cells).every((c) => c.tagName === 'TH')) { header = rows[0]; skip = 1; }
    const data = [];
    for (let i = skip; i < rows.length && data.length < tableRows; i++) data.push(line(rows[i]));
    out.tables.push({
      name: t.id ? 'table#' + clip(t.id, fieldChars) : 'table[' + tableIndex + ']',
      caption: clip((t.caption && t.caption.textContent) || t.getAttribute('aria-label') || '', fieldChars * 2),
      header: header ? line(header) : '',
      rows: data,
      total_rows: Math.max(0, rows.length - skip),
    });
  }

  // Main content text, one line per block, skipping tables and controls (listed elsewhere).
  const root = doc.querySelector('main') || doc.querySelector('[role=main]') || doc.querySelector('article') || body;
  const SKIP = /^(SCRIPT|STYLE|NOSCRIPT|TEMPLATE|SVG|CANVAS|IFRAME|OBJECT|EMBED|VIDEO|AUDIO|MAP|SELECT|TEXTAREA|INPUT|BUTTON|TABLE|NAV|HEAD|DATALIST)$/;
  const BLOCK = /^(ADDRESS|ARTICLE|ASIDE|BLOCKQUOTE|BR|DD|DETAILS|DIALOG|DIV|DL|DT|FIELDSET|FIGCAPTION|FIGURE|FOOTER|FORM|H[1-6]|HEADER|HGROUP|HR|LI|MAIN|OL|P|PRE|SECTION|SUMMARY|UL|LEGEND|CAPTION)$/;
  let buf = '', used = 0;
  const flush = () => {
    let t = buf.replace(/\s+/g, ' ').trim();
    buf = '';
    if (!t || out.content_more) return;
    const room = contentChars - used;
    if (t.length + 1 > room) { out.content_more = true; if (room < 24) return; t = cut(t, room - 2) + '…'; }
    out.content.push(wf(t));
    used += t.length + 1;
  };
  const walk = (n) => {
    for (let c = n.firstChild; c && !out.content_more; c = c.nextSibling) {
      if (c.nodeType === 3) { buf += cut(c.data, contentChars); if (buf.length > contentChars) flush(); continue; }
      if (c.nodeType !== 1) continue;
      const tag = c.tagName.toUpperCase();
      if (SKIP.test(tag) || c.hidden || c.getAttribute('aria-hidden') === 'true' || !shown(c)) continue;
      const block = BLOCK.test(tag);
      if (block) flush();
      else if (tag === 'A' && c.previousSibling && c.previousSibling.nodeType === 1 && /\S$/.test(buf)) buf += ' ';
      walk(c);
      if (block) flush();
    }
  };
  walk(root);
  flush();

  // Visible interactive elements in document order, navigation last.
  const SEL = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [role=link], ' +
    '[role=checkbox], [role=radio], [role=tab], [role=menuitem], [role=option], [role=switch], [onclick], ' +
    '[tabindex]:not([tabindex^="-"]), [contenteditable=""], [contenteditable=true]';
  const picked = [], nav = [];
  for (const el of doc.querySelectorAll(SEL)) {
    if (picked.length >= maxInteractive) { out.interactive_more = true; break; }
    if (el === body || el === doc.documentElement || !visible(el)) continue;
    if (el.closest('nav, [role=navigation]')) { if (nav.length < maxInteractive) nav.push(el); else out.interactive_more = true; }
    else picked.push(el);
  }
  const room = maxInteractive - picked.length;
  if (nav.length > room) out.interactive_more = true;
  for (const el of picked.concat(nav.slice(0, Math.max(0, room)))) {
    const tag = el.tagName.toLowerCase();
    const type = tag === 'input' || tag === 'button' ? el.getAttribute('type') : null;
    let text;
    if (tag === 'input' && /^(submit|button|reset)$/i.test(type || '')) text = el.value;
    else if (tag === 'input' || tag === 'textarea' || tag === 'select') text = labelOf(el);
    else {
      text = textOf(el, fieldChars);
      if (!text.trim()) { const img = el.querySelector('img[alt]'); text = el.getAttribute('title') || (img ? img.alt : ''); }
    }
    const a = attrs([['id', el.id], ['name', el.getAttribute('name')], ['type', type], ['role', el.getAttribute('role')],
      ['aria-label', el.getAttribute('aria-label')], ['href', el.getAttribute('href')]]);
    let s = '<' + tag + (a ? ' ' + a : '') + (el.disabled ? ' disabled' : '') + '>' + clip(text, fieldChars) + '</' + tag + '>';
    const tr = el.closest('tr');
    if (tr && tr.cells.length && !tr.cells[0].contains(el)) s += ' [row:' + q(clip(textOf(tr.cells[0], fieldChars), fieldChars)) + ']';
    out.interactive.push(s);
  }
  return out;
}"#;

/// Converts the page's main content (or `selector`'s element) to markdown, stopping once
/// `maxChars` is passed. Resolves to `{markdown, more}` or `{error}`.
pub(super) const MARKDOWN_JS: &str = r#"({selector, query, maxChars}, Q) => {
  const doc = document;
  const wf = (s) => (typeof s.toWellFormed === 'function' ? s.toWellFormed() : s);
  let root = null;
  if (selector) {
    try { root = Q.one(query); } catch (e) { return {error: 'invalid selector: ' + e.message}; }
    if (!root) return {error: 'no element matches ' + selector};
  }
  const body = doc.body || doc.documentElement;
  if (!body) return {markdown: '', more: false};
  const structural = !root;
  // Readability-style fallback: the container holding most of the paragraph text.
  const densest = () => {
    const scores = new Map();
    let total = 0, seen = 0;
    const paraText = new Map();
    for (const p of body.querySelectorAll('p, pre, blockquote, li, td')) {
      if (++seen > 5000) break;
      const len = (p.textContent || '').trim().length;
      if (len < 25) continue;
      total += len;
      for (let e = p.parentElement, w = 1; e && w >= 0.25; e = e.parentElement, w /= 2) {
        const hint = (e.className && typeof e.className === 'string' ? e.className : '') + ' ' + e.id;
        let f = /comment|sidebar|footer|menu|promo|share|social|related|banner|cookie/i.test(hint) ? 0.3 : 1;
        if (/article|content|entry|main|post|story|text|body/i.test(hint)) f *= 1.5;
        scores.set(e, (scores.get(e) || 0) + len * w * f);
      }
      for (let e = p.parentElement; e; e = e.parentElement) paraText.set(e, (paraText.get(e) || 0) + len);
    }
    let best = null, bestScore = 0;
    for (const [e, s] of scores) if (s > bestScore) { best = e; bestScore = s; }
    // Widen until the candidate holds most of the paragraph text.
    while (best && best !== body && (paraText.get(best) || 0) < 0.6 * total) best = best.parentElement;
    return best || body;
  };
  if (!root) root = doc.querySelector('main') || doc.querySelector('[role=main]') || doc.querySelector('article') || densest();

  const SKIP = /^(SCRIPT|STYLE|NOSCRIPT|TEMPLATE|HEAD|META|LINK|SVG|CANVAS|IFRAME|OBJECT|EMBED|VIDEO|AUDIO|MAP|BUTTON|SELECT|INPUT|TEXTAREA|OPTION|DATALIST)$/;
  const STRUCT = /^(NAV|ASIDE|FOOTER)$/;
  const STRUCT_ROLES = /^(navigation|complementary|contentinfo|banner|search)$/;
  const BLOCKS = /^(ADDRESS|ARTICLE|ASIDE|BLOCKQUOTE|BODY|CAPTION|CENTER|DD|DETAILS|DIALOG|DIV|DL|DT|FIELDSET|FIGCAPTION|FIGURE|FOOTER|FORM|H[1-6]|HEADER|HGROUP|HR|HTML|LEGEND|LI|MAIN|NAV|OL|P|PRE|SECTION|SUMMARY|TABLE|TBODY|TD|TFOOT|TH|THEAD|TR|UL)$/;
  const INLINES = /^(A|ABBR|B|BDI|BDO|BIG|BR|CITE|CODE|DATA|DEL|DFN|EM|FONT|I|IMG|INS|KBD|LABEL|MARK|Q|S|SAMP|SMALL|SPAN|STRIKE|STRONG|SUB|SUP|TIME|TT|U|VAR|WBR)$/;
  const skip = (el) => {
    const tag = el.tagName.toUpperCase();
    if (SKIP.test(tag) || el.hidden || el.getAttribute('aria-hidden') === 'true') return true;
    if (structural && (STRUCT.test(tag) || STRUCT_ROLES.test(el.getAttribute('role') || '') ||
        (tag === 'HEADER' && !(el.parentElement && el.parentElement.closest('article, main, section, [role=main]'))))) return true;
    if (el.checkVisibility && !el.checkVisibility({checkVisibilityCSS: true})) return getComputedStyle(el).display !== 'contents';
    return false;
  };
  const isBlock = (el) => {
    const tag = el.tagName.toUpperCase();
    if (BLOCKS.test(tag)) return true;
    if (INLINES.test(tag)) return false;
    return !getComputedStyle(el).display.startsWith('inline');
  };
  const clean = (s) => s.replace(/[ \t]+/g, ' ').replace(/ ?\n ?/g, '\n').replace(/\n{3,}/g, '\n\n').trim();
  const wrap = (s, mark) => {
    const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(s);
    return m[2] ? m[1] + mark + m[2] + mark + m[3] : s;
  };
  const url = (u) => u.replace(/ /g, '%20').replace(/\(/g, '%28').replace(/\)/g, '%29');

  // Adjacent links with no text between them read as one word otherwise.
  const gap = (c, s) => (c.tagName === 'A' && c.previousSibling && c.previousSibling.nodeType === 1 && /\S$/.test(s) ? ' ' : '');
  const parts = [];
  let size = 0, full = false, sawH1 = false;
  const emit = (s) => {
    if (!s || !s.trim()) return;
    parts.push(s);
    size += s.length + 2;
    if (size > maxChars) full = true;
  };
  const inline = (node) => {
    let s = '';
    for (let c = node.firstChild; c && s.length <= maxChars; c = c.nextSibling) {
      if (c.nodeType === 3) s += c.data.replace(/\s+/g, ' ');
      else if (c.nodeType === 1 && !skip(c)) s += gap(c, s) + inlineEl(c);
    }
    return s;
  };
  const inlineEl = (el) => {
    switch (el.tagName.toUpperCase()) {
      case 'BR': return '\n';
      case 'IMG': {
        const alt = (el.getAttribute('alt') || '').replace(/\s+/g, ' ').trim();
        if (!alt) return '';
        return /^https?:/i.test(el.src) ? '![' + alt + '](' + url(el.src) + ')' : alt;
      }
      case 'A': {
        const inner = inline(el).replace(/\n+/g, ' ');
        const href = el.getAttribute('href');
        if (!inner.trim() || !href || href.startsWith('#') || /^\s*javascript:/i.test(href)) return inner;
        const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(inner);
        return m[1] + '[' + m[2].replace(/([\[\]])/g, '\\$1') + '](' + url(el.href) + ')' + m[3];
      }
      case 'STRONG': case 'B': return wrap(inline(el), '**');
      case 'EM': case 'I': return wrap(inline(el), '*');
      case 'DEL': case 'S': case 'STRIKE': return wrap(inline(el), '~~');
      case 'CODE': case 'KBD': case 'SAMP': case 'TT': {
        const t = (el.textContent || '').replace(/\s+/g, ' ');
        if (!t.trim()) return t;
        return t.includes('`') ? '`` ' + t + ' ``' : '`' + t + '`';
      }
      default: return isBlock(el) ? ' ' + inline(el) + ' ' : inline(el);
    }
  };
  const dataTable = (t) => {
    if (t.getAttribute('role') === 'presentation' || t.querySelector('table')) return false;
    if (t.tHead || t.caption || t.querySelector('th')) return true;
    return !t.querySelector('p, div, ul, ol, h1, h2, h3, h4, h5, h6, pre, blockquote');
  };
  const table = (t) => {
    const rows = [];
    let cols = 0, used = 0;
    for (let i = 0; i < t.rows.length; i++) {
      const r = t.rows[i];
      if (skip(r)) continue;
      const cells = Array.from(r.cells, (c) => clean(inline(c)).replace(/\n+/g, ' ').replace(/\|/g, '\\|'));
      cols = Math.max(cols, cells.length);
      rows.push(cells);
      used += cells.join(' | ').length + 5;
      if (size + used > maxChars) { full = true; break; }
    }
    if (!rows.length || !cols) return '';
    const line = (cells) => '| ' + Array.from({length: cols}, (_, i) => cells[i] || '').join(' | ') + ' |';
    return [line(rows[0]), '|' + ' --- |'.repeat(cols), ...rows.slice(1).map(line)].join('\n');
  };
  const list = (el, indent, budget) => {
    const ordered = el.tagName.toUpperCase() === 'OL';
    let n = parseInt(el.getAttribute('start') || '1', 10);
    if (!Number.isFinite(n)) n = 1;
    const lines = [];
    let used = 0;
    for (const li of el.children) {
      if (used > budget) { full = true; break; }
      if (li.tagName.toUpperCase() !== 'LI' || skip(li)) continue;
      const marker = ordered ? (n++) + '.' : '-';
      const inner = indent + ' '.repeat(marker.length + 1);
      let text = '';
      const nested = [];
      for (let c = li.firstChild; c; c = c.nextSibling) {
        if (c.nodeType === 3) text += c.data.replace(/\s+/g, ' ');
        else if (c.nodeType !== 1 || skip(c)) continue;
        else if (/^(UL|OL)$/i.test(c.tagName)) { const l = list(c, inner, budget - used); if (l) { nested.push(l); used += l.length; } }
        else text += isBlock(c) ? ' ' + inline(c) + ' ' : gap(c, text) + inlineEl(c);
      }
      const t = clean(text).replace(/\n+/g, ' ');
      if (t || nested.length) lines.push(indent + marker + ' ' + t);
      lines.push(...nested);
      used += t.length + indent.length + 4;
    }
    return lines.join('\n');
  };
  const blocks = (el) => {
    let buf = '';
    const flush = () => { const t = clean(buf); buf = ''; if (t) emit(t); };
    for (let c = el.firstChild; c && !full; c = c.nextSibling) {
      if (c.nodeType === 3) { buf += c.data.replace(/\s+/g, ' '); continue; }
      if (c.nodeType !== 1 || skip(c)) continue;
      if (!isBlock(c)) { buf += gap(c, buf) + inlineEl(c); if (buf.length > maxChars) { flush(); full = true; } continue; }
      flush();
      block(c);
    }
    flush();
  };
  const block = (el) => {
    const tag = el.tagName.toUpperCase();
    if (/^H[1-6]$/.test(tag)) {
      const t = clean(inline(el)).replace(/\n+/g, ' ');
      if (t) { if (tag === 'H1') sawH1 = true; emit('#'.repeat(Number(tag[1])) + ' ' + t); }
      return;
    }
    switch (tag) {
      case 'P': emit(clean(inline(el))); return;
      case 'UL': case 'OL': emit(list(el, '', maxChars - size)); return;
      case 'HR': emit('---'); return;
      case 'PRE': {
        const t = (el.textContent || '').slice(0, maxChars).replace(/\n+$/, '');
        if (t.trim()) emit('```\n' + t.replace(/```/g, '` ` `') + '\n```');
        return;
      }
      case 'BLOCKQUOTE': {
        const start = parts.length;
        blocks(el);
        const inner = parts.splice(start).join('\n\n');
        if (inner) emit(inner.split('\n').map((l) => (l ? '> ' + l : '>')).join('\n'));
        return;
      }
      case 'TABLE': {
        if (!dataTable(el)) { blocks(el); return; }
        if (el.caption && !skip(el.caption)) emit(clean(inline(el.caption)));
        emit(table(el));
        return;
      }
      default: blocks(el);
    }
  };
  if (isBlock(root)) block(root); else emit(clean(inlineEl(root)));
  let md = parts.join('\n\n');
  const title = (doc.title || '').replace(/\s+/g, ' ').trim();
  if (!selector && !sawH1 && title) md = '# ' + title + (md ? '\n\n' + md : '');
  return {markdown: wf(md), more: full};
}"#;
