//! Command-line arguments (clap types live only on the binary side).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Find near-duplicate paragraphs and repeated passages in text, and report them as CSV.
#[derive(Debug, Parser)]
#[command(name = "neardup", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dedupe one article: report its repeated paragraphs and passages.
    Article {
        /// The article (UTF-8 text, or a JSON Lines file of records).
        file: PathBuf,
        /// Also write the article with its repeats removed (first occurrence kept) to
        /// PATH, or to standard output with `-`.
        #[arg(long, value_name = "PATH")]
        clean: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Scan files and directories (recursively) for duplicates within and across files.
    Scan {
        /// Files or directories to scan.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Also write the cleaned corpus under OUTDIR, with the same relative paths.
        #[arg(long, value_name = "OUTDIR")]
        clean: Option<PathBuf>,
        /// Scan hidden files and directories too.
        #[arg(long)]
        hidden: bool,
        #[command(flatten)]
        common: Common,
    },
}

/// Options shared by both subcommands.
#[derive(Debug, Args)]
pub struct Common {
    /// Write the CSV report to PATH instead of standard output. A file is replaced
    /// atomically (a symlink is followed); a device or FIFO is written in place.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Paragraph similarity threshold: Jaccard of word 5-gram sets, in (0, 1].
    #[arg(long, default_value_t = 0.8, value_name = "J")]
    pub threshold: f64,
    /// Shortest passage (and paragraph) reported, in words.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub min_words: usize,
    /// Minimum similarity of a passage to its cluster's kept occurrence, in (0, 1].
    #[arg(long, default_value_t = 0.8, value_name = "S")]
    pub passage_similarity: f64,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// How files are split into paragraphs: one per line, blocks separated by blank
    /// lines, or `auto` (blank mode for files that hard-wrap their paragraphs).
    #[arg(long, value_enum, default_value_t = Paragraphs::Line, value_name = "MODE")]
    pub paragraphs: Paragraphs,
    /// For JSON Lines input (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`, `.ndjson*`): the field
    /// of each record that holds its text.
    #[arg(long, default_value = "text", value_name = "NAME")]
    pub text_field: String,
    /// For JSON Lines input: the field that holds a record's id (a string or a number),
    /// which names it in the report as `path#id`. A record without one is named by its
    /// line number.
    #[arg(long, default_value = "id", value_name = "NAME")]
    pub id_field: String,
    /// Report whole paragraphs only; skip passage detection.
    #[arg(long)]
    pub no_passages: bool,
    /// Exit with status 1 when any duplicate is found.
    #[arg(long)]
    pub fail_on_duplicates: bool,
    /// Overwrite an existing cleaned output (for scan: replace files of the same name in
    /// OUTDIR, leaving others).
    #[arg(long)]
    pub force: bool,
    /// Keep peak memory near SIZE (bytes, or with a K, M or G suffix: powers of 1024):
    /// when an in-memory run would need more, intermediate data are spilled to
    /// temporary files and reduced one partition bucket at a time. Without it, the
    /// limit is three quarters of the physical memory (or of the control group's limit,
    /// when lower).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<u64>,
    /// Directory for spilled data (default: the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
    /// Print no summary, no warnings and no progress bar.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Show no progress bar (it is shown only when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Also print the time of each stage, the peak memory after it (Linux) and the
    /// pipeline's counts.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Paragraph splitting modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Paragraphs {
    /// One paragraph per line.
    Line,
    /// Blocks separated by blank lines.
    Blank,
    /// Blank for hard-wrapped files, line otherwise.
    Auto,
}

/// Parses a size: bytes, or a number with a K, M, G or T suffix (powers of 1024, an
/// optional trailing `B` or `iB`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (number, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 800M, 2G)"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("{text:?} is not a size of at least one byte"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        let cases: &[(&str, Option<u64>)] = &[
            ("1", Some(1)),
            ("1024", Some(1024)),
            ("1K", Some(1024)),
            ("1k", Some(1024)),
            ("800M", Some(800 << 20)),
            ("1G", Some(1 << 30)),
            ("1GiB", Some(1 << 30)),
            ("1.5G", Some(3 << 29)),
            ("2TB", Some(2 << 40)),
            ("0", None),
            ("-1G", None),
            ("G", None),
            ("lots", None),
            ("", None),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_size(text).ok(), want, "{text}");
        }
    }
}
