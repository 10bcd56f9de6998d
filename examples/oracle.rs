//! Brute-force oracle for the paragraph stage: exact word-5-gram Jaccard over all pairs
//! that can reach the threshold, against MinHash/LSH candidates, verified pairs and
//! final clusters.
//!
//! `cargo run --release --example oracle -- DIR [--threshold 0.8]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use neardup::eval::oracle;
use neardup::Config;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oracle: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut dir = None;
    let mut threshold = 0.8;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threshold" => {
                threshold = args.next().ok_or("--threshold needs a value")?.parse()?;
            }
            other if dir.is_none() && !other.starts_with("--") => dir = Some(PathBuf::from(other)),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let dir = dir.ok_or("usage: oracle DIR [--threshold 0.8]")?;
    let config = Config::builder().threshold(threshold).build()?;
    let started = Instant::now();
    let report = oracle(&dir, &config)?;
    print!("{}", report.markdown());
    eprintln!("oracle: {:.2} s in all", started.elapsed().as_secs_f64());
    Ok(())
}
