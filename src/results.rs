//! The clusters of a run, in report order: held in memory, or kept on disk.
//!
//! An in-memory run sorts its clusters once ([`report_order`]). A spilled run cannot
//! hold them: a corpus that is mostly duplicates has about as many report rows as
//! paragraphs. It writes them as they are made, in sorted runs of at most
//! `run_rows` occurrences ([`ClusterRuns`]), and merges the runs when the report is
//! written ([`ClusterStore`]). Runs and merge use the in-memory run's order,
//! [`cmp_report_order`]: by kept occurrence, then by the occurrences themselves, so the
//! order does not depend on the order in which the clusters were made.
//!
//! Each occurrence is one fixed-width [`OccurrenceRecord`] in a file with the spill
//! header. What each non-kept occurrence removes from its document is also written as a
//! [`RemovalRecord`], to one of [`BUCKETS`] files by range of documents: the bytes the
//! duplicates cover are summed a bucket at a time, and the cleaner reads the removals of
//! the documents it writes a bucket at a time, so that no step holds all rows.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::path::Path;

use rayon::prelude::*;

use crate::clean::{HeldRemovals, RemovalSource, Removed};
use crate::error::{Error, Result};
use crate::pipeline::{Cluster, Kind, Occurrence};
use crate::records::{FixedRecord, OccurrenceRecord, RecordKind, RemovalRecord};
use crate::spill::{bucket_key, BucketFiles, Buckets, SpillWriter, Store, BUCKETS};

/// Clusters in report order, handed out a run at a time.
pub trait Clusters: Sync {
    /// Number of clusters.
    fn count(&self) -> usize;
    /// Number of occurrences: the report's rows.
    fn rows(&self) -> usize;
    /// Bytes covered by non-kept occurrences (overlaps counted once).
    fn duplicate_bytes(&self) -> u64;
    /// Calls `each` with consecutive runs of the clusters, in report order, until it
    /// fails.
    fn for_each_run(&self, each: &mut dyn FnMut(&[Cluster]) -> Result<()>) -> Result<()>;
    /// What the non-kept occurrences remove from each of `n_docs` documents.
    fn removals(&self, n_docs: usize) -> Result<Box<dyn RemovalSource + '_>> {
        Ok(Box::new(HeldRemovals::of(self, n_docs)?))
    }
}

impl Clusters for [Cluster] {
    fn count(&self) -> usize {
        self.len()
    }

    fn rows(&self) -> usize {
        self.iter().map(|c| c.occurrences.len()).sum()
    }

    fn duplicate_bytes(&self) -> u64 {
        let mut spans: Vec<(u32, u32, u32)> = self
            .iter()
            .flat_map(|c| non_kept(c).iter().map(|o| (o.doc, o.start, o.end)))
            .collect();
        covered_bytes(&mut spans)
    }

    fn for_each_run(&self, each: &mut dyn FnMut(&[Cluster]) -> Result<()>) -> Result<()> {
        each(self)
    }
}

impl Clusters for Vec<Cluster> {
    fn count(&self) -> usize {
        self.len()
    }

    fn rows(&self) -> usize {
        self.as_slice().rows()
    }

    fn duplicate_bytes(&self) -> u64 {
        self.as_slice().duplicate_bytes()
    }

    fn for_each_run(&self, each: &mut dyn FnMut(&[Cluster]) -> Result<()>) -> Result<()> {
        each(self)
    }
}

/// The occurrences of `c` after its kept one.
fn non_kept(c: &Cluster) -> &[Occurrence] {
    c.occurrences.get(1..).unwrap_or_default()
}

/// The key clusters are reported in: their kept occurrence's file and start, paragraphs
/// before passages, then its end.
pub fn report_order(c: &Cluster) -> (u32, u32, Kind, u32) {
    c.occurrences
        .first()
        .map_or((0, 0, c.kind, 0), |o| (o.doc, o.start, c.kind, o.end))
}

