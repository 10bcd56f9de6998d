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
use crate::pipeline::{Findings, Kind};

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
    pub file: &'a str,
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
    fn name(&self, doc: u32) -> &str;
    /// The whole document `doc` (its text and original bytes).
    fn document(&self, doc: u32) -> Result<Cow<'_, Document>>;
    /// The original bytes `start..end` of document `doc`.
    fn slice(&self, doc: u32, start: u32, end: u32) -> Result<Cow<'_, [u8]>>;
}

impl DocSource for [Document] {
    fn name(&self, doc: u32) -> &str {
        self.get(doc as usize).map_or("", |d| d.name.as_str())
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
}

impl DocSource for Vec<Document> {
    fn name(&self, doc: u32) -> &str {
        self.as_slice().name(doc)
    }

    fn document(&self, doc: u32) -> Result<Cow<'_, Document>> {
        self.as_slice().document(doc)
    }

    fn slice(&self, doc: u32, start: u32, end: u32) -> Result<Cow<'_, [u8]>> {
        self.as_slice().slice(doc, start, end)
    }
}

/// Calls `each` with the rows of `findings`, in report order, reading each span's bytes
/// only when its row is made.
pub fn for_each_row<'a, S: DocSource + ?Sized>(
    findings: &Findings,
    docs: &'a S,
    mut each: impl FnMut(Row<'a>) -> Result<()>,
) -> Result<()> {
    for (i, cluster) in findings.clusters.iter().enumerate() {
        for (j, occ) in cluster.occurrences.iter().enumerate() {
            each(Row {
                cluster: i + 1,
                kind: cluster.kind,
                file: docs.name(occ.doc),
                paragraph: occ.paragraph + 1,
                line: occ.line,
                start: occ.start,
                end: occ.end,
                words: occ.words,
                similarity: occ.similarity,
                keep: j == 0,
                text: docs.slice(occ.doc, occ.start, occ.end)?,
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

/// Writes the report as CSV.
pub fn write_csv<W: Write, S: DocSource + ?Sized>(
    out: W,
    findings: &Findings,
    docs: &S,
) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    w.write_record(HEADER)?;
    for_each_row(findings, docs, |row| {
        let cluster = row.cluster.to_string();
        let paragraph = row.paragraph.to_string();
        let line = row.line.to_string();
        let start = row.start.to_string();
        let end = row.end.to_string();
        let words = row.words.to_string();
        let similarity = format!("{:.3}", row.similarity);
        let fields: [&[u8]; 11] = [
            cluster.as_bytes(),
            row.kind.as_str().as_bytes(),
            row.file.as_bytes(),
            paragraph.as_bytes(),
            line.as_bytes(),
            start.as_bytes(),
            end.as_bytes(),
            words.as_bytes(),
            similarity.as_bytes(),
            if row.keep { b"true" } else { b"false" },
            &row.text,
        ];
        w.write_record(fields)?;
        Ok(())
    })?;
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}
