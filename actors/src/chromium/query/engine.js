// The selector engine every page script of ours uses: takes a selector as parsed in Rust
// (`selector.rs`: an array of parts) and never parses selector text itself. Plain CSS (one
// part, no pseudo-classes of Playwright's) goes straight to querySelector. Called with the
// role module (`roles.js`), which is only set up when a role= part is queried.
//
//   one(q)      the element an action uses: the first visible match, else the first match
//   all(q)      every match, in document order
//   exists(q)   whether anything matches
//   visible(el) rendered with a box and not visibility:hidden
(makeRoles) => {
  const norm = (s) => String(s == null ? '' : s).replace(/\u200b/g, '').replace(/\s+/g, ' ').trim();
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD']);
  const BUTTON_INPUT = /^(button|submit|reset)$/i;
  let byRole = null;
  const visible = (el) => {
    if (!el || !el.isConnected) return false;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const order = (a, b) => a === b ? 0 : (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1);
  // A text test: `prune` is false when no descendant can match either; `test` is the match.
  const textTest = (text, exact) => {
    const want = norm(text);
    if (exact) {
      const own = (el) => [...el.childNodes].some(n => n.nodeType === 3 && norm(n.nodeValue) === want);
      return {prune: (s) => s.includes(want), test: (s, el) => s === want || own(el)};
    }
    const lower = want.toLowerCase();
    const has = (s) => s.toLowerCase().includes(lower);
    return {prune: has, test: has};
  };
  const textOf = (el) => el.tagName === 'INPUT' && BUTTON_INPUT.test(el.type) ? norm(el.value) : norm(el.textContent);
  // The smallest elements whose text matches: one that has a matching child gives way to it.
  const byText = (scope, {text, exact}) => {
    const m = textTest(text, exact);
    const out = [];
    const visit = (el) => {
      if (SKIP.has(el.tagName)) return false;
      const s = norm(el.textContent);
      if (!m.prune(s)) return false;
      let child = false;
      for (const c of el.children) if (visit(c)) child = true;
      const self = m.test(s, el);
      if (self && !child) out.push(el);
      return self;
    };
    for (const c of scope.children) visit(c);
    // Button-like inputs carry their text in `value`, which no ancestor's text contains.
    for (const el of scope.querySelectorAll('input')) {
      if (BUTTON_INPUT.test(el.type) && m.test(norm(el.value), el)) out.push(el);
    }
    return out.sort(order);
  };
  const filterOk = (el, f) => {
    switch (f.kind) {
      case 'visible': return visible(el);
      case 'has_text': return norm(el.textContent).toLowerCase().includes(norm(f.text).toLowerCase());
      case 'text': {
        const m = textTest(f.text, f.exact);
        const hit = (e) => m.test(textOf(e), e);
        return hit(el) && ![...el.children].some(hit);
      }
    }
    return false;
  };
  const queryPart = (scope, part) => {
    switch (part.engine) {
      case 'css': {
        const found = [...scope.querySelectorAll(part.css)];
        return part.filters ? found.filter(el => part.filters.every(f => filterOk(el, f))) : found;
      }
      case 'text': return byText(scope, part);
      case 'role': return (byRole = byRole || makeRoles(norm, SKIP))(scope, part);
    }
    throw new Error('unknown selector engine ' + part.engine);
  };
  const all = (q) => {
    let found = [document];
    for (const part of q) {
      if (part.engine === 'nth') {
        const i = part.index < 0 ? found.length + part.index : part.index;
        found = i >= 0 && i < found.length ? [found[i]] : [];
        continue;
      }
      const next = new Set();
      for (const scope of found) for (const el of queryPart(scope, part)) next.add(el);
      found = found.length > 1 ? [...next].sort(order) : [...next];
      if (!found.length) break;
    }
    return found;
  };
  const plain = (q) => q.length === 1 && q[0].engine === 'css' && !q[0].filters;
  const one = (q) => {
    if (plain(q)) {
      const first = document.querySelector(q[0].css);
      if (!first || visible(first)) return first;
      for (const el of document.querySelectorAll(q[0].css)) if (visible(el)) return el;
      return first;
    }
    const found = all(q);
    return found.find(visible) || found[0] || null;
  };
  const exists = (q) => plain(q) ? !!document.querySelector(q[0].css) : all(q).length > 0;
  return {one, all, exists, visible};
}
