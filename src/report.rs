//! The CSV report: the contract between neardup and its users.
//!
//! Header, exactly: `cluster,kind,file,paragraph,line,start,end,words,similarity,keep,text`.
//! One row per occurrence of a duplicated unit, rows grouped by cluster:
//!
//! | column | meaning |
//! |---|---|
//! | `cluster` | 1-based; clusters are numbered in the order of their kept occurrence (file order, then byte offset) |
//! | `kind` | `paragraph` (the whole paragraph is a near-duplicate of the kept one) or `passage` (a span inside paragraphs that repeats) |
//! | `file` | path relative to the scanned directory with `/` separators; for `article`, as given |
//! | `paragraph` | 1-based paragraph index in the file |
//! | `line` | 1-based line where the span starts |
//! | `start`, `end` | byte offsets of the span in the file, end exclusive |
//! | `words` | normalized words (tokens) in the span |
//! | `similarity` | to the cluster's kept row, three decimals; `1.000` for the kept row. Paragraphs: Jaccard of word 5-gram sets; passages: 2·LCS/(la+lb) over words |
//! | `keep` | `true` for exactly one row per cluster, the first occurrence; `false` otherwise |
//! | `text` | exactly the file's bytes `start..end` (original text, never normalized) |
//!
//! Fields are quoted as RFC 4180 requires (commas, quotes, line breaks). The text is
//! never altered, so a field may begin with `=`, `+`, `-` or `@`: import the file into a
//! spreadsheet as text, not by opening it directly.

use std::borrow::Cow;
use std::io::Write;

use crate::corpus::Document;
use crate::error::Result;
use crate::pipeline::{Cluster, Findings, Kind};
use crate::results::Clusters;
use rayon::prelude::*;

/// The report's header row.
pub const HEADER: [&str; 11] = [
    "cluster",
    "kind",
    "file",
    "paragraph",
    "line",
    "start",
    "end",
    "words",
    "similarity",
    "keep",
    "text",
];

/// One row of the report, as written (the row type is kept apart from the pipeline's).
#[derive(Clone, Debug, PartialEq)]
pub struct Row<'a> {
    /// 1-based cluster number.
    pub cluster: usize,
    /// Paragraph or passage.
    pub kind: Kind,
    /// File name.
    pub file: Cow<'a, str>,
    /// 1-based paragraph index.
    pub paragraph: u32,
    /// 1-based line.
    pub line: u32,
    /// Byte offset of the span.
    pub start: u32,
    /// End of the span (exclusive).
    pub end: u32,
    /// Tokens in the span.
    pub words: u32,
    /// Similarity to the kept row.
    pub similarity: f64,
    /// Whether this is the kept row.
    pub keep: bool,
    /// The original bytes of the span.
    pub text: Cow<'a, [u8]>,
}

/// Where the report reads the documents' names and bytes from: documents in memory,
/// or documents spilled to disk ([`crate::spill::TextStore`]).
pub trait DocSource {
    /// Name of document `doc` in the report.
    fn name(&self, doc: u32) -> Cow<'_, str>;
    /// The whole document `doc` (its text and original bytes).
    fn document(&self, doc: u32) -> Result<Cow<'_, Document>>;
    /// The original bytes `start..end` of document `doc`.
    fn slice(&self, doc: u32, start: u32, end: u32) -> Result<Cow<'_, [u8]>>;
    /// The original bytes of each of the spans `wanted` (document, start, end), in
    /// order. A source that reads from files reads each document's spans together.
    fn slices(&self, wanted: &[(u32, u32, u32)]) -> Result<Vec<Cow<'_, [u8]>>> {
        wanted
            .iter()
            .map(|&(doc, start, end)| self.slice(doc, start, end))
            .collect()
    }
    /// Number of documents.
    fn documents(&self) -> usize;
    /// Whether each call of [`Self::slices`] opens the files of its documents: the
    /// report then asks for many rows' spans at once, so that a document is opened once
    /// for all of them.
    fn opens_files(&self) -> bool {
        false
    }
    /// Index, in the listed input files, of the file document `doc` was read from, if
    /// known.
    fn file_of(&self, doc: u32) -> Option<u32> {
        let _ = doc;
        None
    }
    /// The length in bytes of document `doc`, when it is known without reading it: a
    /// large one can then be read a window at a time ([`crate::clean::removals_in_windows`]).
    fn document_len(&self, doc: u32) -> Option<u64> {
        let _ = doc;
        None
    }
}

