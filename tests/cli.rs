//! Integration tests: the `neardup` binary on `samples/` and on trees built in temp dirs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::{
    read_csv, stderr, stdout, CLUSTER, END, FILE, KEEP, KIND, LINE, SIMILARITY, START, TEXT, WORDS,
};

const SEED: &str = "samples/000_4f8e26fc6f496ae2.txt";
const SEED_GOLDEN: &str = "samples/000_4f8e26fc6f496ae2.expected.csv";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn neardup(args: &[&str]) -> Output {
    common::run_in(&root(), args)
}

/// Asserts equality of two texts, printing the first differing line.
/// That a run succeeded and spilled to disk.
fn assert_spilled(run: &Output) {
    assert!(run.status.success(), "{}", stderr(run));
    assert!(stderr(run).contains("spilled to disk"), "{}", stderr(run));
}

fn assert_same_text(got: &str, want: &str, what: &str) {
    if got == want {
        return;
    }
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        if g != w {
            panic!("{what}: line {} differs\n got: {g}\nwant: {w}", i + 1);
        }
    }
    panic!(
        "{what}: lengths differ ({} vs {} lines)",
        got.lines().count(),
        want.lines().count()
    );
}

#[test]
fn seed_article_matches_golden_csv() {
    let out = neardup(&["article", SEED]);
    assert!(out.status.success(), "{}", stderr(&out));
    let golden = fs::read_to_string(root().join(SEED_GOLDEN)).expect("golden file");
    assert_same_text(&stdout(&out), &golden, "seed report vs golden");
}

#[test]
fn seed_article_has_exactly_the_two_passages() {
    let out = neardup(&["article", SEED]);
    let rows = read_csv(&stdout(&out));
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r[KIND] == "passage"));
    // Passage A: the 27-word Kerry statement, lines 3 and 4, identical after normalization.
    let a: Vec<_> = rows.iter().filter(|r| r[CLUSTER] == "1").collect();
    assert_eq!(a.len(), 2);
    assert_eq!((a[0][LINE].as_str(), a[1][LINE].as_str()), ("3", "4"));
    assert!(a[0][TEXT].starts_with("واضاف الوزير الامريكي"));
    assert!(a[1][TEXT].starts_with("وأضاف الوزير الامريكي"));
    for r in &a {
        assert!(r[TEXT].ends_with("محتملة لعقده"), "{}", r[TEXT]);
        assert_eq!(r[WORDS], "27");
        assert_eq!(r[SIMILARITY], "1.000");
    }
    assert_eq!(
        (a[0][KEEP].as_str(), a[1][KEEP].as_str()),
        ("true", "false")
    );
    // Passage B: the quote in lines 10 and 11, one word different.
    let b: Vec<_> = rows.iter().filter(|r| r[CLUSTER] == "2").collect();
    assert_eq!(b.len(), 2);
    assert_eq!((b[0][LINE].as_str(), b[1][LINE].as_str()), ("10", "11"));
    for r in &b {
        assert!(r[TEXT].contains("الرد النهائي هو الحل السياسي التفاوضي"));
        assert!(r[TEXT].ends_with("ذلك الحل"));
    }
    let sim: f64 = b[1][SIMILARITY].parse().expect("number");
    assert!((0.8..1.0).contains(&sim), "{sim}");
}

#[test]
fn report_text_is_the_original_bytes() {
    let out = neardup(&["article", SEED]);
    let bytes = fs::read(root().join(SEED)).expect("seed");
    for r in read_csv(&stdout(&out)) {
        let (s, e): (usize, usize) = (r[START].parse().unwrap(), r[END].parse().unwrap());
        assert_eq!(&bytes[s..e], r[TEXT].as_bytes());
    }
}