/// Bytes covered by the union of `(doc, start, end)` spans (sorted here).
pub fn covered_bytes(spans: &mut [(u32, u32, u32)]) -> u64 {
    spans.par_sort_unstable();
    let mut total = 0u64;
    let mut cur: Option<(u32, u32, u32)> = None;
    for &(doc, s, e) in spans.iter() {
        match cur {
            Some((d, cs, ce)) if d == doc && s <= ce => cur = Some((d, cs, ce.max(e))),
            _ => {
                if let Some((_, cs, ce)) = cur {
                    total += u64::from(ce - cs);
                }
                cur = Some((doc, s, e));
            }
        }
    }
    if let Some((_, cs, ce)) = cur {
        total += u64::from(ce - cs);
    }
    total
}

/// Clusters being written to disk in sorted runs.
pub struct ClusterRuns {
    out: SpillWriter,
    removals: Buckets<RemovalRecord>,
    n_docs: usize,
    /// Clusters of the run being gathered, with their sequence numbers.
    pending: Vec<(u64, Cluster)>,
    pending_rows: usize,
    run_rows: usize,
    /// Byte range of each run written.
    runs: Vec<(u64, u64)>,
    count: usize,
    rows: usize,
    fingerprint: u64,
}

/// The removal bucket of document `doc` of `n_docs`: documents in order, a 64th of
/// them per bucket.
fn doc_bucket(doc: u32, n_docs: usize) -> usize {
    let b = u64::from(doc) * BUCKETS as u64 / (n_docs as u64).max(1);
    (b as usize).min(BUCKETS - 1)
}

impl ClusterRuns {
    /// Starts the files under `dir` for clusters over `n_docs` documents: runs of at
    /// most `run_rows` occurrences (a cluster is never cut) are sorted in memory and
    /// written.
    pub fn create(
        dir: &Path,
        fingerprint: u64,
        run_rows: usize,
        n_docs: usize,
    ) -> Result<ClusterRuns> {
        Ok(ClusterRuns {
            out: SpillWriter::create(dir.join("clusters.bin"), RecordKind::Cluster, fingerprint)?,
            removals: Buckets::create(dir, "removals", RecordKind::Removal, fingerprint)?,
            n_docs,
            pending: Vec::new(),
            pending_rows: 0,
            run_rows: run_rows.max(1),
            runs: Vec::new(),
            count: 0,
            rows: 0,
            fingerprint,
        })
    }