impl DocSource for [Document] {
    fn name(&self, doc: u32) -> Cow<'_, str> {
        Cow::Borrowed(self.get(doc as usize).map_or("", |d| d.name.as_str()))
    }

    fn document(&self, doc: u32) -> Result<Cow<'_, Document>> {
        match self.get(doc as usize) {
            Some(d) => Ok(Cow::Borrowed(d)),
            None => Ok(Cow::Owned(Document::from_bytes(
                doc,
                String::new(),
                Vec::new(),
            ))),
        }
    }

    fn slice(&self, doc: u32, start: u32, end: u32) -> Result<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(
            self.get(doc as usize)
                .map_or(&[][..], |d| d.slice(start, end)),
        ))
    }

    fn documents(&self) -> usize {
        self.len()
    }

    fn document_len(&self, doc: u32) -> Option<u64> {
        self.get(doc as usize).map(|d| d.bytes().len() as u64)
    }
}

impl DocSource for Vec<Document> {
    fn name(&self, doc: u32) -> Cow<'_, str> {
        self.as_slice().name(doc)
    }

    fn document(&self, doc: u32) -> Result<Cow<'_, Document>> {
        self.as_slice().document(doc)
    }

    fn slice(&self, doc: u32, start: u32, end: u32) -> Result<Cow<'_, [u8]>> {
        self.as_slice().slice(doc, start, end)
    }

    fn documents(&self) -> usize {
        self.len()
    }

    fn document_len(&self, doc: u32) -> Option<u64> {
        self.as_slice().document_len(doc)
    }
}

/// Calls `each` with the rows of `findings`, in report order, reading each span's bytes
/// only when its row is made.
pub fn for_each_row<'a, S: DocSource + ?Sized>(
    findings: &Findings,
    docs: &'a S,
    each: impl FnMut(Row<'a>) -> Result<()>,
) -> Result<()> {
    clusters_rows(&findings.clusters, 0, docs, each)
}

/// [`for_each_row`] over a run of `clusters`, the first of which is cluster number
/// `first + 1` in the report.
fn clusters_rows<'a, S: DocSource + ?Sized>(
    clusters: &[Cluster],
    first: usize,
    docs: &'a S,
    mut each: impl FnMut(Row<'a>) -> Result<()>,
) -> Result<()> {
    // The spans of a batch of clusters are read together.
    const BATCH: usize = 64;
    let mut wanted = Vec::new();
    for (b, batch) in clusters.chunks(BATCH).enumerate() {
        wanted.clear();
        wanted.extend(spans_of(batch));
        let mut texts = docs.slices(&wanted)?.into_iter();
        rows_with_texts(batch, first + b * BATCH, docs, &mut texts, &mut each)?;
    }
    Ok(())
}

/// The spans (document, start, end) of the occurrences of `clusters`, in row order.
fn spans_of(clusters: &[Cluster]) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
    clusters
        .iter()
        .flat_map(|c| c.occurrences.iter().map(|o| (o.doc, o.start, o.end)))
}

/// The rows of `clusters`, the first of which is cluster number `first + 1`, their
/// texts taken in row order from `texts`.
fn rows_with_texts<'a, S: DocSource + ?Sized>(
    clusters: &[Cluster],
    first: usize,
    docs: &'a S,
    texts: &mut impl Iterator<Item = Cow<'a, [u8]>>,
    each: &mut impl FnMut(Row<'a>) -> Result<()>,
) -> Result<()> {
    for (i, cluster) in clusters.iter().enumerate() {
        for (j, occ) in cluster.occurrences.iter().enumerate() {
            each(Row {
                cluster: first + i + 1,
                kind: cluster.kind,
                file: docs.name(occ.doc),
                paragraph: occ.paragraph + 1,
                line: occ.line,
                start: occ.start,
                end: occ.end,
                words: occ.words,
                similarity: occ.similarity,
                keep: j == 0,
                text: texts.next().unwrap_or_default(),
            })?;
        }
    }
    Ok(())
}

