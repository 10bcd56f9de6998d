//! TEMPORARY stand-in (replaced by the real module).
#![allow(missing_docs)]
pub const NORMALIZATION_VERSION: u32 = 1;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Token {
    pub hash: u64,
    pub start: u32,
    pub end: u32,
}
fn fold(c: char) -> Option<char> {
    match c {
        'أ' | 'إ' | 'آ' => Some('ا'),
        'ى' => Some('ي'),
        'ة' => Some('ه'),
        _ => c.to_lowercase().next(),
    }
}
fn walk(text: &str, mut f: impl FnMut(&str, std::ops::Range<usize>)) {
    let mut buf = String::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
            if let Some(d) = fold(c) {
                buf.push(d);
            }
        } else if let Some(s) = start.take() {
            f(&buf, s..i);
            buf.clear();
        }
    }
}
pub fn tokenize(text: &str, base: u32, out: &mut Vec<Token>) {
    walk(text, |w, r| {
        out.push(Token {
            hash: xxhash_rust::xxh3::xxh3_64(w.as_bytes()),
            start: base + r.start as u32,
            end: base + r.end as u32,
        })
    });
}
pub fn normalized_words(text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut v = Vec::new();
    walk(text, |w, r| v.push((w.to_string(), r)));
    v
}