    /// Adds `clusters`, which come after all clusters added before in the order they
    /// were made.
    pub fn push(&mut self, clusters: Vec<Cluster>) -> Result<()> {
        for c in clusters {
            self.pending_rows += c.occurrences.len();
            self.rows += c.occurrences.len();
            self.pending.push((self.count as u64, c));
            self.count += 1;
            if self.pending_rows >= self.run_rows {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Sorts and writes the gathered clusters as one run.
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // Clusters that compare equal are identical; the sequence numbers, which are
        // distinct, only make the sort deterministic.
        self.pending
            .par_sort_unstable_by(|(sx, x), (sy, y)| cmp_report_order(x, y).then(sx.cmp(sy)));
        let start = self.out.len;
        let mut buf = Vec::with_capacity(64 << 10);
        for (seq, c) in &self.pending {
            let (kept_doc, kept_start, kind, kept_end) = report_order(c);
            for occ in &c.occurrences {
                OccurrenceRecord {
                    kept_doc,
                    kept_start,
                    kind,
                    kept_end,
                    seq: *seq,
                    occ: *occ,
                }
                .encode(&mut buf);
            }
            if buf.len() >= 60 << 10 {
                self.out.write(&buf)?;
                buf.clear();
            }
        }
        self.out.write(&buf)?;
        self.runs.push((start, self.out.len));
        let mut removals: Vec<RemovalRecord> = self
            .pending
            .iter()
            .flat_map(|(_, c)| {
                non_kept(c).iter().map(|o| RemovalRecord {
                    doc: o.doc,
                    kind: c.kind,
                    paragraph: o.paragraph,
                    start: o.start,
                    end: o.end,
                })
            })
            .collect();
        let n_docs = self.n_docs;
        self.removals
            .append(&mut removals, |r| bucket_key(doc_bucket(r.doc, n_docs)))?;
        self.pending = Vec::new();
        self.pending_rows = 0;
        Ok(())
    }

    /// Writes the last run and opens the store for reading.
    pub fn finish(mut self) -> Result<ClusterStore> {
        self.flush()?;
        let removals: BucketFiles<RemovalRecord> = self.removals.finish()?;
        let mut duplicate_bytes = 0;
        for b in 0..BUCKETS {
            let mut part: Vec<(u32, u32, u32)> = removals
                .read(b, |_| true)?
                .into_iter()
                .map(|s| (s.doc, s.start, s.end))
                .collect();
            duplicate_bytes += covered_bytes(&mut part);
        }
        Ok(ClusterStore {
            store: self.out.finish()?,
            fingerprint: self.fingerprint,
            runs: self.runs,
            count: self.count,
            rows: self.rows,
            duplicate_bytes,
            removals,
            n_docs: self.n_docs,
        })
    }
}

/// Clusters on disk in sorted runs, read back merged.
pub struct ClusterStore {
    store: Store,
    fingerprint: u64,
    runs: Vec<(u64, u64)>,
    count: usize,
    rows: usize,
    duplicate_bytes: u64,
    removals: BucketFiles<RemovalRecord>,
    n_docs: usize,
}

/// Clusters handed out per call of `each` by the merge.
const MERGED_BATCH: usize = 8192;
/// Records read at a time from each run.
const RUN_BUFFER: usize = 1024;

/// One run being read, a buffer at a time.
struct RunReader<'s> {
    store: &'s Store,
    at: u64,
    end: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl RunReader<'_> {
    /// The cluster that starts with record `first`, and the first record after it.
    fn cluster(&mut self, first: OccurrenceRecord) -> Result<(Cluster, Option<OccurrenceRecord>)> {
        let mut cluster = Cluster {
            kind: first.kind,
            occurrences: vec![first.occ],
        };
        loop {
            match self.next()? {
                Some(next) if next.seq == first.seq => cluster.occurrences.push(next.occ),
                other => return Ok((cluster, other)),
            }
        }
    }

    fn next(&mut self) -> Result<Option<OccurrenceRecord>> {
        if self.pos == self.buf.len() {
            let n = (self.end - self.at).min((RUN_BUFFER * OccurrenceRecord::SIZE) as u64);
            if n == 0 {
                return Ok(None);
            }
            self.buf.resize(n as usize, 0);
            self.store
                .read(&mut self.buf, self.at)
                .map_err(|e| Error::io(&self.store.path, e))?;
            self.at += n;
            self.pos = 0;
        }
        let bytes = self
            .buf
            .get(self.pos..self.pos + OccurrenceRecord::SIZE)
            .and_then(OccurrenceRecord::decode)
            .ok_or_else(|| self.store.invalid("bad or truncated cluster record"))?;
        self.pos += OccurrenceRecord::SIZE;
        Ok(Some(bytes))
    }
}

/// A run's next cluster in the merge, ordered by [`cmp_report_order`], then by run.
struct Head {
    cluster: Cluster,
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> Ordering {
        cmp_report_order(&self.cluster, &other.cluster).then(self.run.cmp(&other.run))
    }
}

impl ClusterStore {
    /// All clusters, in report order (for tests and small runs).
    pub fn to_vec(&self) -> Result<Vec<Cluster>> {
        let mut all = Vec::with_capacity(self.count);
        self.for_each_run(&mut |run| {
            all.extend_from_slice(run);
            Ok(())
        })?;
        Ok(all)
    }
}

impl Clusters for ClusterStore {
    fn count(&self) -> usize {
        self.count
    }

    fn rows(&self) -> usize {
        self.rows
    }