/// The rows of `findings`, in report order.
pub fn rows<'a>(findings: &Findings, docs: &'a [Document]) -> Vec<Row<'a>> {
    let mut out = Vec::new();
    // Documents in memory: no read can fail.
    let _ = for_each_row(findings, docs, |row| {
        out.push(row);
        Ok(())
    });
    out
}

/// Writes the report of `findings` as CSV: [`write_clusters_csv`] over its clusters.
pub fn write_csv<W: Write, S: DocSource + Sync + ?Sized>(
    out: W,
    findings: &Findings,
    docs: &S,
) -> Result<()> {
    write_clusters_csv(out, findings.clusters.as_slice(), docs)
}

/// Writes the report of `clusters` as CSV. Rows are formatted in parallel, a chunk of
/// clusters per task and a window of chunks at a time (so at most a window's text is
/// held), and written in report order: the bytes do not depend on the number of threads.
pub fn write_clusters_csv<W: Write, C: Clusters + ?Sized, S: DocSource + Sync + ?Sized>(
    mut out: W,
    clusters: &C,
    docs: &S,
) -> Result<()> {
    const CHUNK: usize = 64;
    // Write errors are reported as the CSV writer's were.
    let written = |r: std::io::Result<()>| r.map_err(csv::Error::from);
    let mut header = Vec::new();
    for (i, name) in HEADER.iter().enumerate() {
        if i > 0 {
            header.push(b',');
        }
        push_field(&mut header, name.as_bytes());
    }
    header.push(b'\n');
    written(out.write_all(&header))?;
    // Clusters before the current window.
    let mut before = 0;
    let batch_len = 4 * rayon::current_num_threads().max(1);
    let windowed = docs.opens_files();
    clusters.for_each_run(&mut |run| {
        let mut rest = run;
        while !rest.is_empty() {
            let len = if windowed {
                window_len(rest)
            } else {
                rest.len().min(CHUNK * batch_len)
            };
            let (window, tail) = rest.split_at(len);
            // A source that opens files is asked for the whole window's spans at once;
            // another is asked for each chunk's by the task that formats it, so that
            // reading and formatting overlap.
            let texts = if windowed {
                read_spans(docs, window)?
            } else {
                Vec::new()
            };
            // Each chunk of clusters with its first cluster's index and its texts, if
            // they were read for the window.
            let mut chunks = Vec::new();
            let mut at = 0;
            for (c, chunk) in window.chunks(CHUNK).enumerate() {
                let rows = chunk.iter().map(|c| c.occurrences.len()).sum::<usize>();
                let chunk_texts = texts.get(at..at + rows).unwrap_or_default();
                chunks.push((before + c * CHUNK, chunk, chunk_texts));
                at += rows;
            }
            // Formatted a few chunks per thread at a time, so that only their CSV is
            // held besides the window's texts.
            for batch in chunks.chunks(batch_len) {
                let parts: Vec<Result<Vec<u8>>> = batch
                    .par_iter()
                    .map(|&(first, chunk, texts)| {
                        if windowed {
                            format_rows(first, chunk, docs, texts)
                        } else {
                            let wanted: Vec<(u32, u32, u32)> = spans_of(chunk).collect();
                            format_rows(first, chunk, docs, &docs.slices(&wanted)?)
                        }
                    })
                    .collect();
                for part in parts {
                    written(out.write_all(&part?))?;
                }
            }
            before += window.len();
            rest = tail;
        }
        Ok(())
    })?;
    written(out.flush())?;
    Ok(())
}

/// Span bytes whose texts a window of the report reads together, at most (past its
/// first cluster). Small in unit tests, so that they cross windows.
#[cfg(not(test))]
const WINDOW_BYTES: u64 = 8 << 20;
#[cfg(test)]
const WINDOW_BYTES: u64 = 1 << 16;
/// Rows of a window of the report, at most (past its first cluster): 48 bytes each
/// for their texts' places.
#[cfg(not(test))]
const WINDOW_ROWS: usize = 1 << 17;
#[cfg(test)]
const WINDOW_ROWS: usize = 1 << 10;

