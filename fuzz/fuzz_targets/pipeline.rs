//! Arbitrary bytes, cut into up to five documents at 0x1E bytes, through the whole
//! pipeline: every report row is a trimmed span on char boundaries of its file, inside
//! its paragraph, and the CSV reads back the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neardup::segment::{paragraphs, ParagraphMode};
use neardup::{find_duplicates, report, Config, Document};

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let mode = [
        ParagraphMode::Line,
        ParagraphMode::Blank,
        ParagraphMode::Auto,
    ][usize::from(control % 3)];
    let min_words = 1 + usize::from(control / 3 % 9);
    let docs: Vec<Document> = rest
        .split(|&b| b == 0x1e)
        .take(5)
        .enumerate()
        .map(|(i, b)| {
            Document::from_bytes(
                i as u32,
                format!("d{i}"),
                format!("d{i}").into(),
                b.to_vec(),
            )
        })
        .collect();
    let config = Config::builder()
        .paragraph_mode(mode)
        .min_words(min_words)
        .threshold(0.5)
        .passage_similarity(0.7)
        .build()
        .expect("valid");
    let findings = find_duplicates(&docs, &config);
    let rows = report::rows(&findings, &docs);
    for r in &rows {
        let doc = &docs[r.file[1..].parse::<usize>().expect("name")];
        let (s, e) = (r.start as usize, r.end as usize);
        assert!(s < e && e <= doc.bytes().len());
        assert_eq!(r.text, &doc.bytes()[s..e]);
        assert!(doc.text.is_char_boundary(s) && doc.text.is_char_boundary(e));
        let p = paragraphs(&doc.text, mode)[r.paragraph as usize - 1];
        assert!(p.start as usize <= s && e <= p.end as usize);
    }
    let mut out = Vec::new();
    report::write_csv(&mut out, &findings, &docs).expect("written");
    let mut rdr = csv::ReaderBuilder::new().from_reader(&out[..]);
    let back: Vec<csv::ByteRecord> = rdr.byte_records().map(|r| r.expect("valid CSV")).collect();
    assert_eq!(back.len(), rows.len());
    for (rec, row) in back.iter().zip(&rows) {
        assert_eq!(&rec[10], row.text);
    }
});