    fn duplicate_bytes(&self) -> u64 {
        self.duplicate_bytes
    }

    fn removals(&self, n_docs: usize) -> Result<Box<dyn RemovalSource + '_>> {
        if n_docs != self.n_docs {
            return Err(self.store.invalid("cluster store of another corpus"));
        }
        Ok(Box::new(StoreRemovals {
            store: self,
            bucket: usize::MAX,
            docs: Vec::new(),
        }))
    }

    fn for_each_run(&self, each: &mut dyn FnMut(&[Cluster]) -> Result<()>) -> Result<()> {
        self.store.check(RecordKind::Cluster, self.fingerprint)?;
        let mut readers: Vec<RunReader<'_>> = self
            .runs
            .iter()
            .map(|&(at, end)| RunReader {
                store: &self.store,
                at,
                end,
                buf: Vec::new(),
                pos: 0,
            })
            .collect();
        // Each run's next cluster is in the heap, and the first record of the one after
        // it is in `after`.
        let mut after: Vec<Option<OccurrenceRecord>> = Vec::with_capacity(readers.len());
        let mut heap: BinaryHeap<Reverse<Head>> = BinaryHeap::with_capacity(readers.len());
        for (run, r) in readers.iter_mut().enumerate() {
            let first = r.next()?;
            after.push(None);
            if let Some(first) = first {
                let (cluster, next) = r.cluster(first)?;
                heap.push(Reverse(Head { cluster, run }));
                after[run] = next;
            }
        }
        let mut batch: Vec<Cluster> = Vec::with_capacity(MERGED_BATCH);
        while let Some(Reverse(Head { cluster, run })) = heap.pop() {
            batch.push(cluster);
            if let Some(first) = after[run].take() {
                let (cluster, next) = readers[run].cluster(first)?;
                heap.push(Reverse(Head { cluster, run }));
                after[run] = next;
            }
            if batch.len() == MERGED_BATCH {
                each(&batch)?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            each(&batch)?;
        }
        Ok(())
    }
}

/// Removals read from a [`ClusterStore`], a bucket of documents at a time.
struct StoreRemovals<'s> {
    store: &'s ClusterStore,
    /// The bucket loaded.
    bucket: usize,
    /// Its documents that lose something, sorted.
    docs: Vec<(u32, Removed)>,
}

impl RemovalSource for StoreRemovals<'_> {
    fn take(&mut self, doc: u32) -> Result<Removed> {
        let b = doc_bucket(doc, self.store.n_docs);
        if b != self.bucket {
            let mut records = self.store.removals.read(b, |_| true)?;
            records.par_sort_unstable();
            self.docs.clear();
            for run in records.chunk_by(|x, y| x.doc == y.doc) {
                let mut removed = Removed::default();
                for r in run {
                    match r.kind {
                        Kind::Paragraph => removed.paragraphs.push(r.paragraph),
                        Kind::Passage => removed.passages.push((r.paragraph, r.start, r.end)),
                    }
                }
                self.docs.push((run[0].doc, removed));
            }
            self.bucket = b;
        }
        Ok(match self.docs.binary_search_by_key(&doc, |d| d.0) {
            Ok(i) => std::mem::take(&mut self.docs[i].1),
            Err(_) => Removed::default(),
        })
    }
}

