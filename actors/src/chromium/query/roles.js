// Roles and accessible names for `role=` parts: a practical subset of html-aam (implicit roles
// of native elements) and accname (aria-labelledby, aria-label, labels, alt, caption/legend,
// text content for buttons, links, headings..., then title; placeholder last for fields).
// Called once per query with the engine's helpers; returns `byRole(scope, part)`.
(norm, SKIP) => {
  const INPUT_ROLES = {button: 'button', image: 'button', reset: 'button', submit: 'button',
    file: 'button', checkbox: 'checkbox', radio: 'radio', range: 'slider', number: 'spinbutton'};
  const TAG_ROLES = {ARTICLE: 'article', ASIDE: 'complementary', BLOCKQUOTE: 'blockquote',
    BUTTON: 'button', CAPTION: 'caption', CODE: 'code', DATALIST: 'listbox', DD: 'definition',
    DEL: 'deletion', DETAILS: 'group', DIALOG: 'dialog', DT: 'term', EM: 'emphasis',
    FIELDSET: 'group', FIGURE: 'figure', FORM: 'form', H1: 'heading', H2: 'heading',
    H3: 'heading', H4: 'heading', H5: 'heading', H6: 'heading', HR: 'separator',
    INS: 'insertion', LI: 'listitem', MAIN: 'main', MATH: 'math', MENU: 'list', METER: 'meter',
    NAV: 'navigation', OL: 'list', OPTGROUP: 'group', OPTION: 'option', OUTPUT: 'status',
    P: 'paragraph', PROGRESS: 'progressbar', SEARCH: 'search', STRONG: 'strong',
    SUB: 'subscript', SUP: 'superscript', TABLE: 'table', TBODY: 'rowgroup', TD: 'cell',
    TEXTAREA: 'textbox', TFOOT: 'rowgroup', THEAD: 'rowgroup', TIME: 'time', TR: 'row',
    UL: 'list'};
  const LANDMARK_SCOPE = 'article, aside, main, nav, section';
  const implicitRole = (el) => {
    const tag = el.tagName;
    switch (tag) {
      case 'A': case 'AREA': return el.hasAttribute('href') ? 'link' : null;
      case 'HEADER': return el.closest(LANDMARK_SCOPE) ? null : 'banner';
      case 'FOOTER': return el.closest(LANDMARK_SCOPE) ? null : 'contentinfo';
      case 'IMG': return el.getAttribute('alt') === '' && !el.title ? 'presentation' : 'img';
      case 'SECTION': return el.hasAttribute('aria-label') || el.hasAttribute('aria-labelledby') ? 'region' : null;
      case 'SELECT': return el.multiple || el.size > 1 ? 'listbox' : 'combobox';
      case 'TH': return el.getAttribute('scope') === 'row' ? 'rowheader' : 'columnheader';
      case 'INPUT': {
        const type = (el.type || 'text').toLowerCase();
        if (type === 'hidden') return null;
        const listed = el.hasAttribute('list');
        if (type === 'search') return listed ? 'combobox' : 'searchbox';
        return INPUT_ROLES[type] || (listed ? 'combobox' : 'textbox');
      }
    }
    return TAG_ROLES[tag] || null;
  };
  const roleOf = (el) => {
    const explicit = (el.getAttribute('role') || '').trim().split(/\s+/)[0];
    return explicit ? explicit.toLowerCase() : implicitRole(el);
  };
  // Hidden from assistive technology: aria-hidden on the way up, display:none, visibility.
  const hiddenForAria = (el) => {
    if (el.closest('[aria-hidden="true"]')) return true;
    if (el.tagName === 'OPTION') { const s = el.closest('select, datalist'); if (s) return s.tagName === 'DATALIST' || hiddenForAria(s); }
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.visibility === 'collapse') return true;
    if (st.display === 'contents') return false;
    return typeof el.checkVisibility === 'function' ? !el.checkVisibility() : st.display === 'none';
  };
  const NAME_FROM_CONTENT = new Set(['button', 'cell', 'checkbox', 'columnheader', 'gridcell',
    'heading', 'link', 'menuitem', 'menuitemcheckbox', 'menuitemradio', 'option', 'radio',
    'row', 'rowheader', 'switch', 'tab', 'tooltip', 'treeitem']);
  const FIELD = /^(INPUT|SELECT|TEXTAREA)$/;
  // The name an element gives its parent's name from content.
  const embeddedName = (el, skip) => {
    const label = el.getAttribute('aria-label');
    if (label && label.trim()) return label;
    const tag = el.tagName;
    if (tag === 'IMG' || tag === 'AREA') return el.getAttribute('alt') || el.title || '';
    if (el === skip) return '';
    if (tag === 'INPUT') return /^(checkbox|radio|file|image|hidden)$/i.test(el.type) ? '' : el.value;
    if (tag === 'TEXTAREA') return el.value;
    if (tag === 'SELECT') return [...el.selectedOptions].map(o => o.text).join(' ');
    return contentText(el, skip);
  };
  // Text of a subtree as a name: rendered children only, inline ones run together.
  const contentText = (node, skip) => {
    let out = '';
    for (const c of node.childNodes) {
      if (c.nodeType === 3) { out += c.nodeValue; continue; }
      if (c.nodeType !== 1 || SKIP.has(c.tagName) || c.getAttribute('aria-hidden') === 'true') continue;
      const st = getComputedStyle(c);
      if (st.display === 'none' || st.visibility === 'hidden') continue;
      const part = embeddedName(c, skip);
      out += st.display.startsWith('inline') || st.display === 'contents' ? part : ' ' + part + ' ';
    }
    return out;
  };
  const nameOf = (el, role) => {
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean);
    const byIds = norm(ids.map(id => { const r = el.ownerDocument.getElementById(id); return r ? contentText(r, el) : ''; }).join(' '));
    if (byIds) return byIds;
    const label = norm(el.getAttribute('aria-label'));
    if (label) return label;
    const tag = el.tagName;
    if (tag === 'INPUT' && /^(button|submit|reset)$/i.test(el.type)) {
      return norm(el.value) || {submit: 'Submit', reset: 'Reset'}[el.type.toLowerCase()] || norm(el.title);
    }
    if (tag === 'INPUT' && el.type.toLowerCase() === 'image') return norm(el.alt || el.value || el.title) || 'Submit';
    if (FIELD.test(tag)) {
      const labels = norm([...(el.labels || [])].map(l => contentText(l, el)).join(' '));
      return labels || norm(el.title) || norm(el.getAttribute('placeholder'));
    }
    if (tag === 'IMG' || tag === 'AREA') return norm(el.getAttribute('alt')) || norm(el.title);
    const caption = {FIELDSET: 'legend', TABLE: 'caption', FIGURE: 'figcaption'}[tag];
    const captionEl = caption && [...el.children].find(c => c.tagName === caption.toUpperCase());
    if (captionEl) return norm(contentText(captionEl, el));
    if (NAME_FROM_CONTENT.has(role)) { const text = norm(contentText(el, el)); if (text) return text; }
    return norm(el.title);
  };
  const matchString = (actual, {op, value, ignore_case}) => {
    let a = norm(actual), v = norm(value);
    if (ignore_case) { a = a.toLowerCase(); v = v.toLowerCase(); }
    switch (op) {
      case '=': return a === v;
      case '*=': return a.includes(v);
      case '^=': return a.startsWith(v);
      case '$=': return a.endsWith(v);
      case '~=': return a.split(' ').includes(v);
      case '|=': return a === v || a.startsWith(v + '-');
    }
    return false;
  };
  const tristate = (el, attr) => { const v = el.getAttribute(attr); return v === 'mixed' ? 'mixed' : v === 'true'; };
  const STATES = {
    checked: (el) => {
      if (el.tagName === 'INPUT' && /^(checkbox|radio)$/i.test(el.type)) return el.indeterminate ? 'mixed' : el.checked;
      return tristate(el, 'aria-checked');
    },
    pressed: (el) => tristate(el, 'aria-pressed'),
    disabled: (el) => { try { if (el.matches(':disabled')) return true; } catch (e) {} return !!el.closest('[aria-disabled="true"]'); },
    expanded: (el) => el.getAttribute('aria-expanded') === 'true',
    selected: (el) => el.tagName === 'OPTION' ? el.selected : el.getAttribute('aria-selected') === 'true',
    level: (el) => { const a = parseInt(el.getAttribute('aria-level'), 10); const h = /^H([1-6])$/.exec(el.tagName); return a > 0 ? a : (h ? Number(h[1]) : 0); },
  };
  const byRole = (scope, {role, attrs, include_hidden}) => {
    const out = [];
    for (const el of scope.querySelectorAll('*')) {
      if (roleOf(el) !== role) continue;
      if (!include_hidden && hiddenForAria(el)) continue;
      const ok = attrs.every(a => a.attr === 'name' ? matchString(nameOf(el, role), a) : STATES[a.attr](el) === a.value);
      if (ok) out.push(el);
    }
    return out;
  };
  return byRole;
}
