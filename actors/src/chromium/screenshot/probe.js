// Measures what a screenshot would show of credentials. Runs in our isolated world, so a page
// that overrides DOM prototypes (querySelectorAll, getBoundingClientRect...) changes nothing
// here. Returns every field with a value or a selector match (its box and text), and the text
// of every rendered text node outside fields, in the captured area. `queries` are parsed
// selectors, looked up with the selector engine `Q` (`query/engine.js`): every match, hidden
// or not.
({queries, fullPage, maxTextBytes, maxNodes}, Q) => {
  const vw = window.innerWidth, vh = window.innerHeight;
  const sx = fullPage ? window.scrollX : 0, sy = fullPage ? window.scrollY : 0;
  const seen = (r) => r.width > 0 && r.height > 0 &&
    (fullPage || (r.bottom > 0 && r.right > 0 && r.top < vh && r.left < vw));
  const selected = new Set();
  for (const q of queries) {
    try { for (const e of Q.all(q)) selected.add(e); } catch (e) {}
  }
  const isField = (el) => el.matches('input, textarea, select') || el.isContentEditable;
  const fields = [];
  const candidates = new Set(selected);
  for (const el of document.querySelectorAll('input, textarea, [contenteditable]')) candidates.add(el);
  for (const el of candidates) {
    let r = el.getBoundingClientRect();
    let left = r.left, top = r.top, right = r.right, bottom = r.bottom;
    if (el.isContentEditable) {
      // Editable text may overflow its box: cover what it renders too.
      const range = document.createRange();
      range.selectNodeContents(el);
      const c = range.getBoundingClientRect();
      if (c.width > 0 && c.height > 0) {
        left = Math.min(left, c.left); top = Math.min(top, c.top);
        right = Math.max(right, c.right); bottom = Math.max(bottom, c.bottom);
      }
    }
    const box = {left, top, right, bottom, width: right - left, height: bottom - top};
    if (!seen(box)) continue;
    const value = [el.value, el.isContentEditable ? el.innerText : '', el.getAttribute('placeholder')]
      .filter(v => typeof v === 'string' && v.length > 0).join('\n').slice(0, 65536);
    if (!value && !selected.has(el)) continue;
    fields.push({x: left + sx, y: top + sy, w: box.width, h: box.height, value,
                 selected: selected.has(el)});
  }
  const texts = [];
  let bytes = 0, nodes = 0, overflow = false;
  const root = document.body || document.documentElement;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (++nodes > maxNodes) { overflow = true; break; }
    const text = node.nodeValue;
    if (!text || !text.trim()) continue;
    const parent = node.parentElement;
    if (!parent || parent.closest('script, style, noscript, template, title')) continue;
    let inField = false;
    for (let e = parent; e; e = e.parentElement) { if (isField(e)) { inField = true; break; } }
    if (inField) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    if (!Array.from(range.getClientRects()).some(seen)) continue;
    bytes += text.length;
    if (bytes > maxTextBytes) { overflow = true; break; }
    texts.push(text);
  }
  return {fields, texts, overflow, width: fullPage ? document.documentElement.scrollWidth : vw};
}
