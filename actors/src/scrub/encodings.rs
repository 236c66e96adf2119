//! The spellings of one character that the scrubber recognises: raw, percent- and
//! form-encoded, HTML character references, JSON and JavaScript string escapes.

/// Bytes a spelling of `c` can start with.
pub(super) fn first_bytes(c: char) -> Vec<u8> {
    let mut utf8 = [0u8; 4];
    let mut bytes = vec![c.encode_utf8(&mut utf8).as_bytes()[0], b'%', b'&', b'\\'];
    if c == ' ' {
        bytes.push(b'+');
    }
    bytes
}

/// The lengths of every spelling of `c` that starts at `pos` in `text` (usually none or one).
pub(super) fn spellings_at(c: char, text: &[u8], pos: usize) -> Vec<usize> {
    let rest = &text[pos.min(text.len())..];
    let mut lengths = Vec::new();
    let Some(&first) = rest.first() else {
        return lengths;
    };
    let mut utf8 = [0u8; 4];
    let raw = c.encode_utf8(&mut utf8).as_bytes();
    if rest.starts_with(raw) {
        lengths.push(raw.len());
    }
    match first {
        b'+' if c == ' ' => lengths.push(1),
        b'%' => lengths.extend(percent(raw, rest)),
        b'&' => html(c, rest, &mut lengths),
        b'\\' => lengths.extend(escape(c, rest)),
        _ => {}
    }
    lengths
}

/// `%HH` for each UTF-8 byte, hex digits in either case.
fn percent(raw: &[u8], rest: &[u8]) -> Option<usize> {
    let mut at = 0;
    for &byte in raw {
        if rest.get(at) != Some(&b'%') || hex_at(rest, at + 1, 2)? != u32::from(byte) {
            return None;
        }
        at += 3;
    }
    Some(at)
}

/// `&amp;`-style named references (case-insensitive) and `&#38;` / `&#x26;` numeric ones, with
/// or without the closing `;` (browsers accept both for numeric references).
fn html(c: char, rest: &[u8], lengths: &mut Vec<usize>) {
    const NAMED: [(char, &str); 6] = [
        ('&', "&amp;"),
        ('<', "&lt;"),
        ('>', "&gt;"),
        ('"', "&quot;"),
        ('\'', "&apos;"),
        ('\u{a0}', "&nbsp;"),
    ];
    for (ch, name) in NAMED {
        if ch == c
            && rest.len() >= name.len()
            && rest[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            lengths.push(name.len());
        }
    }
    if rest.get(1) != Some(&b'#') {
        return;
    }
    let (radix, digits_at) = match rest.get(2) {
        Some(b'x' | b'X') => (16, 3),
        _ => (10, 2),
    };
    let digits = rest[digits_at..]
        .iter()
        .take(10)
        .take_while(|b| char::from(**b).is_digit(radix))
        .count();
    if digits == 0 {
        return;
    }
    let text = std::str::from_utf8(&rest[digits_at..digits_at + digits]).unwrap_or("");
    if u32::from_str_radix(text, radix).ok() == Some(u32::from(c)) {
        let end = digits_at + digits;
        lengths.push(end);
        if rest.get(end) == Some(&b';') {
            lengths.push(end + 1);
        }
    }
}

/// JSON / JavaScript escapes: `\uXXXX` (a surrogate pair above the BMP), `\xHH`, and the
/// short forms.
fn escape(c: char, rest: &[u8]) -> Option<usize> {
    let short = match c {
        '"' => Some(b'"'),
        '\\' => Some(b'\\'),
        '/' => Some(b'/'),
        '\'' => Some(b'\''),
        '\n' => Some(b'n'),
        '\r' => Some(b'r'),
        '\t' => Some(b't'),
        '\u{8}' => Some(b'b'),
        '\u{c}' => Some(b'f'),
        _ => None,
    };
    let code = u32::from(c);
    match rest.get(1)? {
        b if Some(*b) == short => Some(2),
        b'x' if code < 0x100 && hex_at(rest, 2, 2)? == code => Some(4),
        b'u' => {
            let mut units = [0u16; 2];
            let units = c.encode_utf16(&mut units);
            let mut at = 0;
            for unit in units.iter() {
                if rest.get(at) != Some(&b'\\')
                    || rest.get(at + 1) != Some(&b'u')
                    || hex_at(rest, at + 2, 4)? != u32::from(*unit)
                {
                    return None;
                }
                at += 6;
            }
            Some(at)
        }
        _ => None,
    }
}

/// The value of `n` hex digits at `at`, when they are all hex digits.
fn hex_at(text: &[u8], at: usize, n: usize) -> Option<u32> {
    let digits = text.get(at..at + n)?;
    let mut value = 0;
    for &d in digits {
        value = value * 16 + char::from(d).to_digit(16)?;
    }
    Some(value)
}