#[test]
fn seed_clean_removes_only_the_repeated_sentence_of_line_4() {
    let dir = tempfile::tempdir().unwrap();
    let cleaned = dir.path().join("clean.txt");
    let out = neardup(&[
        "article",
        SEED,
        "-q",
        "-o",
        dir.path().join("r.csv").to_str().unwrap(),
        "--clean",
        cleaned.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let original = fs::read_to_string(root().join(SEED)).unwrap();
    let got = fs::read_to_string(&cleaned).unwrap();
    let line4 = original.lines().nth(3).unwrap();
    let cut = line4
        .find(" وأضاف الوزير الامريكي")
        .expect("sentence present");
    let want = original.replacen(line4, &line4[..cut], 1);
    assert_same_text(&got, &want, "cleaned seed");
    assert!(!got.contains("  "));
    // The same through standard output.
    let out = neardup(&[
        "article",
        SEED,
        "-q",
        "-o",
        dir.path().join("r2.csv").to_str().unwrap(),
        "--clean",
        "-",
    ]);
    assert_eq!(stdout(&out), want);
}

#[test]
fn scan_of_samples_is_identical_for_any_thread_count() {
    let one = neardup(&["scan", "samples", "--threads", "1", "-q"]);
    let four = neardup(&["scan", "samples", "--threads", "4", "-q"]);
    assert!(one.status.success(), "{}", stderr(&one));
    assert!(!one.stdout.is_empty());
    assert_eq!(one.stdout, four.stdout);
}

/// A corpus with many duplicates across files, written into `dir`.
fn write_corpus(dir: &Path, files: usize) {
    let words = [
        "the",
        "council",
        "said",
        "budget",
        "river",
        "bridge",
        "school",
        "minister",
        "report",
        "would",
        "open",
        "next",
        "week",
        "after",
        "talks",
        "with",
        "union",
        "leaders",
        "on",
        "pay",
        "and",
        "hours",
        "in",
        "city",
        "north",
        "south",
        "rain",
        "road",
        "closed",
        "market",
        "prices",
        "rose",
        "fell",
        "sharply",
        "today",
        "الوزير",
        "المؤتمر",
        "جنيف",
        "واشنطن",
        "موسكو",
        "الحل",
        "السياسي",
    ];
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut para = |len: usize| -> String {
        (0..len)
            .map(|_| words[next(words.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let shared: Vec<String> = (0..6).map(|_| para(30)).collect();
    let passages: Vec<String> = (0..6).map(|_| para(14)).collect();
    for f in 0..files {
        let mut text = String::new();
        for p in 0..8 {
            let line = match (f + p) % 5 {
                0 => shared[(f * 7 + p) % shared.len()].clone(),
                1 => format!(
                    "{} {}. {}",
                    para(10),
                    passages[(f + p) % passages.len()],
                    para(8)
                ),
                _ => para(25),
            };
            text.push_str(&line);
            text.push('\n');
        }
        let sub = dir.join(format!("d{}", f % 3));
        fs::create_dir_all(&sub).unwrap();
        fs::write(sub.join(format!("f{f:03}.txt")), text).unwrap();
    }
}

#[test]
fn scan_output_is_identical_for_threads_1_and_4() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path(), 40);
    let d = dir.path().to_str().unwrap();
    let one = neardup(&["scan", d, "--threads", "1", "-q"]);
    let four = neardup(&["scan", d, "--threads", "4", "-q"]);
    assert!(one.status.success(), "{}", stderr(&one));
    let rows = read_csv(&stdout(&one));
    assert!(rows.iter().any(|r| r[KIND] == "paragraph"));
    assert!(rows.iter().any(|r| r[KIND] == "passage"));
    assert_eq!(one.stdout, four.stdout);
    // And again: every run is the same.
    assert_eq!(
        neardup(&["scan", d, "--threads", "2", "-q"]).stdout,
        one.stdout
    );
}

/// A run that spills to disk (forced by a tiny memory limit: batches of 1 MiB) gives
/// the same report, byte for byte, as the in-memory run, for any thread count, and
/// leaves nothing in its temporary directory.
#[test]
fn spilled_scan_is_identical_to_the_in_memory_scan() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path(), 40);
    let d = dir.path().to_str().unwrap();
    let spill = tempfile::tempdir().unwrap();
    let t = spill.path().to_str().unwrap();
    let memory = neardup(&["scan", d, "-q"]);
    assert!(memory.status.success(), "{}", stderr(&memory));
    assert!(!memory.stdout.is_empty());
    for threads in ["1", "3"] {
        let spilled = neardup(&[
            "scan",
            d,
            "-v",
            "--threads",
            threads,
            "--memory-limit",
            "1",
            "--temp-dir",
            t,
        ]);
        assert_spilled(&spilled);
        assert_eq!(spilled.stdout, memory.stdout, "threads {threads}");
        assert_eq!(fs::read_dir(spill.path()).unwrap().count(), 0, "spill left");
    }
    // The cleaned corpus too: documents are read back from the spill and analyzed again.
    let out = tempfile::tempdir().unwrap();
    let clean_memory = out.path().join("memory");
    let clean_spilled = out.path().join("spilled");
    let report = out.path().join("report.csv");
    let (r, cm, cs) = (
        report.to_str().unwrap(),
        clean_memory.to_str().unwrap(),
        clean_spilled.to_str().unwrap(),
    );
    let memory = neardup(&["scan", d, "-q", "-o", r, "--clean", cm]);
    assert!(memory.status.success(), "{}", stderr(&memory));
    let spilled = neardup(&[
        "scan",
        d,
        "-q",
        "-o",
        r,
        "--clean",
        cs,
        "--memory-limit",
        "1",
        "--temp-dir",
        t,
    ]);
    assert!(spilled.status.success(), "{}", stderr(&spilled));
    let mut files = walk(&clean_memory);
    files.sort();
    let mut spilled_files: Vec<PathBuf> = walk(&clean_spilled)
        .iter()
        .map(|p| clean_memory.join(p.strip_prefix(&clean_spilled).unwrap()))
        .collect();
    spilled_files.sort();
    assert!(!files.is_empty());
    assert_eq!(files, spilled_files);
    let mut changed = 0;
    for f in &files {
        let rel = f.strip_prefix(&clean_memory).unwrap();
        let m = fs::read(f).unwrap();
        assert_eq!(
            m,
            fs::read(clean_spilled.join(rel)).unwrap(),
            "{}",
            rel.display()
        );
        changed += usize::from(m != fs::read(dir.path().join(rel)).unwrap());
    }
    assert!(changed > 0, "cleaning removed nothing");
    assert_eq!(fs::read_dir(spill.path()).unwrap().count(), 0, "spill left");

    let seed = neardup(&["article", SEED, "--memory-limit", "1", "--temp-dir", t]);
    assert!(seed.status.success(), "{}", stderr(&seed));
    assert_same_text(
        &stdout(&seed),
        &fs::read_to_string(root().join(SEED_GOLDEN)).unwrap(),
        "seed",
    );
}

/// One text file larger than a spilled batch (1 MiB at the smallest limit) is read in
/// parts of about a batch, each cut after a paragraph break and mapped in turn, as one
/// document, and cleaned a window of a batch at a time. The report and the cleaned copy
/// are the in-memory ones, in every paragraph mode, with `\r\n` line breaks and blank
/// lines too.
#[test]
fn spilled_scan_of_one_large_text_file_is_identical() {
    let parts = tempfile::tempdir().unwrap();
    write_corpus(parts.path(), 2_000);
    let mut files = walk(parts.path());
    files.sort();
    let mut text = String::new();
    for f in &files {
        text.push_str(&fs::read_to_string(f).unwrap());
    }
    assert!(text.split_whitespace().count() > 300_000);
    // The same lines with `\r\n` breaks and a blank line after every third.
    let mut blocks = String::new();
    for (i, line) in text.lines().enumerate() {
        blocks.push_str(line);
        blocks.push_str(if i % 3 == 2 { "\r\n\r\n" } else { "\r\n" });
    }
    for (text, mode) in [(&text, "line"), (&blocks, "auto"), (&blocks, "blank")] {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("corpus.txt"), text).unwrap();
        let d = dir.path().to_str().unwrap();
        let spill = tempfile::tempdir().unwrap();
        let t = spill.path().to_str().unwrap();
        let out = tempfile::tempdir().unwrap();
        let clean = |name: &str| out.path().join(name).to_str().unwrap().to_string();
        let (clean_memory, clean_spilled) = (clean("memory"), clean("spilled"));
        let memory = neardup(&[
            "scan",
            d,
            "-q",
            "--paragraphs",
            mode,
            "--clean",
            &clean_memory,
        ]);
        assert!(memory.status.success(), "{}", stderr(&memory));
        assert!(read_csv(&stdout(&memory)).len() > 1_000, "{mode}");
        let spilled = neardup(&[
            "scan",
            d,
            "-v",
            "--memory-limit",
            "1",
            "--temp-dir",
            t,
            "--paragraphs",
            mode,
            "--clean",
            &clean_spilled,
        ]);
        assert_spilled(&spilled);
        assert_eq!(spilled.stdout, memory.stdout, "{mode}");
        let cleaned = fs::read(Path::new(&clean_memory).join("corpus.txt")).unwrap();
        assert!(cleaned.len() < text.len(), "{mode}: nothing cleaned");
        let cleaned_spilled = fs::read(Path::new(&clean_spilled).join("corpus.txt")).unwrap();
        assert!(
            cleaned_spilled == cleaned,
            "{mode}: the cleaned copies differ"
        );
        assert_eq!(fs::read_dir(spill.path()).unwrap().count(), 0, "spill left");
    }
}

#[test]
fn scan_report_contract() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path(), 12);
    let out = neardup(&["scan", dir.path().to_str().unwrap(), "-q"]);
    let text = stdout(&out);
    assert!(
        text.starts_with("cluster,kind,file,paragraph,line,start,end,words,similarity,keep,text\n")
    );
    let rows = read_csv(&text);
    let mut last_cluster = 0;
    let mut kept = std::collections::HashMap::new();
    for r in &rows {
        let c: usize = r[CLUSTER].parse().unwrap();
        assert!(
            c == last_cluster || c == last_cluster + 1,
            "clusters are numbered in order"
        );
        last_cluster = c;
        if r[KEEP] == "true" {
            assert!(
                kept.insert(c, r.clone()).is_none(),
                "one kept row per cluster"
            );
            assert_eq!(r[SIMILARITY], "1.000");
        }
        assert!(!r[FILE].contains('\\') && !r[FILE].starts_with('/'));
        let bytes = fs::read(dir.path().join(&r[FILE])).unwrap();
        let (s, e): (usize, usize) = (r[START].parse().unwrap(), r[END].parse().unwrap());
        assert_eq!(&bytes[s..e], r[TEXT].as_bytes());
    }
    assert_eq!(kept.len(), last_cluster);
    // Clusters are numbered by their kept occurrence: (file, offset) increases.
    let keys: Vec<(String, usize)> = (1..=last_cluster)
        .map(|c| (kept[&c][FILE].clone(), kept[&c][START].parse().unwrap()))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
}