/// Compares two clusters in report order: by [`report_order`], then (clusters with the
/// same kept occurrence, which a passage can have) by their occurrences, so that the
/// order depends on nothing but the clusters themselves.
pub fn cmp_report_order(x: &Cluster, y: &Cluster) -> Ordering {
    let key = |o: &Occurrence| (o.doc, o.start, o.end, o.paragraph, o.line, o.words);
    let sim = |o: &Occurrence| o.similarity.to_bits();
    report_order(x)
        .cmp(&report_order(y))
        .then_with(|| {
            x.occurrences
                .iter()
                .map(key)
                .cmp(y.occurrences.iter().map(key))
        })
        .then_with(|| {
            x.occurrences
                .iter()
                .map(sim)
                .cmp(y.occurrences.iter().map(sim))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(kind: Kind, spans: &[(u32, u32, u32)]) -> Cluster {
        Cluster {
            kind,
            occurrences: spans
                .iter()
                .enumerate()
                .map(|(i, &(doc, start, end))| Occurrence {
                    doc,
                    paragraph: i as u32,
                    start,
                    end,
                    line: 1 + i as u32,
                    words: end - start,
                    similarity: 1.0 - i as f64 / 7.0,
                })
                .collect(),
        }
    }

    #[test]
    fn merged_runs_give_the_stable_sort_of_all_clusters() {
        let mut rng = crate::test_rng(11);
        let made: Vec<Cluster> = (0..2_000)
            .map(|_| {
                let kind = if rng(3) == 0 {
                    Kind::Passage
                } else {
                    Kind::Paragraph
                };
                // Few distinct kept spans, so that many clusters tie.
                let kept = (rng(4) as u32, 10 * rng(3) as u32, 40);
                let mut spans = vec![kept];
                for _ in 0..1 + rng(4) {
                    let s = rng(100) as u32;
                    spans.push((rng(6) as u32, s, s + 1 + rng(30) as u32));
                }
                cluster(kind, &spans)
            })
            .collect();
        let mut expected = made.clone();
        expected.sort_by(cmp_report_order);
        let expected_bytes = expected.duplicate_bytes();
        for run_rows in [1, 7, 100, 1 << 20] {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut runs = ClusterRuns::create(dir.path(), 5, run_rows, 6).expect("created");
            for chunk in made.chunks(333) {
                runs.push(chunk.to_vec()).expect("pushed");
            }
            let store = runs.finish().expect("finished");
            assert_eq!(store.count(), expected.len());
            assert_eq!(store.rows(), expected.rows());
            assert_eq!(
                store.duplicate_bytes(),
                expected_bytes,
                "run_rows {run_rows}"
            );
            assert!(
                store.to_vec().expect("read") == expected,
                "run_rows {run_rows}"
            );
            // The same removals per document as the clusters held in memory (in
            // another order: the cleaner sorts them).
            let sorted = |mut r: Removed| {
                r.paragraphs.sort_unstable();
                r.passages.sort_unstable();
                r
            };
            let mut held = expected.removals(6).expect("held");
            let mut read = store.removals(6).expect("read");
            for d in 0..6 {
                let want = sorted(held.take(d).expect("held"));
                assert!(!want.paragraphs.is_empty() && !want.passages.is_empty());
                assert_eq!(sorted(read.take(d).expect("read")), want, "doc {d}");
            }
            assert!(store.removals(7).is_err(), "another corpus");
        }
    }

    #[test]
    fn covered_bytes_counts_overlaps_once() {
        type Case = (&'static [(u32, u32, u32)], u64);
        let table: [Case; 5] = [
            (&[], 0),
            (&[(0, 0, 10)], 10),
            (&[(0, 0, 10), (0, 5, 15)], 15),
            (&[(0, 0, 10), (1, 0, 10)], 20),
            (&[(2, 20, 30), (2, 0, 10), (2, 10, 20), (2, 5, 8)], 30),
        ];
        for (spans, want) in table {
            assert_eq!(covered_bytes(&mut spans.to_vec()), want, "{spans:?}");
        }
    }

    #[test]
    fn a_damaged_store_is_an_error_naming_its_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut runs = ClusterRuns::create(dir.path(), 5, 10, 2).expect("created");
        runs.push(vec![cluster(Kind::Paragraph, &[(0, 0, 9), (1, 0, 9)])])
            .expect("pushed");
        let mut store = runs.finish().expect("finished");
        // A run said to end mid-record.
        store.runs[0].1 -= 3;
        let err = store.to_vec().expect_err("damaged");
        assert!(err.to_string().contains("clusters.bin"), "{err}");
    }
}
