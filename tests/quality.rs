//! Detection quality on a generated corpus.
//!
//! * `planted_copies_are_found`: a corpus of generated Arabic and English documents
//!   (sentences drawn from a few-thousand-word vocabulary with Zipf frequencies) gets a
//!   few hundred planted copies of every kind and edit level (`neardup::eval::plant`,
//!   fixed seed); the `neardup` binary scans it; the report is scored against the truth
//!   and the recall and precision targets are asserted.
//! * `lsh_matches_the_oracle`: base paragraphs of 60–200 words and copies with 1–4
//!   substituted words (Jaccard spread around the 0.8 threshold); the exact all-pairs
//!   oracle must find LSH candidate recall ≥ 0.98 and every verified pair truly ≥ the
//!   threshold.
//!
//! All text is generated here; nothing is read from outside the test's temp dir.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use neardup::eval::{self, PlantOptions, Rng, ScoreOptions};
use neardup::Config;

/// Words with Zipf frequencies: weight of rank r is 1 / (r + 2).
struct Lexicon {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Lexicon {
    fn zipf(words: Vec<String>) -> Lexicon {
        let mut total = 0.0;
        let cumulative = (0..words.len())
            .map(|r| {
                total += 1.0 / (r as f64 + 2.0);
                total
            })
            .collect();
        Lexicon { words, cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.unit() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        &self.words[i.min(self.words.len() - 1)]
    }
}

const ENGLISH_FUNCTION: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "said",
    "after",
    "new",
    "year",
    "government",
    "minister",
    "people",
    "city",
    "market",
    "company",
    "report",
];

const ARABIC_FUNCTION: &[&str] = &[
    "في",
    "من",
    "على",
    "إلى",
    "أن",
    "التي",
    "الذي",
    "عن",
    "مع",
    "هذا",
    "هذه",
    "كان",
    "قد",
    "بين",
    "بعد",
    "حيث",
    "أو",
    "كما",
    "ذلك",
    "لم",
    "عند",
    "منذ",
    "حتى",
    "خلال",
    "إن",
    "ما",
    "لا",
    "ثم",
    "كل",
    "قبل",
    "وقال",
    "وأضاف",
    "الحكومة",
    "الوزير",
    "المدينة",
    "العام",
    "أكثر",
    "مصر",
    "السعودية",
    "الأمم",
    "المتحدة",
    "رئيس",
    "مجلس",
];

/// English-looking words: function words first, then syllable compounds.
fn english_words(rng: &mut Rng, n: usize) -> Vec<String> {
    const ONSETS: &[&str] = &[
        "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st",
        "tr", "pl", "gr", "br", "ch", "sh", "th", "cl", "fr", "sp",
    ];
    const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "ee"];
    const CODAS: &[&str] = &[
        "", "n", "r", "s", "t", "l", "nd", "st", "ng", "ck", "m", "rt",
    ];
    const SUFFIXES: &[&str] = &[
        "", "", "", "ing", "ed", "er", "ion", "ly", "s", "ment", "al",
    ];
    let mut seen: HashSet<String> = ENGLISH_FUNCTION.iter().map(|s| s.to_string()).collect();
    let mut out: Vec<String> = ENGLISH_FUNCTION.iter().map(|s| s.to_string()).collect();
    while out.len() < n {
        let mut w = String::new();
        for _ in 0..rng.range(1, 3) {
            w.push_str(rng.pick(ONSETS).unwrap_or(&"b"));
            w.push_str(rng.pick(VOWELS).unwrap_or(&"a"));
            w.push_str(rng.pick(CODAS).unwrap_or(&""));
        }
        w.push_str(rng.pick(SUFFIXES).unwrap_or(&""));
        if w.len() >= 3 && seen.insert(w.clone()) {
            out.push(w);
        }
    }
    out
}

/// Arabic-looking words: function words first, then three-consonant roots put into
/// common patterns (1, 2, 3 = the root consonants), some with the article or a proclitic.
fn arabic_words(rng: &mut Rng, n: usize) -> Vec<String> {
    const CONSONANTS: &str = "بتثجحخدذرزسشصضطظعغفقكلمنهوي";
    const PATTERNS: &[&str] = &[
        "123",
        "1ا23",
        "12ا3",
        "م12و3",
        "ت12ي3",
        "است12ا3",
        "م123ة",
        "1ا23ة",
        "12ي3",
        "أ12ا3",
        "إ12ا3",
        "12و3",
        "123ى",
        "م1ا23",
        "ت1ا23",
        "ا1ت2ا3",
        "م12ا3",
        "1و2ا3",
        "12ي3ة",
        "أ123",
    ];
    let consonants: Vec<char> = CONSONANTS.chars().collect();
    let mut seen: HashSet<String> = ARABIC_FUNCTION.iter().map(|s| s.to_string()).collect();
    let mut out: Vec<String> = ARABIC_FUNCTION.iter().map(|s| s.to_string()).collect();
    while out.len() < n {
        let root: Vec<char> = (0..3)
            .map(|_| consonants[rng.below(consonants.len())])
            .collect();
        let pattern = rng.pick(PATTERNS).unwrap_or(&"123");
        let mut w: String = pattern
            .chars()
            .map(|c| match c {
                '1' => root[0],
                '2' => root[1],
                '3' => root[2],
                c => c,
            })
            .collect();
        let r = rng.unit();
        if r < 0.35 {
            w = format!("ال{w}");
        } else if r < 0.45 {
            w = format!("و{w}");
        } else if r < 0.5 {
            w = format!("ب{w}");
        }
        if seen.insert(w.clone()) {
            out.push(w);
        }
    }
    out
}