#[test]
fn bad_inputs_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let passage =
        "the minister said the talks on the new bridge would open next week after the rain";
    // Invalid UTF-8 before the passage: offsets must still be those of the file.
    let mut bad = b"caf\xe9 \xff\xfe opening words ".to_vec();
    bad.extend_from_slice(passage.as_bytes());
    bad.extend_from_slice(b" and more\n");
    fs::write(d.join("a_latin1.txt"), &bad).unwrap();
    // BOM and CRLF line ends.
    fs::write(
        d.join("b_bom_crlf.txt"),
        format!("\u{feff}{passage}\r\nsecond line here\r\n"),
    )
    .unwrap();
    fs::write(d.join("c_binary.bin"), b"abc\0def").unwrap();
    fs::write(d.join("d_empty.txt"), b"").unwrap();
    std::os::unix::fs::symlink(d.join("missing-target"), d.join("e_broken_link")).unwrap();
    fs::create_dir(d.join("f_loop")).unwrap();
    std::os::unix::fs::symlink(d, d.join("f_loop").join("back")).unwrap();
    let fifo = d.join("g_fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let out = neardup(&["scan", d.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("a_latin1.txt") && err.contains("invalid UTF-8"),
        "{err}"
    );
    assert!(
        err.contains("c_binary.bin") && err.contains("binary"),
        "{err}"
    );
    assert!(err.contains("e_broken_link"), "{err}");
    assert!(err.contains("loop"), "{err}");
    if made {
        assert!(err.contains("g_fifo"), "{err}");
    }
    let rows = read_csv(&stdout(&out));
    assert_eq!(rows.len(), 2, "{rows:?}");
    for r in &rows {
        let bytes = fs::read(d.join(&r[FILE])).unwrap();
        let (s, e): (usize, usize) = (r[START].parse().unwrap(), r[END].parse().unwrap());
        assert_eq!(&bytes[s..e], passage.as_bytes(), "{}", r[FILE]);
    }
}

