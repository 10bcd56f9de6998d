//! Plain records exchanged between stages, the partition function, and their
//! fixed-width on-disk form.
//!
//! Every keyed stage (LSH bands, passage seeds) is a map that emits `(key, value)`
//! records and a reduce over the records of one partition. The partition of a record is
//! a function of its key alone, [`partition`], stable across machines, thread counts and
//! releases, so the same functions can later run over spill files or across processes
//! (`research/distributed.md` §6.3).
//!
//! The binary form of a record is little-endian and fixed-width, and a file of records
//! starts with a [`Header`]: magic, format version, record kind.

use crate::cluster::Interval;
use crate::passage::SeedMatch;
use crate::pipeline::{Kind, Occurrence};

/// Number of key bits that pick a partition: 2^8 = 256 partitions.
pub const PARTITION_BITS: u32 = 8;

/// The partition of a 64-bit key: its top [`PARTITION_BITS`] bits. Keys are xxh3 or
/// mixed hashes, so partitions are balanced.
#[inline]
pub fn partition(key: u64) -> usize {
    (key >> (64 - PARTITION_BITS)) as usize
}

/// Globally stable paragraph id: the document's position in the input in the high 32
/// bits, the paragraph's 0-based position in the document in the low 32 bits. Documents
/// are numbered in input order: files in the sorted input list, and the records of a
/// JSON Lines file in line order. It does not depend on thread or process counts.
#[inline]
pub fn paragraph_id(doc: u32, paragraph: u32) -> u64 {
    (u64::from(doc) << 32) | u64::from(paragraph)
}

/// One LSH band of one paragraph: 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BandRecord {
    /// Hash of (band index, the band's slots).
    pub key: u64,
    /// [`paragraph_id`] of the paragraph.
    pub para: u64,
}

/// One passage seed (winnowed word k-gram) occurrence: 20 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeedPosting {
    /// Hash of the k-gram.
    pub hash: u64,
    /// [`paragraph_id`] of the paragraph.
    pub para: u64,
    /// Token position of the k-gram in the paragraph.
    pub pos: u32,
}

/// A candidate pair of paragraphs (dense indices, `a < b`) proposed by LSH: 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CandidatePair {
    /// First paragraph.
    pub a: u32,
    /// Second paragraph.
    pub b: u32,
}

/// One occurrence of a found cluster, with its cluster's place in report order: 56
/// bytes. The occurrences of a cluster are consecutive, the kept one first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OccurrenceRecord {
    /// Document of the cluster's kept occurrence.
    pub kept_doc: u32,
    /// Start of the kept occurrence.
    pub kept_start: u32,
    /// Kind of the cluster.
    pub kind: Kind,
    /// End of the kept occurrence.
    pub kept_end: u32,
    /// Order in which the cluster was made: breaks ties of the fields above.
    pub seq: u64,
    /// The occurrence.
    pub occ: Occurrence,
}

/// The two token spans of an aligned passage pair: 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpanPair {
    /// The span in the first paragraph (dense index).
    pub a: Interval,
    /// The span in the second paragraph.
    pub b: Interval,
}

/// A non-kept occurrence, as what it removes from its document: 20 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RemovalRecord {
    /// Document.
    pub doc: u32,
    /// Its cluster's kind.
    pub kind: Kind,
    /// 0-based paragraph in the document.
    pub paragraph: u32,
    /// Start byte.
    pub start: u32,
    /// End byte, exclusive.
    pub end: u32,
}

/// Code of a kind in records.
fn kind_code(kind: Kind) -> u32 {
    match kind {
        Kind::Paragraph => 0,
        Kind::Passage => 1,
    }
}

/// Kind of a code in records.
fn kind_of(code: u32) -> Option<Kind> {
    match code {
        0 => Some(Kind::Paragraph),
        1 => Some(Kind::Passage),
        _ => None,
    }
}

/// Magic number opening every file of records neardup writes: "NDUP".
pub const MAGIC: [u8; 4] = *b"NDUP";
/// Version of the record formats below; bump on any change of layout.
pub const FORMAT_VERSION: u16 = 3;

/// Kinds of record file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum RecordKind {
    /// [`BandRecord`]s.
    Band = 1,
    /// [`SeedPosting`]s.
    Seed = 2,
    /// [`BandRecord`]s whose key is the hash of the paragraph's whole token sequence
    /// (exact-duplicate groups).
    Exact = 3,
    /// [`SeedMatch`]es.
    Match = 4,
    /// Token hashes, `u32` each, of all paragraphs in order.
    Tokens = 5,
    /// Paragraph spans: start and end byte offsets and first line, `u32` each, of all
    /// paragraphs.
    Paragraphs = 6,
    /// Document bytes, concatenated.
    Texts = 7,
    /// [`CandidatePair`]s.
    Pair = 8,
    /// [`OccurrenceRecord`]s: the clusters found.
    Cluster = 9,
    /// [`RemovalRecord`]s: what the non-kept occurrences remove.
    Removal = 10,
    /// [`SpanPair`]s: aligned passage spans.
    SpanPair = 11,
}

