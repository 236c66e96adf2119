//! JavaScript run in the page. Each is a function expression called with one JSON argument, so
//! inputs are never spliced into code as text, and the selector engine as `Q` (`query.rs`):
//! `query` is the parsed selector, `selector` its text for messages.

/// Polls until `query` reaches `state` or `timeout` ms pass. Resolves to `{ok: true}`,
/// `{timeout: true}` or `{error}` (an invalid selector). `visible`: some match is visible;
/// `hidden`: none is.
pub(super) const WAIT_FOR: &str = r#"async ({query, state, timeout}, Q) => {
  const deadline = Date.now() + timeout;
  const reached = () => {
    switch (state) {
      case 'visible': return Q.visible(Q.one(query));
      case 'hidden': return !Q.visible(Q.one(query));
      case 'attached': return Q.exists(query);
      case 'detached': return !Q.exists(query);
    }
    return false;
  };
  try { Q.exists(query); } catch (e) { return {error: 'invalid selector: ' + e.message}; }
  for (;;) {
    if (reached()) return {ok: true};
    if (Date.now() >= deadline) return {timeout: true};
    await new Promise(r => setTimeout(r, 20));
  }
}"#;

/// Scrolls a (visible) element into view and returns the centre of its box.
pub(super) const CLICK_POINT: &str = r#"({selector, query}, Q) => {
  const el = Q.one(query);
  if (!el) return {error: 'no element matches ' + selector};
  el.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return {error: 'element ' + selector + ' has no size'};
  return {x: r.left + r.width / 2, y: r.top + r.height / 2};
}"#;

/// Focuses an element and clears its value so inserted text replaces it.
pub(super) const FOCUS_AND_CLEAR: &str = r#"({selector, query}, Q) => {
  const el = Q.one(query);
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
pub(super) const EXTRACT: &str = r#"({selector, query, mode}, Q) => {
  const el = query ? Q.one(query) : (document.body || document.documentElement);
  if (!el) return {error: 'no element matches ' + selector};
  if (mode === 'html') return {value: el.outerHTML};
  if (mode === 'value') return {value: ('value' in el) ? String(el.value) : (el.textContent || '')};
  return {value: el.innerText !== undefined ? el.innerText : (el.textContent || '')};
}"#;

/// Scrolls the page or an element by `amount` steps of 200 px; returns the new position.
pub(super) const SCROLL: &str = r#"({direction, amount, selector, query}, Q) => {
  const step = 200 * amount;
  const [dx, dy] = {up: [0, -step], down: [0, step], left: [-step, 0], right: [step, 0]}[direction];
  const el = query ? Q.one(query) : null;
  if (query && !el) return {error: 'no element matches ' + selector};
  const target = el || window;
  target.scrollBy({left: dx, top: dy, behavior: 'instant'});
  return el ? {x: el.scrollLeft, y: el.scrollTop} : {x: window.scrollX, y: window.scrollY};
}"#;

/// Chooses an option of a `<select>` by value or visible label and fires input and change.
pub(super) const SELECT: &str = r#"({selector, query, value, label}, Q) => {
  const el = Q.one(query);
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