fn sentence(lex: &Lexicon, arabic: bool, rng: &mut Rng) -> String {
    let n = rng.range(6, 18);
    let mut words: Vec<String> = Vec::with_capacity(n + 2);
    for _ in 0..n {
        if rng.chance(0.04) {
            words.push(rng.range(2, 2030).to_string());
        } else {
            words.push(lex.sample(rng).to_string());
        }
    }
    if rng.chance(0.15) && n > 5 {
        let a = rng.below(n - 4);
        let b = a + rng.range(1, 3);
        words[a] = format!("\"{}", words[a]);
        words[b] = format!("{}\"", words[b]);
    }
    if !arabic {
        let first = &words[0];
        let mut chars = first.chars();
        if let Some(c) = chars.next() {
            words[0] = c.to_uppercase().chain(chars).collect();
        }
    }
    let mut s = words.join(" ");
    if rng.chance(0.2) {
        let clause = rng.range(1, words.len() - 1);
        let cut: Vec<&str> = s.splitn(clause + 1, ' ').collect();
        let comma = if arabic { "،" } else { "," };
        s = format!("{}{comma} {}", cut[..clause].join(" "), cut[clause]);
    }
    let end = if rng.chance(0.1) {
        if arabic {
            "؟"
        } else {
            "?"
        }
    } else {
        "."
    };
    s.push_str(end);
    s
}

/// Writes `per_language` Arabic and as many English documents into `dir`.
fn write_corpus(dir: &Path, per_language: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let english = Lexicon::zipf(english_words(&mut rng, 3000));
    let arabic = Lexicon::zipf(arabic_words(&mut rng, 3000));
    for d in 0..2 * per_language {
        let is_arabic = d % 2 == 0;
        let lex = if is_arabic { &arabic } else { &english };
        let mut text = String::new();
        for _ in 0..rng.range(6, 14) {
            let para: Vec<String> = (0..rng.range(1, 5))
                .map(|_| sentence(lex, is_arabic, &mut rng))
                .collect();
            text.push_str(&para.join(" "));
            text.push('\n');
        }
        let name = format!("{}-{d:03}.txt", if is_arabic { "ar" } else { "en" });
        fs::write(dir.join(name), text).expect("write a generated document");
    }
}

#[test]
fn planted_copies_are_found() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let src = tmp.path().join("src");
    let planted = tmp.path().join("planted");
    let report = tmp.path().join("report.csv");
    fs::create_dir(&src).expect("create src");
    write_corpus(&src, 40, 20240607);

    let options = PlantOptions {
        per_kind: 20,
        ..PlantOptions::default()
    };
    let truth = eval::plant(&src, &planted, 7, &options).expect("planting");
    assert_eq!(truth.len(), 4 * 4 * 20, "every kind and level planted");

    let out = Command::new(env!("CARGO_BIN_EXE_neardup"))
        .arg("scan")
        .arg(&planted)
        .arg("-o")
        .arg(&report)
        .arg("--quiet")
        .output()
        .expect("run neardup");
    assert!(
        out.status.success(),
        "neardup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = eval::read_report(&report).expect("read the report");
    let score = eval::score(&truth, &rows, &ScoreOptions::default());
    let markdown = score.markdown();
    println!("{markdown}");
    let missed = score.missed_targets();
    if !missed.is_empty() {
        for m in score.misses.iter().take(20) {
            let t = &m.truth;
            let text = |file: &str, a: u32, b: u32| {
                let bytes = fs::read(planted.join(file)).unwrap_or_default();
                String::from_utf8_lossy(bytes.get(a as usize..b as usize).unwrap_or(&[]))
                    .into_owned()
            };
            println!(
                "miss #{} {} {}: src {:?} (clusters {:?})\n  copy {:?} (clusters {:?})",
                t.id,
                t.kind.as_str(),
                t.level.as_str(),
                text(&t.src_file, t.src_start, t.src_end),
                m.src_clusters,
                text(&t.dst_file, t.dst_start, t.dst_end),
                m.dst_clusters
            );
        }
    }
    assert!(
        missed.is_empty(),
        "targets missed:\n{}\n{markdown}",
        missed.join("\n")
    );
    assert!(score.checked().checked > 0, "no row was checked");
}

#[test]
fn lsh_matches_the_oracle() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng::new(99);
    let lex = Lexicon::zipf(english_words(&mut rng, 3000));
    let mut docs: Vec<String> = vec![String::new(); 30];
    for _ in 0..200 {
        let n = rng.range(60, 200);
        let base: Vec<String> = (0..n).map(|_| lex.sample(&mut rng).to_string()).collect();
        let d = rng.below(docs.len());
        docs[d].push_str(&base.join(" "));
        docs[d].push('\n');
        for _ in 0..rng.range(1, 3) {
            let mut copy = base.clone();
            for _ in 0..rng.range(1, 4) {
                let i = rng.below(copy.len());
                copy[i] = format!("x{}", rng.below(1_000_000));
            }
            let d = rng.below(docs.len());
            docs[d].push_str(&copy.join(" "));
            docs[d].push('\n');
        }
    }
    for (i, text) in docs.iter().enumerate() {
        fs::write(tmp.path().join(format!("d{i:02}.txt")), text).expect("write");
    }
    let config = Config::builder().build().expect("default config");
    let report = eval::oracle(tmp.path(), &config).expect("oracle");
    println!("{}", report.markdown());
    assert!(
        report.near_pairs >= 200,
        "too few pairs to measure: {}",
        report.near_pairs
    );
    assert!(report.exact_groups_agree);
    assert!(
        report.candidate_recall() >= 0.98,
        "LSH candidate recall {:.4}",
        report.candidate_recall()
    );
    assert!(
        report.all_verified_true(),
        "a verified pair is below the threshold"
    );
    assert_eq!(report.verified_not_in_oracle, 0);
}
