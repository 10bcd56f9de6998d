//! Helpers shared by the integration tests that run the binary.

// Each test crate uses its own subset of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `neardup` binary with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neardup"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The rows of a CSV report, header left out.
pub fn read_csv(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_string).collect())
        .collect()
}

// Column indices of the report.
pub const CLUSTER: usize = 0;
pub const KIND: usize = 1;
pub const FILE: usize = 2;
pub const PARAGRAPH: usize = 3;
pub const LINE: usize = 4;
pub const START: usize = 5;
pub const END: usize = 6;
pub const WORDS: usize = 7;
pub const SIMILARITY: usize = 8;
pub const KEEP: usize = 9;
pub const TEXT: usize = 10;