#[test]
fn missing_path_and_bad_options_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["scan", "no/such/dir"], "no/such/dir"),
        (&["article", "no-such-file.txt"], "no-such-file.txt"),
        (&["article", SEED, "--threshold", "1.5"], "--threshold"),
        (&["article", SEED, "--min-words", "0"], "--min-words"),
        (
            &["article", SEED, "--passage-similarity", "0"],
            "--passage-similarity",
        ),
        (&["article", SEED, "--paragraphs", "pages"], "pages"),
        (&["article", SEED, "--threads", "0"], "--threads"),
        (&["article", SEED, "--memory-limit", "0"], "--memory-limit"),
        (
            &["article", SEED, "--memory-limit", "lots"],
            "--memory-limit",
        ),
        (&["article", SEED, "--clean", "-"], "-o"),
        (&["frobnicate"], "frobnicate"),
    ];
    for (args, needle) in cases {
        let out = neardup(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn fail_on_duplicates_exits_1() {
    let out = neardup(&["article", SEED, "-q", "--fail-on-duplicates"]);
    assert_eq!(out.status.code(), Some(1));
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("x.txt"), "nothing repeats here at all\n").unwrap();
    let out = neardup(&[
        "scan",
        dir.path().to_str().unwrap(),
        "-q",
        "--fail-on-duplicates",
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn report_file_is_written_atomically_and_completely() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.csv");
    fs::write(&report, "old contents").unwrap();
    let out = neardup(&["article", SEED, "-q", "-o", report.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let golden = fs::read_to_string(root().join(SEED_GOLDEN)).unwrap();
    assert_eq!(fs::read_to_string(&report).unwrap(), golden);
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn scan_clean_writes_a_complete_corpus_and_never_inside_an_input() {
    let input = tempfile::tempdir().unwrap();
    write_corpus(input.path(), 9);
    fs::write(input.path().join("z.bin"), b"\0\0binary").unwrap();
    let inside = input.path().join("cleaned");
    let out = neardup(&[
        "scan",
        input.path().to_str().unwrap(),
        "-q",
        "--clean",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!inside.exists());

    let outdir = tempfile::tempdir().unwrap();
    let target = outdir.path().join("clean");
    let out = neardup(&[
        "scan",
        input.path().to_str().unwrap(),
        "-q",
        "--clean",
        target.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = read_csv(&stdout(&out));
    let mut n_files = 0;
    for entry in walk(input.path()) {
        n_files += 1;
        let rel = entry.strip_prefix(input.path()).unwrap();
        let original = fs::read(&entry).unwrap();
        let cleaned =
            fs::read(target.join(rel)).expect("every input file is in the cleaned corpus");
        let name = rel.to_string_lossy().replace('\\', "/");
        let touched = rows.iter().any(|r| r[FILE] == name && r[KEEP] == "false");
        if touched {
            assert!(cleaned.len() < original.len(), "{name}");
            let text = String::from_utf8(cleaned).unwrap();
            assert!(!text.contains("\n\n") && !text.contains("  "), "{name}");
        } else {
            assert_eq!(cleaned, original, "{name} untouched");
        }
    }
    assert_eq!(n_files, 10);
    // A second run refuses to overwrite without --force.
    let again = neardup(&[
        "scan",
        input.path().to_str().unwrap(),
        "-q",
        "--clean",
        target.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    let forced = neardup(&[
        "scan",
        input.path().to_str().unwrap(),
        "-q",
        "--force",
        "--clean",
        target.to_str().unwrap(),
    ]);
    assert!(forced.status.success());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn hidden_files_are_skipped_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let line = "a long enough paragraph of words that repeats itself twice in this folder\n";
    fs::write(dir.path().join("a.txt"), line).unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    fs::write(dir.path().join(".git").join("b.txt"), line).unwrap();
    let d = dir.path().to_str().unwrap();
    assert_eq!(read_csv(&stdout(&neardup(&["scan", d, "-q"]))).len(), 0);
    assert_eq!(
        read_csv(&stdout(&neardup(&["scan", d, "-q", "--hidden"]))).len(),
        2
    );
}

#[test]
fn no_passages_reports_paragraphs_only() {
    let out = neardup(&["article", SEED, "-q", "--no-passages"]);
    assert_eq!(read_csv(&stdout(&out)).len(), 0);
}

#[test]
fn summary_names_the_counts() {
    let out = neardup(&["article", SEED]);
    let err = stderr(&out);
    assert!(
        err.contains("1 files read") && err.contains("2 clusters") && err.contains("paragraphs"),
        "{err}"
    );
}
