//! Scores a neardup report against the truth written by the `plant` example.
//!
//! `cargo run --release --example score -- --truth F --report F [--assert-targets]
//!  [--threshold 0.8] [--passage-threshold 0.8] [--show-misses N] [--corpus DIR]`
//!
//! Prints the recall table and precision as Markdown. With `--show-misses N`, lists up
//! to N missed plants per kind and level (with their texts when `--corpus` is given).
//! Exit status: 0, or 1 when `--assert-targets` is given and a target is missed, or 2
//! on error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use neardup::eval::{read_report, read_truth, score, Score, ScoreOptions};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("score: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let (mut truth, mut report, mut corpus) = (None, None, None);
    let mut assert_targets = false;
    let mut show = 0usize;
    let mut options = ScoreOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--truth" => truth = Some(PathBuf::from(value()?)),
            "--report" => report = Some(PathBuf::from(value()?)),
            "--corpus" => corpus = Some(PathBuf::from(value()?)),
            "--threshold" => options.threshold = value()?.parse()?,
            "--passage-threshold" => options.passage_threshold = value()?.parse()?,
            "--show-misses" => show = value()?.parse()?,
            "--assert-targets" => assert_targets = true,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let truth = read_truth(&truth.ok_or("--truth FILE is required")?)?;
    let rows = read_report(&report.ok_or("--report FILE is required")?)?;
    let s = score(&truth, &rows, &options);
    print!("{}", s.markdown());
    if show > 0 {
        print_misses(&s, show, corpus.as_deref());
    }
    if assert_targets && !s.missed_targets().is_empty() {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_misses(s: &Score, per_cell: usize, corpus: Option<&Path>) {
    let excerpt = |file: &str, a: u32, b: u32| -> String {
        let Some(dir) = corpus else {
            return String::new();
        };
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        let text =
            String::from_utf8_lossy(bytes.get(a as usize..b as usize).unwrap_or(&[])).into_owned();
        let short: String = text.chars().take(300).collect();
        format!("\n    {short:?}")
    };
    if !s.misses.is_empty() {
        println!("\nMissed plants (up to {per_cell} per kind and level):");
    }
    for cell in &s.cells {
        let misses: Vec<_> = s
            .misses
            .iter()
            .filter(|m| m.truth.kind == cell.kind && m.truth.level == cell.level)
            .take(per_cell)
            .collect();
        for m in misses {
            let t = &m.truth;
            println!(
                "- #{} {} {} ({} words): src {}:{}-{} clusters {:?}; copy {}:{}-{} clusters {:?}{}{}",
                t.id,
                t.kind.as_str(),
                t.level.as_str(),
                t.words,
                t.src_file,
                t.src_start,
                t.src_end,
                m.src_clusters,
                t.dst_file,
                t.dst_start,
                t.dst_end,
                m.dst_clusters,
                excerpt(&t.src_file, t.src_start, t.src_end),
                excerpt(&t.dst_file, t.dst_start, t.dst_end),
            );
        }
    }
    if !s.failed.is_empty() {
        println!("\nRows failing the precision check (first 20):");
        for f in s.failed.iter().take(20) {
            println!(
                "- cluster {} {} {}:{}-{}: reported {:.3}, recomputed {:.4}",
                f.cluster,
                f.kind.as_str(),
                f.file,
                f.start,
                f.end,
                f.reported,
                f.recomputed
            );
        }
    }
}