impl RecordKind {
    fn from_u16(k: u16) -> Option<RecordKind> {
        Some(match k {
            1 => RecordKind::Band,
            2 => RecordKind::Seed,
            3 => RecordKind::Exact,
            4 => RecordKind::Match,
            5 => RecordKind::Tokens,
            6 => RecordKind::Paragraphs,
            7 => RecordKind::Texts,
            8 => RecordKind::Pair,
            9 => RecordKind::Cluster,
            10 => RecordKind::Removal,
            11 => RecordKind::SpanPair,
            _ => return None,
        })
    }
}

/// The 16-byte header of a record file: magic, version, kind, and a fingerprint of the
/// parameters that produced the records (K, bands, seeds, normalization version), so
/// that records of different runs are never mixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// What the file holds.
    pub kind: RecordKind,
    /// Fingerprint of the producing parameters.
    pub fingerprint: u64,
}

impl Header {
    /// Encoded size in bytes.
    pub const SIZE: usize = 16;

    /// The header's bytes.
    pub fn encode(&self) -> [u8; Header::SIZE] {
        let mut out = [0u8; Header::SIZE];
        out[0..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[6..8].copy_from_slice(&(self.kind as u16).to_le_bytes());
        out[8..16].copy_from_slice(&self.fingerprint.to_le_bytes());
        out
    }

    /// Parses a header, saying what is wrong with a foreign or outdated file.
    pub fn decode(bytes: &[u8]) -> Result<Header, String> {
        if bytes.len() < Header::SIZE || bytes[0..4] != MAGIC {
            return Err("not a neardup record file (bad magic number)".to_string());
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != FORMAT_VERSION {
            return Err(format!(
                "record format version {version}, this build reads {FORMAT_VERSION}"
            ));
        }
        let k = u16::from_le_bytes([bytes[6], bytes[7]]);
        let kind = RecordKind::from_u16(k).ok_or_else(|| format!("unknown record kind {k}"))?;
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&bytes[8..16]);
        Ok(Header {
            kind,
            fingerprint: u64::from_le_bytes(fp),
        })
    }
}

/// A record with a fixed-width little-endian encoding.
pub trait FixedRecord: Sized {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Appends the encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Decodes from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Option<Self>;
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

impl FixedRecord for BandRecord {
    const SIZE: usize = 16;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.key.to_le_bytes());
        out.extend_from_slice(&self.para.to_le_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(BandRecord {
            key: u64_at(bytes, 0)?,
            para: u64_at(bytes, 8)?,
        })
    }
}

impl FixedRecord for SeedPosting {
    const SIZE: usize = 20;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hash.to_le_bytes());
        out.extend_from_slice(&self.para.to_le_bytes());
        out.extend_from_slice(&self.pos.to_le_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(SeedPosting {
            hash: u64_at(bytes, 0)?,
            para: u64_at(bytes, 8)?,
            pos: u32_at(bytes, 16)?,
        })
    }
}

impl FixedRecord for CandidatePair {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.a.to_le_bytes());
        out.extend_from_slice(&self.b.to_le_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(CandidatePair {
            a: u32_at(bytes, 0)?,
            b: u32_at(bytes, 4)?,
        })
    }
}

impl FixedRecord for SeedMatch {
    const SIZE: usize = 16;
    fn encode(&self, out: &mut Vec<u8>) {
        let (pos_a, pos_b) = (self.pos_a.into(), self.pos_b.into());
        for v in [self.a, self.b, pos_a, pos_b] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(SeedMatch {
            a: u32_at(bytes, 0)?,
            b: u32_at(bytes, 4)?,
            pos_a: u16::try_from(u32_at(bytes, 8)?).ok()?,
            pos_b: u16::try_from(u32_at(bytes, 12)?).ok()?,
        })
    }
}

