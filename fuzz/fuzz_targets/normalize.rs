//! Arbitrary bytes through the normalizer: spans on char boundaries inside the text and
//! in order, `tokenize` and `normalized_words` agreeing, normalization idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neardup::normalize::{normalized_words, tokenize};
use neardup::Document;

fuzz_target!(|data: &[u8]| {
    let doc = Document::from_bytes(0, "x".into(), "x".into(), data.to_vec());
    let text = &doc.text;
    let mut tokens = Vec::new();
    tokenize(text, 7, &mut tokens);
    let words = normalized_words(text);
    assert_eq!(tokens.len(), words.len());
    let mut last = 0;
    for (t, (word, span)) in tokens.iter().zip(&words) {
        assert!(!word.is_empty());
        assert!(span.start < span.end && span.end <= text.len());
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
        assert_eq!(
            (t.start - 7, t.end - 7),
            (span.start as u32, span.end as u32)
        );
        assert!(span.start >= last);
        last = span.start;
    }
    let once: Vec<String> = words.into_iter().map(|w| w.0).collect();
    let twice: Vec<String> = normalized_words(&once.join(" "))
        .into_iter()
        .map(|w| w.0)
        .collect();
    assert_eq!(once, twice, "not idempotent on {text:?}");
});
