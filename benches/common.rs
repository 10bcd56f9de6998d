//! Bench input: the corpus named by `NEARDUP_BENCH_CORPUS`, else the shared Arabic corpus
//! when it is present beside the project, else `samples/`.

use std::path::PathBuf;

use neardup::corpus::{list_files, read_all, ReadOptions};
use neardup::Document;

/// The bench corpus directory.
pub fn corpus_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEARDUP_BENCH_CORPUS") {
        return PathBuf::from(dir);
    }
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpora/ant-multisource-2018-04/docs");
    if shared.is_dir() {
        shared
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
    }
}

/// All documents of the bench corpus, read.
pub fn documents() -> Vec<Document> {
    let dir = corpus_dir();
    let (files, _) = list_files(std::slice::from_ref(&dir), false)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    read_all(&files, &ReadOptions::default()).0
}

/// Total bytes.
pub fn total_bytes(docs: &[Document]) -> u64 {
    docs.iter().map(|d| d.text.len() as u64).sum()
}