impl FixedRecord for OccurrenceRecord {
    const SIZE: usize = 56;
    fn encode(&self, out: &mut Vec<u8>) {
        let o = &self.occ;
        for v in [
            self.kept_doc,
            self.kept_start,
            kind_code(self.kind),
            self.kept_end,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.seq.to_le_bytes());
        for v in [o.doc, o.paragraph, o.start, o.end, o.line, o.words] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&o.similarity.to_bits().to_le_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(OccurrenceRecord {
            kept_doc: u32_at(bytes, 0)?,
            kept_start: u32_at(bytes, 4)?,
            kind: kind_of(u32_at(bytes, 8)?)?,
            kept_end: u32_at(bytes, 12)?,
            seq: u64_at(bytes, 16)?,
            occ: Occurrence {
                doc: u32_at(bytes, 24)?,
                paragraph: u32_at(bytes, 28)?,
                start: u32_at(bytes, 32)?,
                end: u32_at(bytes, 36)?,
                line: u32_at(bytes, 40)?,
                words: u32_at(bytes, 44)?,
                similarity: f64::from_bits(u64_at(bytes, 48)?),
            },
        })
    }
}

impl FixedRecord for SpanPair {
    const SIZE: usize = 24;
    fn encode(&self, out: &mut Vec<u8>) {
        let (a, b) = (self.a, self.b);
        for v in [a.para, a.start, a.end, b.para, b.start, b.end] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        let span = |at: usize| -> Option<Interval> {
            Some(Interval {
                para: u32_at(bytes, at)?,
                start: u32_at(bytes, at + 4)?,
                end: u32_at(bytes, at + 8)?,
            })
        };
        Some(SpanPair {
            a: span(0)?,
            b: span(12)?,
        })
    }
}

impl FixedRecord for RemovalRecord {
    const SIZE: usize = 20;
    fn encode(&self, out: &mut Vec<u8>) {
        let kind = kind_code(self.kind);
        for v in [self.doc, kind, self.paragraph, self.start, self.end] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(RemovalRecord {
            doc: u32_at(bytes, 0)?,
            kind: kind_of(u32_at(bytes, 4)?)?,
            paragraph: u32_at(bytes, 8)?,
            start: u32_at(bytes, 12)?,
            end: u32_at(bytes, 16)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_uses_top_bits() {
        assert_eq!(partition(0), 0);
        assert_eq!(partition(u64::MAX), (1 << PARTITION_BITS) - 1);
        assert_eq!(partition(1u64 << 63), 1 << (PARTITION_BITS - 1));
    }

    /// Encodes `record`, checks its size and that it decodes to itself; returns the
    /// bytes.
    fn round_trip<R: FixedRecord + PartialEq + std::fmt::Debug>(record: &R) -> Vec<u8> {
        let mut buf = Vec::new();
        record.encode(&mut buf);
        assert_eq!(buf.len(), R::SIZE);
        assert_eq!(R::decode(&buf).as_ref(), Some(record));
        buf
    }

    #[test]
    fn records_round_trip() {
        let band = BandRecord {
            key: 0xDEAD_BEEF,
            para: paragraph_id(3, 7),
        };
        let seed = SeedPosting {
            hash: u64::MAX - 1,
            para: paragraph_id(1, 2),
            pos: 99,
        };
        round_trip(&band);
        let buf = round_trip(&seed);
        assert_eq!(SeedPosting::decode(&buf[..10]), None);
        let m = SeedMatch {
            a: 1,
            b: u32::MAX,
            pos_a: 7,
            pos_b: 0,
        };
        round_trip(&m);
        let pair = CandidatePair { a: 3, b: u32::MAX };
        round_trip(&pair);
        let occ = OccurrenceRecord {
            kept_doc: 1,
            kept_start: 2,
            kind: Kind::Passage,
            kept_end: 3,
            seq: u64::MAX - 5,
            occ: Occurrence {
                doc: 4,
                paragraph: 5,
                start: 6,
                end: 7,
                line: 8,
                words: u32::MAX,
                similarity: 0.1234,
            },
        };
        let mut buf = round_trip(&occ);
        // An unknown kind is refused.
        buf[8] = 2;
        assert_eq!(OccurrenceRecord::decode(&buf), None);
        let pair = SpanPair {
            a: Interval {
                para: 1,
                start: 2,
                end: 3,
            },
            b: Interval {
                para: u32::MAX,
                start: 5,
                end: 6,
            },
        };
        round_trip(&pair);
        let removal = RemovalRecord {
            doc: 9,
            kind: Kind::Paragraph,
            paragraph: 3,
            start: 10,
            end: u32::MAX,
        };
        round_trip(&removal);
    }

    #[test]
    fn header_round_trip_and_rejects_foreign_files() {
        let h = Header {
            kind: RecordKind::Seed,
            fingerprint: 42,
        };
        assert_eq!(Header::decode(&h.encode()), Ok(h));
        assert!(Header::decode(b"PK\x03\x04 not ours at all").is_err());
        let mut old = h.encode();
        old[4] = 99;
        assert!(Header::decode(&old).unwrap_err().contains("version"));
    }
}