/// The number of clusters at the head of `clusters` that make the next window of the
/// report: at least one, then as many as keep it within [`WINDOW_BYTES`] of text and
/// [`WINDOW_ROWS`] rows. Each document is read once per window: a document that holds
/// many clusters' occurrences (a boilerplate footer) is opened once per window, not
/// once per 64 clusters, and the texts held stay within a few MB.
fn window_len(clusters: &[Cluster]) -> usize {
    let (mut bytes, mut rows) = (0u64, 0usize);
    let over = clusters.iter().position(|c| {
        bytes += c
            .occurrences
            .iter()
            .map(|o| u64::from(o.end.saturating_sub(o.start)))
            .sum::<u64>();
        rows += c.occurrences.len();
        bytes > WINDOW_BYTES || rows > WINDOW_ROWS
    });
    over.map_or(clusters.len(), |i| i.max(1))
}

/// The texts of the occurrences of `window`, in row order. The spans are read a
/// document at a time, groups of whole documents in parallel.
fn read_spans<'a, S: DocSource + Sync + ?Sized>(
    docs: &'a S,
    window: &[Cluster],
) -> Result<Vec<Cow<'a, [u8]>>> {
    let wanted: Vec<(u32, u32, u32)> = spans_of(window).collect();
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_unstable_by_key(|&i| wanted[i]);
    // Groups of about a fourth of a thread's share, cut between documents.
    let target = (wanted.len() / (4 * rayon::current_num_threads().max(1))).max(1);
    let mut groups: Vec<&[usize]> = Vec::new();
    let mut rest = &order[..];
    while !rest.is_empty() {
        let mut end = target.min(rest.len());
        while end < rest.len() && wanted[rest[end]].0 == wanted[rest[end - 1]].0 {
            end += 1;
        }
        let (group, tail) = rest.split_at(end);
        groups.push(group);
        rest = tail;
    }
    let read: Vec<Vec<Cow<'a, [u8]>>> = groups
        .par_iter()
        .map(|group| {
            let spans: Vec<(u32, u32, u32)> = group.iter().map(|&i| wanted[i]).collect();
            docs.slices(&spans)
        })
        .collect::<Result<_>>()?;
    let mut texts: Vec<Cow<'a, [u8]>> = vec![Cow::Borrowed(&[][..]); wanted.len()];
    for (group, group_texts) in groups.iter().zip(read) {
        for (&i, text) in group.iter().zip(group_texts) {
            texts[i] = text;
        }
    }
    Ok(texts)
}

