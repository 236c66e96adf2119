//! JavaScript run in the page. Each is a function expression called with one JSON argument, so
//! inputs are never spliced into code as text.

/// Polls until `selector` reaches `state` or `timeout` ms pass. Resolves to `{ok: true}`,
/// `{timeout: true}` or `{error}` (an invalid selector).
pub(super) const WAIT_FOR: &str = r#"async ({selector, state, timeout}) => {
  const deadline = Date.now() + timeout;
  const visible = (el) => {
    if (!el || !el.isConnected) return false;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const reached = () => {
    const el = document.querySelector(selector);
    switch (state) {
      case 'visible': return visible(el);
      case 'hidden': return !visible(el);
      case 'attached': return !!el;
      case 'detached': return !el;
    }
    return false;
  };
  try { document.querySelector(selector); } catch (e) { return {error: 'invalid selector: ' + e.message}; }
  for (;;) {
    if (reached()) return {ok: true};
    if (Date.now() >= deadline) return {timeout: true};
    await new Promise(r => setTimeout(r, 20));
  }
}"#;

/// Scrolls a (visible) element into view and returns the centre of its box.
pub(super) const CLICK_POINT: &str = r#"({selector}) => {
  const el = document.querySelector(selector);
  if (!el) return {error: 'no element matches ' + selector};
  el.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return {error: 'element ' + selector + ' has no size'};
  return {x: r.left + r.width / 2, y: r.top + r.height / 2};
}"#;

/// Focuses an element and clears its value so inserted text replaces it.
pub(super) const FOCUS_AND_CLEAR: &str = r#"({selector}) => {
  const el = document.querySelector(selector);
  if (!el) return {error: 'no element matches ' + selector};
  el.focus();
  if (el.isContentEditable) {
    const range = document.createRange();
    range.selectNodeContents(el);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  } else if ('value' in el) {
    el.value = '';
    el.dispatchEvent(new Event('input', {bubbles: true}));
  }
  return {ok: document.activeElement === el};
}"#;

/// Reads text, html or a form value from an element, or the whole page.
pub(super) const EXTRACT: &str = r#"({selector, mode}) => {
  const el = selector ? document.querySelector(selector) : (document.body || document.documentElement);
  if (!el) return {error: 'no element matches ' + selector};
  if (mode === 'html') return {value: el.outerHTML};
  if (mode === 'value') return {value: ('value' in el) ? String(el.value) : (el.textContent || '')};
  return {value: el.innerText !== undefined ? el.innerText : (el.textContent || '')};
}"#;

/// Scrolls the page or an element by `amount` steps of 200 px; returns the new position.
pub(super) const SCROLL: &str = r#"({direction, amount, selector}) => {
  const step = 200 * amount;
  const [dx, dy] = {up: [0, -step], down: [0, step], left: [-step, 0], right: [step, 0]}[direction];
  const el = selector ? document.querySelector(selector) : null;
  if (selector && !el) return {error: 'no element matches ' + selector};
  const target = el || window;
  target.scrollBy({left: dx, top: dy, behavior: 'instant'});
  return el ? {x: el.scrollLeft, y: el.scrollTop} : {x: window.scrollX, y: window.scrollY};
}"#;

/// Chooses an option of a `<select>` by value or visible label and fires input and change.
pub(super) const SELECT: &str = r#"({selector, value, label}) => {
  const el = document.querySelector(selector);
  if (!el) return {error: 'no element matches ' + selector};
  if (el.tagName !== 'SELECT') return {error: selector + ' is a <' + el.tagName.toLowerCase() + '>, not a <select>'};
  const options = [...el.options];
  const byValue = value !== null && value !== undefined;
  const opt = options.find(o => byValue ? o.value === value : o.text.trim() === String(label).trim());
  if (!opt) {
    const known = options.map(o => byValue ? o.value : o.text.trim()).slice(0, 20).join(', ');
    return {error: 'no option ' + (byValue ? value : label) + '; options are: ' + known};
  }
  el.value = opt.value;
  opt.selected = true;
  el.dispatchEvent(new Event('input', {bubbles: true}));
  el.dispatchEvent(new Event('change', {bubbles: true}));
  return {value: opt.value, label: opt.text.trim()};
}"#;
