//! Plants known duplicates into a copy of a corpus and writes their truth.
//!
//! `cargo run --release --example plant -- --src DIR --out DIR --seed N
//!  [--levels exact,ortho,light,medium] [--kinds para-cross,...] [--per-kind N]
//!  [--truth FILE] [--keep-existing | --existing-report FILE]`
//!
//! Paragraphs that neardup already reports in the source corpus are never sources or
//! targets: found by running the detector, or read from `--existing-report` (a report
//! of the source corpus, e.g. from a reference build); `--keep-existing` uses them all.
//! The truth goes to `--truth`, by default `OUT.truth.csv` next to the output directory
//! (never inside it, where a scan would read it).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use neardup::eval::{parse_kinds, parse_levels, plant, write_truth, PlantOptions};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plant: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut src, mut out, mut seed, mut truth) = (None, None, None, None);
    let mut options = PlantOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--src" => src = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--seed" => seed = Some(value()?.parse::<u64>()?),
            "--truth" => truth = Some(PathBuf::from(value()?)),
            "--levels" => options.levels = parse_levels(&value()?)?,
            "--kinds" => options.kinds = parse_kinds(&value()?)?,
            "--per-kind" => options.per_kind = value()?.parse()?,
            "--keep-existing" => options.exclude_existing = false,
            "--existing-report" => options.existing_report = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let src = src.ok_or("--src DIR is required")?;
    let out = out.ok_or("--out DIR is required")?;
    let seed = seed.ok_or("--seed N is required")?;
    let truth_path = truth.unwrap_or_else(|| {
        let mut name = out.file_name().unwrap_or_default().to_os_string();
        name.push(".truth.csv");
        out.with_file_name(name)
    });
    let started = Instant::now();
    let truth = plant(&src, &out, seed, &options)?;
    write_truth(&truth_path, &truth)?;
    eprintln!(
        "plant: {} copies planted in {} (truth: {}); {:.2} s",
        truth.len(),
        out.display(),
        truth_path.display(),
        started.elapsed().as_secs_f64()
    );
    for kind in &options.kinds {
        let counts: Vec<String> = options
            .levels
            .iter()
            .map(|l| {
                let n = truth
                    .iter()
                    .filter(|t| t.kind == *kind && t.level == *l)
                    .count();
                format!("{} {n}", l.as_str())
            })
            .collect();
        eprintln!("  {}: {}", kind.as_str(), counts.join(", "));
    }
    Ok(())
}
