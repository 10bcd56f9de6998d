//! Arbitrary bytes through the segmenter: paragraphs and sentences are trimmed,
//! ordered, disjoint spans on char boundaries, and cover every word character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neardup::segment::{paragraphs, sentences, ParagraphMode};
use neardup::Document;

fn is_trimmed(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{1a}'
        )
}

fn check_spans(text: &str, spans: &[(usize, usize)], lo: usize, hi: usize) {
    let mut last = lo;
    for &(s, e) in spans {
        assert!(s >= last && s < e && e <= hi, "{s}..{e} in {lo}..{hi}");
        assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
        let body = &text[s..e];
        assert!(
            !body.starts_with(is_trimmed) && !body.ends_with(is_trimmed),
            "{body:?}"
        );
        last = e;
    }
    for (i, c) in text[lo..hi].char_indices() {
        let i = i + lo;
        if !is_trimmed(c) {
            assert!(
                spans.iter().any(|&(s, e)| s <= i && i < e),
                "{c:?} at {i} uncovered"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (range, rest) = data.split_at(data.len().min(4));
    let doc = Document::from_bytes(0, "x".into(), "x".into(), rest.to_vec());
    let text = &doc.text;
    for mode in [
        ParagraphMode::Line,
        ParagraphMode::Blank,
        ParagraphMode::Auto,
    ] {
        let paras = paragraphs(text, mode);
        let spans: Vec<_> = paras
            .iter()
            .map(|p| (p.start as usize, p.end as usize))
            .collect();
        check_spans(text, &spans, 0, text.len());
        for p in &paras {
            let s = sentences(text, p.start as usize, p.end as usize);
            let spans: Vec<_> = s.iter().map(|r| (r.start, r.end)).collect();
            check_spans(text, &spans, p.start as usize, p.end as usize);
        }
    }
    // An arbitrary range, possibly reversed or inside a char: no panic, spans inside.
    let a = range.first().copied().unwrap_or(0) as usize * 3;
    let b = range.get(1).copied().unwrap_or(255) as usize * 3;
    for r in sentences(text, a, b) {
        assert!(r.start < r.end && r.end <= text.len().min(b) && r.start >= a.min(text.len()));
        assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
    }
});