/// The CSV rows of `clusters`, the first of which is cluster number `first + 1`, with
/// their `texts` in row order.
fn format_rows<S: DocSource + ?Sized>(
    first: usize,
    clusters: &[Cluster],
    docs: &S,
    texts: &[Cow<'_, [u8]>],
) -> Result<Vec<u8>> {
    let rows: usize = clusters.iter().map(|c| c.occurrences.len()).sum();
    let text_bytes: usize = texts.iter().map(|t| t.len()).sum();
    // The texts, and about 64 bytes a row for the rest.
    let mut out = Vec::with_capacity(text_bytes + 64 * rows);
    let mut texts = texts.iter().map(|t| Cow::Borrowed(t.as_ref()));
    rows_with_texts(clusters, first, docs, &mut texts, &mut |row| {
        write_row(&mut out, &row);
        Ok(())
    })?;
    Ok(out)
}

/// Appends one row to `out`, LF-terminated. Fields are quoted only where RFC 4180 needs
/// it ([`push_field`]), as the `csv` crate's default writer does: the report's bytes are
/// that writer's (a unit test holds them to it).
fn write_row(out: &mut Vec<u8>, row: &Row<'_>) {
    push_number(out, row.cluster as u64);
    out.push(b',');
    out.extend_from_slice(row.kind.as_str().as_bytes());
    out.push(b',');
    push_field(out, row.file.as_bytes());
    for n in [row.paragraph, row.line, row.start, row.end, row.words] {
        out.push(b',');
        push_number(out, u64::from(n));
    }
    out.push(b',');
    push_similarity(out, row.similarity);
    out.extend_from_slice(if row.keep { b",true," } else { b",false," });
    push_field(out, &row.text);
    out.push(b'\n');
}

/// Appends `field`, in double quotes with its quotes doubled if it holds a comma, a
/// quote or a line break (`\n` or `\r`), as it is otherwise.
fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    let special = memchr::memchr3(b',', b'"', b'\n', field).is_some()
        || memchr::memchr(b'\r', field).is_some();
    if !special {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    let mut rest = field;
    while let Some(q) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=q]);
        out.push(b'"');
        rest = &rest[q + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// Appends `n` in decimal.
fn push_number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `x` with three decimals, exactly as `format!("{x:.3}")`: the thousandths
/// nearest to `x`. A value within 10⁻⁷ of a tie between two (`0.0625` is one), or out
/// of the range the fast path covers, goes through `format!`, which rounds ties to even.
fn push_similarity(out: &mut Vec<u8>, x: f64) {
    // `x · 1000` is off by at most 2⁻⁵³ of itself, under 10⁻⁹ here: far from a tie, it
    // rounds to the same thousandth as the exact product.
    let scaled = x * 1000.0;
    let floor = scaled.floor();
    let frac = scaled - floor;
    if x.is_sign_positive() && scaled < 1e12 && (frac - 0.5).abs() > 1e-7 {
        let thousandths = floor as u64 + u64::from(frac > 0.5);
        push_number(out, thousandths / 1000);
        out.push(b'.');
        let rest = thousandths % 1000;
        out.extend_from_slice(&[
            b'0' + (rest / 100) as u8,
            b'0' + (rest / 10 % 10) as u8,
            b'0' + (rest % 10) as u8,
        ]);
    } else {
        use std::io::Write as _;
        // Writing to a vector cannot fail.
        let _ = write!(out, "{x:.3}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Occurrence;

    /// The report written one row at a time through [`for_each_row`]: the oracle of the
    /// parallel writer.
    fn sequential_csv(findings: &Findings, docs: &[Document]) -> Vec<u8> {
        let mut w = csv_writer();
        w.write_record(HEADER).expect("header");
        for_each_row(findings, docs, |row| {
            let numbers = [
                row.cluster.to_string(),
                row.kind.as_str().to_string(),
                row.file.to_string(),
                row.paragraph.to_string(),
                row.line.to_string(),
                row.start.to_string(),
                row.end.to_string(),
                row.words.to_string(),
                format!("{:.3}", row.similarity),
                row.keep.to_string(),
            ];
            let mut fields: Vec<&[u8]> = numbers.iter().map(|s| s.as_bytes()).collect();
            fields.push(&row.text);
            w.write_record(fields)?;
            Ok(())
        })
        .expect("rows");
        w.into_inner().expect("flushed")
    }

    /// The `csv` crate's writer, as the report's rows were written before it formatted
    /// them itself: the oracle of their bytes.
    fn csv_writer() -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new())
    }

    /// Documents in memory that say they open files, for the report's windowed reads.
    struct OpensFiles<'d>(&'d [Document]);

    impl DocSource for OpensFiles<'_> {
        fn name(&self, doc: u32) -> Cow<'_, str> {
            self.0.name(doc)
        }

        fn document(&self, doc: u32) -> Result<Cow<'_, Document>> {
            self.0.document(doc)
        }

        fn slice(&self, doc: u32, start: u32, end: u32) -> Result<Cow<'_, [u8]>> {
            self.0.slice(doc, start, end)
        }

        fn documents(&self) -> usize {
            self.0.len()
        }

        fn opens_files(&self) -> bool {
            true
        }
    }

    #[test]
    fn parallel_report_equals_sequential_for_any_thread_count() {
        let docs: Vec<Document> = (0..7u32)
            .map(|d| {
                let text = format!(
                    "سطر \"{d}\", مع فاصلة\nline, two \"quoted\"\n{}",
                    "x y ".repeat(50)
                );
                Document::from_bytes(d, format!("doc,{d}.txt"), text.into_bytes())
            })
            .collect();
        // Enough clusters to fill several windows and chunks.
        let clusters: Vec<Cluster> = (0..40_000u32)
            .map(|i| Cluster {
                kind: if i % 3 == 0 {
                    Kind::Passage
                } else {
                    Kind::Paragraph
                },
                occurrences: (0..1 + i % 4)
                    .map(|j| Occurrence {
                        doc: (i + j) % 7,
                        paragraph: j,
                        start: j * 3,
                        end: 20 + (i % 90),
                        line: 1 + j,
                        words: i % 50,
                        similarity: f64::from(i % 1000) / 999.0,
                    })
                    .collect(),
            })
            .collect();
        let findings = Findings {
            clusters,
            ..Findings::default()
        };
        let expected = sequential_csv(&findings, &docs);
        for threads in [1, 2, 5] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let mut got = Vec::new();
            pool.install(|| write_csv(&mut got, &findings, docs.as_slice()))
                .expect("written");
            assert!(got == expected, "{threads} threads");
            // A source that opens files is read a window at a time.
            let mut got = Vec::new();
            pool.install(|| write_csv(&mut got, &findings, &OpensFiles(&docs)))
                .expect("written");
            assert!(got == expected, "{threads} threads, windows");
        }
    }

    /// The row as the `csv` crate writes it: the fields the report's writer formats.
    fn csv_row(row: &Row<'_>) -> Vec<u8> {
        let mut w = csv_writer();
        let similarity = format!("{:.3}", row.similarity);
        let numbers =
            [row.paragraph, row.line, row.start, row.end, row.words].map(|n| n.to_string());
        let mut fields: Vec<&[u8]> = vec![b"", row.kind.as_str().as_bytes(), row.file.as_bytes()];
        let cluster = row.cluster.to_string();
        fields[0] = cluster.as_bytes();
        fields.extend(numbers.iter().map(|n| n.as_bytes()));
        fields.push(similarity.as_bytes());
        fields.push(if row.keep { b"true" } else { b"false" });
        fields.push(&row.text);
        w.write_record(fields).expect("row");
        w.into_inner().expect("flushed")
    }

    /// Bytes that need quoting, or are plain, or begin a multibyte char.
    fn field_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let byte = prop::sample::select(vec![
            b'a', b' ', b',', b'"', b'\n', b'\r', b'\\', b'#', b'=', b'\t', 0xD8, 0xA7, 0xE3,
        ]);
        prop::collection::vec(byte, 0..40)
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(4096))]

        /// Every row's bytes are the `csv` crate's: quoting, numbers, similarities.
        #[test]
        fn rows_are_written_as_the_csv_crate_writes_them(
            text in field_bytes(),
            file in field_bytes(),
            cluster in proptest::prelude::any::<usize>(),
            numbers in proptest::prelude::any::<[u32; 5]>(),
            thousandths in 0u32..=1000,
            offset in -1.0f64..1.0,
            keep in proptest::prelude::any::<bool>(),
        ) {
            let file = String::from_utf8_lossy(&file).into_owned();
            let row = Row {
                cluster,
                kind: if keep { Kind::Paragraph } else { Kind::Passage },
                file: Cow::Owned(file),
                paragraph: numbers[0],
                line: numbers[1],
                start: numbers[2],
                end: numbers[3],
                words: numbers[4],
                // Near a thousandth, a tie, or anywhere between.
                similarity: (f64::from(thousandths) + offset) / 1000.0,
                keep,
                text: Cow::Owned(text),
            };
            let mut got = Vec::new();
            write_row(&mut got, &row);
            proptest::prop_assert_eq!(got, csv_row(&row));
        }
    }

    /// Similarities are formatted as `format!("{:.3}")` formats them, ties (to even) and
    /// values a hair from a tie included.
    #[test]
    fn similarities_have_three_decimals_as_format_gives() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            0.5,
            2.0 / 3.0,
            1e-300,
            f64::NAN,
            f64::INFINITY,
            1e15,
        ];
        // Every sixteenth is a tie at three decimals or exact.
        values.extend((0..=32).map(|i| f64::from(i) / 16.0));
        for n in 0..=2000 {
            let x = f64::from(n) / 2000.0;
            values.extend([x, x.next_up(), x.next_down(), x.next_up().next_up()]);
        }
        let mut rng = proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        );
        use proptest::prelude::*;
        // Uniform in [0, 1), every bit of the mantissa drawn.
        values.extend((0..100_000).map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64));
        for x in values {
            let mut got = Vec::new();
            push_similarity(&mut got, x);
            assert_eq!(
                String::from_utf8(got).expect("ASCII"),
                format!("{x:.3}"),
                "{x:e}"
            );
        }
    }
}
