//! Robustness: a scan runs unattended over files nobody has looked at. It must finish,
//! say what it could not read, never damage anything, and never take quadratic time
//! because of one odd file.
//!
//! Every tree is built in a temp dir; the binary is the one cargo built for these tests.
//! The pathological cases check completion and the report, not time: the release
//! timings are in the report that came with this file.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{symlink, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn neardup<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_neardup"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn spawn<I, S>(args: I) -> Child
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_neardup"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Waits for `child` at most `limit`; kills it and fails if it is still running.
fn wait_at_most(mut child: Child, limit: Duration, what: &str) -> Output {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what}: still running after {limit:?} (hung?)\n{}",
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn p(path: &Path) -> &OsStr {
    path.as_os_str()
}

/// One row of the report, read as bytes (a text field may hold invalid UTF-8).
#[derive(Clone)]
struct Row {
    cluster: usize,
    kind: String,
    file: String,
    paragraph: usize,
    line: usize,
    start: usize,
    end: usize,
    keep: bool,
    text: Vec<u8>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}:{} (paragraph {}) {}..{} keep={} {:?}",
            self.cluster,
            self.kind,
            self.file,
            self.line,
            self.paragraph,
            self.start,
            self.end,
            self.keep,
            String::from_utf8_lossy(&self.text)
        )
    }
}

fn parse_report(csv_bytes: &[u8]) -> Vec<Row> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv_bytes);
    let header = rdr.byte_headers().expect("header").clone();
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        [
            &b"cluster"[..],
            b"kind",
            b"file",
            b"paragraph",
            b"line",
            b"start",
            b"end",
            b"words",
            b"similarity",
            b"keep",
            b"text"
        ]
    );
    rdr.byte_records()
        .map(|r| {
            let r = r.expect("valid CSV");
            assert_eq!(r.len(), 11, "{r:?}");
            let s = |i: usize| String::from_utf8_lossy(&r[i]).into_owned();
            let n = |i: usize| s(i).parse::<usize>().expect("a number");
            Row {
                cluster: n(0),
                kind: s(1),
                file: s(2),
                paragraph: n(3),
                line: n(4),
                start: n(5),
                end: n(6),
                keep: &r[9] == b"true",
                text: r[10].to_vec(),
            }
        })
        .collect()
}

/// Every row's text is exactly the bytes `start..end` of the file it names, and its line
/// is the line of `start` (`\n`, `\r\n` and lone `\r` end lines).
fn assert_rows_are_file_bytes(rows: &[Row], file_of: impl Fn(&str) -> PathBuf) {
    for r in rows {
        let bytes = fs::read(file_of(&r.file)).expect("the reported file exists");
        assert!(r.start < r.end && r.end <= bytes.len(), "{r:?}");
        assert_eq!(&bytes[r.start..r.end], &r.text[..], "{}", r.file);
        assert_eq!(line_of(&bytes, r.start), r.line, "{r:?}");
    }
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    let mut line = 1;
    let mut i = 0;
    while i < offset {
        match bytes[i] {
            b'\n' => line += 1,
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => line += 1,
            _ => {}
        }
        i += 1;
    }
    line
}

/// Names of `.neardup-*` temporaries left anywhere under `dir`.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if e.file_name().as_bytes().starts_with(b".neardup-") {
            out.push(path.clone());
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(leftovers(&path));
        }
    }
    out
}

/// Deterministic pseudo-random words (xorshift): distinct enough that no run of 5 words
/// repeats by chance.
struct Words(u64);

impl Words {
    fn new(seed: u64) -> Words {
        Words(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A word of 3 to 9 lowercase letters.
    fn word(&mut self, out: &mut String) {
        let mut x = self.next();
        let len = 3 + (x % 7) as usize;
        for _ in 0..len {
            x /= 26;
            if x == 0 {
                x = self.next();
            }
            out.push((b'a' + (x % 26) as u8) as char);
        }
    }

    fn words(&mut self, n: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            self.word(&mut s);
        }
        s
    }
}

const PASSAGE: &str =
    "the minister said the talks on the new bridge would open next week after the rain";

// ---------------------------------------------------------------------------------------
// Input files
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_utf8_is_decoded_lossily_and_offsets_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Invalid bytes before the passage, inside it (one stands between two words) and
    // after it; a truncated multi-byte sequence at the very end.
    let mut latin1 = b"caf\xe9 cr\xe8me \xff\xfe opening ".to_vec();
    let start = latin1.len();
    let (head, tail) = PASSAGE.split_at(PASSAGE.find("talks ").unwrap() + 6);
    latin1.extend_from_slice(head.as_bytes());
    latin1.push(0xA0);
    latin1.extend_from_slice(tail.as_bytes());
    let end = latin1.len();
    latin1.extend_from_slice(b" and \xc3 more\n\xe2\x82");
    fs::write(d.join("a.txt"), &latin1).unwrap();
    fs::write(d.join("b.txt"), format!("other words {PASSAGE} here\n")).unwrap();
    let out = neardup([OsStr::new("scan"), p(d)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("a.txt") && err.contains("invalid UTF-8, decoded lossily"),
        "{err}"
    );
    assert!(err.contains("2 files read, 0 skipped"), "{err}");
    let rows = parse_report(&out.stdout);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let a = rows.iter().find(|r| r.file == "a.txt").expect("a.txt row");
    assert_eq!((a.start, a.end), (start, end));
    assert!(
        a.text.contains(&0xA0),
        "the invalid byte is reported as it is"
    );
    assert_rows_are_file_bytes(&rows, |f| d.join(f));
}

#[test]
fn utf8_bom_is_never_part_of_a_span() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.txt"), format!("\u{feff}{PASSAGE}\nsecond line\n")).unwrap();
    fs::write(d.join("b.txt"), format!("{PASSAGE}\n")).unwrap();
    // A file that is only a BOM, and a BOM-only line.
    fs::write(d.join("c.txt"), "\u{feff}").unwrap();
    fs::write(d.join("d.txt"), "\u{feff}\n\u{feff}  \n").unwrap();
    let out = neardup([OsStr::new("scan"), p(d)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = parse_report(&out.stdout);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].file, "a.txt");
    assert_eq!((rows[0].start, rows[0].line), (3, 1));
    assert_eq!(rows[0].text, PASSAGE.as_bytes());
    assert_rows_are_file_bytes(&rows, |f| d.join(f));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn crlf_and_lone_cr_line_ends_split_lines_and_cleaning_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    let mut w = Words::new(7);
    let (x, y, z, v) = (w.words(12), w.words(12), w.words(12), w.words(12));
    let crlf = format!("{x}\r\n{PASSAGE}\r\n{y}\r\n");
    let cr = format!("{z}\r{PASSAGE}\r{v}\r");
    fs::write(input.join("a_crlf.txt"), &crlf).unwrap();
    fs::write(input.join("b_cr.txt"), &cr).unwrap();
    let outdir = dir.path().join("clean");
    let out = neardup([
        OsStr::new("scan"),
        p(&input),
        OsStr::new("--clean"),
        p(&outdir),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = parse_report(&out.stdout);
    // The passage is a whole line in both files: a paragraph duplicate.
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.kind == "paragraph" && r.line == 2));
    assert!(rows.iter().all(|r| r.text == PASSAGE.as_bytes()));
    assert_rows_are_file_bytes(&rows, |f| input.join(f));
    // Cleaning drops the second file's line with its own terminator and nothing else.
    assert_eq!(fs::read_to_string(outdir.join("a_crlf.txt")).unwrap(), crlf);
    assert_eq!(
        fs::read_to_string(outdir.join("b_cr.txt")).unwrap(),
        format!("{z}\r{v}\r")
    );
}

#[test]
fn nul_bytes_skip_the_file_as_binary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.txt"), format!("{PASSAGE}\n")).unwrap();
    let mut bin = format!("{PASSAGE}\n").into_bytes();
    bin.extend_from_slice(b"\0\x01\x02 tail");
    fs::write(d.join("b.bin"), &bin).unwrap();
    // UTF-16 text (little endian, with its BOM) is full of NUL bytes too.
    let utf16: Vec<u8> = std::iter::once(0xFEFFu16)
        .chain(PASSAGE.encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect();
    fs::write(d.join("c_utf16.txt"), &utf16).unwrap();
    fs::write(d.join("d.txt"), format!("x {PASSAGE} y\n")).unwrap();
    let out = neardup([OsStr::new("scan"), p(d)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("b.bin: skipped: binary file"), "{err}");
    assert!(err.contains("c_utf16.txt: skipped: UTF-16"), "{err}");
    assert!(err.contains("2 files read, 2 skipped"), "{err}");
    let rows = parse_report(&out.stdout);
    assert!(rows.iter().all(|r| r.file == "a.txt" || r.file == "d.txt"));
    assert_eq!(rows.len(), 2, "{rows:?}");
}

#[test]
fn empty_and_whitespace_only_files_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &[u8])] = &[
        ("empty.txt", b""),
        ("spaces.txt", b"    "),
        ("newlines.txt", b"\n\n\n"),
        ("crlf.txt", b"\r\n\r\n"),
        ("cr.txt", b"\r\r"),
        ("mixed.txt", b" \t\n \r\n\x0b\x0c\n"),
        ("nbsp.txt", "\u{a0}\u{2003}\u{3000}\n".as_bytes()),
        ("bom.txt", "\u{feff}\n".as_bytes()),
    ];
    for (name, bytes) in cases {
        fs::write(d.join(name), bytes).unwrap();
    }
    for mode in ["line", "blank", "auto"] {
        let out = neardup([
            OsStr::new("scan"),
            p(d),
            OsStr::new("--paragraphs"),
            OsStr::new(mode),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(parse_report(&out.stdout).is_empty());
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "{} files read, 0 skipped; 0 paragraphs",
                cases.len()
            )),
            "{err}"
        );
    }
    let out = neardup([OsStr::new("article"), p(&d.join("empty.txt"))]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A single line of 200 MB. Filler words are long (20 to 60 letters) to keep the token
/// count, and so the debug-build time, moderate: about 5 million tokens. The same
/// passage opens and closes the line; the report must give exactly those two spans.
#[test]
fn file_of_200_mb_on_one_line() {
    const SIZE: usize = 200 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.txt");
    let mut bytes = Vec::with_capacity(SIZE + 1024);
    bytes.extend_from_slice(PASSAGE.as_bytes());
    let mut w = Words::new(99);
    while bytes.len() < SIZE {
        bytes.push(b' ');
        let mut x = w.next();
        let len = 20 + (x % 41) as usize;
        for _ in 0..len {
            x = x.rotate_left(5) ^ (x >> 3);
            bytes.push(b'a' + (x % 26) as u8);
        }
    }
    bytes.push(b' ');
    let second = bytes.len();
    bytes.extend_from_slice(PASSAGE.as_bytes());
    fs::write(&path, &bytes).unwrap();
    drop(bytes);
    let out = neardup([OsStr::new("article"), p(&path), OsStr::new("-q")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = parse_report(&out.stdout);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].start, rows[0].end), (0, PASSAGE.len()));
    assert_eq!(
        (rows[1].start, rows[1].end),
        (second, second + PASSAGE.len())
    );
    assert!(rows
        .iter()
        .all(|r| r.kind == "passage" && r.text == PASSAGE.as_bytes()));
}

/// One line of about 400 KB that repeats a passage 400 times, each copy between runs of
/// sentences of random words. Held as one paragraph, the line's copies were aligned
/// with each other as one pair of paragraphs, whose extensions are bounded
/// (`passage::MAX_EXTENSIONS_PER_PAIR`, 256): the last copies went unreported. Cut
/// into paragraphs of at most 64 KiB, every copy is reported, and every row is the
/// file's bytes.
#[test]
fn every_repeat_in_a_line_of_megabytes_is_found() {
    const COPIES: usize = 400;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.txt");
    let mut w = Words::new(7);
    // Sentences start with a capital, so that the line is cut at their ends.
    let capital = |s: &str| s[..1].to_uppercase() + &s[1..];
    let passage = capital(PASSAGE);
    let mut text = String::new();
    let mut starts = Vec::new();
    for _ in 0..COPIES {
        for _ in 0..8 {
            text.push_str(&capital(&w.words(16)));
            text.push_str(". ");
        }
        starts.push(text.len());
        text.push_str(&passage);
        text.push_str(". ");
    }
    text.push_str(&w.words(12));
    text.push('\n');
    assert!(text.len() > 300_000, "{}", text.len());
    fs::write(&path, &text).unwrap();
    let out = neardup([OsStr::new("scan"), p(&path), OsStr::new("-q")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = parse_report(&out.stdout);
    assert_rows_are_file_bytes(&rows, |_| path.clone());
    let found: Vec<usize> = rows
        .iter()
        .filter(|r| r.text == passage.as_bytes())
        .map(|r| r.start)
        .collect();
    let missed: Vec<_> = starts.iter().filter(|s| !found.contains(s)).collect();
    let odd: Vec<_> = rows.iter().filter(|r| !starts.contains(&r.start)).collect();
    assert_eq!(
        found,
        starts,
        "{} rows; missed {missed:?}; others {odd:?}",
        rows.len()
    );
    assert!(
        rows.iter().all(|r| r.cluster == 1 && r.line == 1),
        "{rows:?}"
    );
    // Paragraphs are numbered in turn along the line: 64 KiB at most each, and whole
    // sentences of about 90 bytes, so never shorter than 65,000 bytes but the last.
    for r in &rows {
        let lowest = (r.start >> 16) + 1;
        assert!(
            lowest <= r.paragraph && r.paragraph <= r.start / 65_000 + 1,
            "{r:?}"
        );
    }
}

#[test]
fn file_of_a_million_short_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.txt");
    let mut text = String::with_capacity(16 << 20);
    text.push_str(PASSAGE);
    text.push('\n');
    for i in 0..1_000_000 {
        text.push_str(&format!("line {i}\n"));
    }
    text.push_str(PASSAGE);
    text.push('\n');
    fs::write(&path, &text).unwrap();
    let out = neardup([OsStr::new("article"), p(&path)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1000002 paragraphs"),
        "{}",
        stderr(&out)
    );
    let rows = parse_report(&out.stdout);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].line, rows[1].line), (1, 1_000_002));
    assert_eq!(rows[1].paragraph, 1_000_002);
    assert_rows_are_file_bytes(&rows, |_| path.clone());
}

#[test]
fn non_utf8_file_name_is_reported_lossily_and_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    let raw_name = OsString::from_vec(b"caf\xe9.txt".to_vec());
    fs::write(input.join(&raw_name), format!("x {PASSAGE} y\n")).unwrap();
    fs::write(input.join("plain.txt"), format!("{PASSAGE} z\n")).unwrap();
    let outdir = dir.path().join("clean");
    let out = neardup([
        OsStr::new("scan"),
        p(&input),
        OsStr::new("--clean"),
        p(&outdir),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("file name is not UTF-8"), "{err}");
    assert!(err.contains("2 files read, 0 skipped"), "{err}");
    let rows = parse_report(&out.stdout);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].file, "caf\u{fffd}.txt");
    assert_rows_are_file_bytes(&rows, |f| {
        if f == "plain.txt" {
            input.join(f)
        } else {
            input.join(&raw_name)
        }
    });
    // The cleaned corpus keeps the original name, byte for byte.
    assert!(outdir.join(&raw_name).is_file());
    assert!(!outdir.join("caf\u{fffd}.txt").exists());
    // article takes such a file too, and cleans it to a non-UTF-8 name.
    let twice = input.join(OsString::from_vec(b"tw\xefce.txt".to_vec()));
    fs::write(&twice, format!("{PASSAGE}\n{PASSAGE}\n")).unwrap();
    let cleaned = dir
        .path()
        .join(OsString::from_vec(b"cl\xe9an.txt".to_vec()));
    let out = neardup([
        OsStr::new("article"),
        p(&twice),
        OsStr::new("-q"),
        OsStr::new("--clean"),
        p(&cleaned),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(parse_report(&out.stdout).len(), 2);
    assert_eq!(
        fs::read_to_string(&cleaned).unwrap(),
        format!("{PASSAGE}\n")
    );
}

#[test]
fn broken_symlinks_and_symlink_loops_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.txt"), format!("{PASSAGE}\n")).unwrap();
    fs::write(d.join("b.txt"), format!("{PASSAGE}\n")).unwrap();
    symlink(d.join("missing"), d.join("broken")).unwrap();
    // A loop of file symlinks (ELOOP), and a directory link back to the root.
    symlink(d.join("loop2"), d.join("loop1")).unwrap();
    symlink(d.join("loop1"), d.join("loop2")).unwrap();
    fs::create_dir(d.join("sub")).unwrap();
    symlink(d, d.join("sub").join("up")).unwrap();
    symlink("self", d.join("self")).unwrap();
    let out = wait_at_most(
        spawn([OsStr::new("scan"), p(d)]),
        Duration::from_secs(120),
        "scan with symlink loops",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("broken: skipped: broken symlink"), "{err}");
    assert!(err.contains("loop1: skipped"), "{err}");
    assert!(err.contains("loop2: skipped"), "{err}");
    assert!(err.contains("up: skipped: symlink loop"), "{err}");
    assert!(err.contains("2 files read"), "{err}");
    assert_eq!(parse_report(&out.stdout).len(), 2);
    // A broken symlink named on the command line is a usage error.
    let out = neardup([OsStr::new("scan"), p(&d.join("broken"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("broken symlink"), "{}", stderr(&out));
}

/// FIFOs and devices are never opened: reading a FIFO with no writer blocks forever, and
/// `/dev/zero` never ends. The scan must finish, and name each one.
#[test]
fn fifos_and_devices_are_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.txt"), format!("{PASSAGE}\n")).unwrap();
    let fifo = d.join("fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    assert!(made, "mkfifo is needed for this test");
    symlink("/dev/zero", d.join("zero")).unwrap();
    symlink("/dev/urandom", d.join("urandom")).unwrap();
    symlink(&fifo, d.join("fifo_link")).unwrap();
    let limit = Duration::from_secs(60);
    let out = wait_at_most(spawn([OsStr::new("scan"), p(d)]), limit, "scan");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    for name in ["fifo", "zero", "urandom", "fifo_link"] {
        assert!(
            err.contains(&format!("/{name}: skipped: not a regular file")),
            "{name}: {err}"
        );
    }
    // Named directly: scan skips it, article refuses it; neither hangs.
    let out = wait_at_most(spawn([OsStr::new("scan"), p(&fifo)]), limit, "scan fifo");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a regular file"));
    let out = wait_at_most(
        spawn([OsStr::new("article"), p(&fifo)]),
        limit,
        "article fifo",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = wait_at_most(
        spawn([OsStr::new("article"), OsStr::new("/dev/zero")]),
        limit,
        "article /dev/zero",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

/// A file removed between listing and reading is skipped with a warning that says so.
#[test]
fn file_removed_after_listing_is_skipped_with_a_warning() {
    use neardup::corpus::{list_files, read_all, read_file, ReadOptions, ReadOutcome};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.txt"), "first file\n").unwrap();
    fs::write(d.join("b.txt"), "second file\n").unwrap();
    let (files, warnings) = list_files(&[d.to_path_buf()], false).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(files.len(), 2);
    fs::remove_file(d.join("b.txt")).unwrap();
    match read_file(1, &files[1]) {
        ReadOutcome::Skipped(w) => {
            assert!(w.skipped);
            assert_eq!(w.path, d.join("b.txt"));
            assert!(w.message.contains("no longer exists"), "{w}");
        }
        ReadOutcome::Read(..) => panic!("a removed file was read"),
    }
    let (docs, warnings) = read_all(&files, &ReadOptions::default());
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].text, "first file\n");
    assert_eq!(warnings.len(), 1);
}

/// A file whose size changed since it was listed is being written: skipped, with a
/// warning, whether it shrank, grew, or was replaced by a special file.
#[test]
fn file_that_changes_after_listing_is_skipped_with_a_warning() {
    use neardup::corpus::{list_files, read_file, ReadOutcome};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["a_shrinks.txt", "b_grows.txt", "c_same.txt", "d_fifo.txt"] {
        fs::write(d.join(name), "some text of a file\n").unwrap();
    }
    let (files, _) = list_files(&[d.to_path_buf()], false).unwrap();
    assert_eq!(files.len(), 4);
    fs::write(d.join("a_shrinks.txt"), "some\n").unwrap();
    fs::write(d.join("b_grows.txt"), "some text of a file, and more\n").unwrap();
    fs::write(d.join("c_same.txt"), "SOME TEXT OF A FILE\n").unwrap();
    fs::remove_file(d.join("d_fifo.txt")).unwrap();
    let made = Command::new("mkfifo")
        .arg(d.join("d_fifo.txt"))
        .status()
        .is_ok_and(|s| s.success());
    let message = |i: usize| match read_file(i as u32, &files[i]) {
        ReadOutcome::Skipped(w) => Some(w.message),
        ReadOutcome::Read(doc, _) => {
            assert_eq!(doc.bytes(), fs::read(files[i].path()).unwrap());
            None
        }
    };
    assert!(message(0).is_some_and(|m| m.contains("changed size")));
    assert!(message(1).is_some_and(|m| m.contains("changed size")));
    // Same size, new content: read as it is now (consistent, just newer).
    assert_eq!(message(2), None);
    if made {
        assert!(message(3).is_some_and(|m| m.contains("not a regular file")));
    }
}

/// Root ignores permission bits, so the binary runs with CAP_DAC_OVERRIDE and
/// CAP_DAC_READ_SEARCH dropped from its bounding set (util-linux `setpriv`); without
/// setpriv the test only checks that a chmod 000 tree does not fail the run.
#[test]
fn unreadable_directories_and_files_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(d.join("a.txt"), format!("{PASSAGE}\n")).unwrap();
    fs::write(d.join("b.txt"), format!("{PASSAGE}\n")).unwrap();
    fs::create_dir(d.join("locked")).unwrap();
    fs::write(d.join("locked").join("c.txt"), format!("{PASSAGE}\n")).unwrap();
    fs::set_permissions(d.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::write(d.join("secret.txt"), format!("{PASSAGE}\n")).unwrap();
    fs::set_permissions(d.join("secret.txt"), fs::Permissions::from_mode(0o000)).unwrap();
    let restore = || {
        let _ = fs::set_permissions(d.join("locked"), fs::Permissions::from_mode(0o755));
    };
    let setpriv = Command::new("setpriv")
        .args(["--bounding-set=-dac_override,-dac_read_search", "--", "cat"])
        .arg(d.join("secret.txt"))
        .output();
    let dropped = setpriv.is_ok_and(|o| !o.status.success());
    let out = if dropped {
        Command::new("setpriv")
            .arg("--bounding-set=-dac_override,-dac_read_search")
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_neardup"))
            .arg("scan")
            .arg(d)
            .output()
            .unwrap()
    } else {
        eprintln!(
            "setpriv cannot drop the override capabilities here: permission checks not tested"
        );
        neardup([OsStr::new("scan"), p(d)])
    };
    restore();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    if dropped {
        let err = stderr(&out);
        assert!(
            err.contains("locked: skipped: ") && err.contains("ermission denied"),
            "{err}"
        );
        assert!(err.contains("secret.txt: skipped: "), "{err}");
        assert!(err.contains("2 files read, 2 skipped"), "{err}");
        assert_eq!(parse_report(&out.stdout).len(), 2);
    }
}

#[test]
fn overlapping_inputs_are_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.txt"), format!("{PASSAGE}\n")).unwrap();
    let dot = d.join(".").join("a.txt");
    let out = neardup([OsStr::new("scan"), p(d), p(d), p(&dot)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("read once"), "{err}");
    assert!(err.contains("1 files read"), "{err}");
    assert!(
        parse_report(&out.stdout).is_empty(),
        "a file is not its own duplicate"
    );
}

// ---------------------------------------------------------------------------------------
// Pathological text: each must finish in time roughly linear in its input
// ---------------------------------------------------------------------------------------

/// One word a million times in one paragraph: every seed matches every other. The run
/// must finish and its report be consistent (what a tandem repeat should give is pinned
/// by `sentence_repeated_back_to_back_is_reported_once_per_copy`).
#[test]
fn one_word_repeated_a_million_times_in_one_paragraph() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.txt");
    let text = "word ".repeat(1_000_000);
    fs::write(
        &path,
        format!("{}\n{PASSAGE}\n{PASSAGE}\n", text.trim_end()),
    )
    .unwrap();
    let out = neardup([OsStr::new("article"), p(&path)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = parse_report(&out.stdout);
    assert_rows_are_file_bytes(&rows, |_| path.clone());
    // The two passage lines are found despite the noise before them.
    let lines: Vec<(usize, bool)> = rows
        .iter()
        .filter(|r| r.kind == "paragraph" && r.line > 1)
        .map(|r| (r.line, r.keep))
        .collect();
    assert_eq!(lines, [(2, true), (3, false)]);
    // The first line is cut into paragraphs of 64 KiB at most, between two words: 77 of
    // them, all but the last the same 13,107 words, and all with the same one shingle,
    // so reported as copies of the first.
    let first: Vec<(usize, usize, bool)> = rows
        .iter()
        .filter(|r| r.kind == "paragraph" && r.line == 1)
        .map(|r| (r.paragraph, r.cluster, r.keep))
        .collect();
    assert_eq!(first.len(), 77, "{first:?}");
    assert!(first
        .iter()
        .enumerate()
        .all(|(i, &(p, c, keep))| p == i + 1 && c == 1 && keep == (i == 0)));
}

/// The same paragraph in 20,000 files (100,000 in the release measurement): one cluster,
/// kept in the first file.
#[test]
fn same_paragraph_in_20000_files() {
    const N: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut w = Words::new(3);
    let shared = w.words(30);
    for i in 0..N {
        let sub = d.join(format!("d{:02}", i % 50));
        if i < 50 {
            fs::create_dir(&sub).unwrap();
        }
        fs::write(
            sub.join(format!("f{i:05}.txt")),
            format!("{}\n{shared}\n", w.words(12)),
        )
        .unwrap();
    }
    let out = neardup([OsStr::new("scan"), p(d)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = parse_report(&out.stdout);
    assert_eq!(rows.len(), N);
    assert!(rows.iter().all(|r| r.cluster == 1 && r.kind == "paragraph"));
    assert!(rows
        .iter()
        .all(|r| r.text == shared.as_bytes() && r.line == 2));
    assert_eq!(rows[0].file, "d00/f00000.txt");
    assert_eq!(rows.iter().filter(|r| r.keep).count(), 1);
}

/// Every paragraph of a large corpus shares one 5-word run, too short to report: the
/// posting list of its seeds is as long as the corpus. Then the same with a 12-word
/// sentence, which is a passage: one cluster holding every paragraph.
#[test]
fn one_shingle_shared_by_every_paragraph() {
    // 5,000 and not more: the passage clusters' overlap filter is quadratic in a group
    // (see `overlap_filter_of_a_large_passage_group_is_not_quadratic`).
    const N: usize = 5_000;
    let dir = tempfile::tempdir().unwrap();
    let mut w = Words::new(11);
    let mut short = String::new();
    let mut long = String::new();
    let sentence = w.words(12);
    for _ in 0..N {
        let (x, y) = (w.words(8), w.words(8));
        short.push_str(&format!("{x} alpha beta gamma delta epsilon {y}\n"));
        long.push_str(&format!("{x}. {sentence}. {y}\n"));
    }
    let a = dir.path().join("short.txt");
    let b = dir.path().join("long.txt");
    fs::write(&a, &short).unwrap();
    fs::write(&b, &long).unwrap();
    let out = neardup([OsStr::new("article"), p(&a)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(parse_report(&out.stdout).is_empty());
    let out = neardup([OsStr::new("article"), p(&b)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = parse_report(&out.stdout);
    assert_eq!(rows.len(), N, "one occurrence per paragraph");
    assert!(rows.iter().all(|r| r.cluster == 1));
    // The span is the sentence; where the next word happens to be the same in a few
    // paragraphs (short random words collide), it rightly takes that word too.
    assert!(rows.iter().all(|r| r.text.starts_with(sentence.as_bytes())));
    let exact = rows
        .iter()
        .filter(|r| r.text == sentence.as_bytes())
        .count();
    assert!(exact * 10 >= N * 9, "{exact} of {N}");
    assert_rows_are_file_bytes(&rows, |_| b.clone());
}

#[test]
fn ten_thousand_one_word_files() {
    const N: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut w = Words::new(5);
    for i in 0..N {
        let sub = d.join(format!("d{:02}", i % 20));
        if i < 20 {
            fs::create_dir(&sub).unwrap();
        }
        // Half the files hold the same word.
        let word = if i % 2 == 0 {
            "same".to_string()
        } else {
            w.words(1)
        };
        fs::write(sub.join(format!("{i:05}.txt")), word).unwrap();
    }
    let out = neardup([
        OsStr::new("scan"),
        p(d),
        OsStr::new("--min-words"),
        OsStr::new("1"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{N} files read, 0 skipped")));
    let rows = parse_report(&out.stdout);
    let same = rows.iter().filter(|r| r.text == b"same").count();
    assert_eq!(same, N / 2, "the shared word is one cluster of every copy");
    let out = neardup([OsStr::new("scan"), p(d), OsStr::new("-q")]);
    assert!(parse_report(&out.stdout).is_empty());
}

/// Many passages inside one long paragraph: 3,000 sentences on one line (330 KB, so
/// six paragraphs of up to 64 KiB, cut at sentence ends), each repeated in a line of
/// another file. Every one is found, with its exact span. (Before 7046cbd the spans
/// were recomputed by re-tokenizing the whole paragraph once per occurrence, which made
/// this quadratic: 66 s in release for 8,000 sentences, 0.5 s now.) The sentences start
/// with a capital: a period before a lowercase word ends no sentence, and a line with
/// no sentence end is cut between two words, so that a passage across the cut is
/// reported as its two parts.
#[test]
fn many_passages_in_one_long_paragraph() {
    const K: usize = 3_000;
    let dir = tempfile::tempdir().unwrap();
    let mut w = Words::new(29);
    let capital = |s: String| s[..1].to_uppercase() + &s[1..];
    let sentences: Vec<String> = (0..K).map(|_| capital(w.words(16))).collect();
    let long = dir.path().join("a_long.txt");
    fs::write(&long, sentences.join(" . ") + "\n").unwrap();
    let lines: Vec<String> = sentences
        .iter()
        .map(|s| format!("{} {s} {}", w.words(5), w.words(5)))
        .collect();
    fs::write(dir.path().join("b_lines.txt"), lines.join("\n") + "\n").unwrap();
    let out = neardup([OsStr::new("scan"), p(dir.path()), OsStr::new("-q")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = parse_report(&out.stdout);
    assert_eq!(rows.len(), 2 * K);
    assert_rows_are_file_bytes(&rows, |f| dir.path().join(f));
    let in_long: Vec<&Row> = rows.iter().filter(|r| r.file == "a_long.txt").collect();
    assert_eq!(in_long.len(), K);
    for (r, s) in in_long.iter().zip(&sentences) {
        assert!(r.keep && r.text.starts_with(s.as_bytes()), "{r:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Interruption
// ---------------------------------------------------------------------------------------

/// A corpus that takes a while to scan (`files` files of `words_per_file` words, with
/// repeats between them): 1,000 × 7,000 words take about 1.4 s in a release build on
/// two cores (they took 4 s at stop 7), so a signal sent 0.4 s after the start arrives
/// mid-run.
fn slow_corpus(dir: &Path, files: usize, words_per_file: usize) {
    let mut w = Words::new(17);
    let shared: Vec<String> = (0..20).map(|_| w.words(20)).collect();
    for i in 0..files {
        let mut text = String::new();
        let mut n = 0;
        while n < words_per_file {
            text.push_str(&w.words(40));
            text.push(' ');
            text.push_str(&shared[(i + n) % shared.len()]);
            text.push('\n');
            n += 60;
        }
        fs::write(dir.join(format!("f{i:04}.txt")), text).unwrap();
    }
}

fn signal(child: &Child, signo: i32) {
    // SAFETY: kill(2) with the pid of a child we own.
    let rc = unsafe { libc::kill(child.id() as i32, signo) };
    assert_eq!(rc, 0, "kill failed");
}

#[test]
fn sigint_during_a_scan_exits_130_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    slow_corpus(&input, 1_000, 7_000);
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let report = out_dir.join("report.csv");
    let clean = out_dir.join("clean");
    let child = spawn([
        OsStr::new("scan"),
        p(&input),
        OsStr::new("-o"),
        p(&report),
        OsStr::new("--clean"),
        p(&clean),
    ]);
    std::thread::sleep(Duration::from_millis(400));
    signal(&child, libc::SIGINT);
    let out = wait_at_most(child, Duration::from_secs(30), "interrupted scan");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(!report.exists());
    assert!(!clean.exists());
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn sigterm_during_a_scan_exits_143_and_keeps_the_old_report() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    slow_corpus(&input, 1_000, 7_000);
    let report = dir.path().join("report.csv");
    fs::write(&report, "old report\n").unwrap();
    let child = spawn([OsStr::new("scan"), p(&input), OsStr::new("-o"), p(&report)]);
    std::thread::sleep(Duration::from_millis(400));
    signal(&child, libc::SIGTERM);
    let out = wait_at_most(child, Duration::from_secs(30), "terminated scan");
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&report).unwrap(), "old report\n");
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

/// A spilled run interrupted while its spill directory is being filled: the directory
/// and everything in it go, and no report is left.
#[test]
fn sigint_during_a_spilled_scan_removes_the_spill_directory() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    slow_corpus(&input, 400, 7_000);
    let spill = dir.path().join("spill");
    fs::create_dir(&spill).unwrap();
    let report = dir.path().join("report.csv");
    let child = spawn([
        OsStr::new("scan"),
        p(&input),
        OsStr::new("-o"),
        p(&report),
        OsStr::new("--memory-limit"),
        OsStr::new("1M"),
        OsStr::new("--temp-dir"),
        p(&spill),
    ]);
    let started = Instant::now();
    // Wait for the spill directory to hold its files.
    loop {
        let filled = fs::read_dir(&spill)
            .unwrap()
            .flatten()
            .any(|e| fs::read_dir(e.path()).is_ok_and(|mut d| d.next().is_some()));
        if filled {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no spill directory appeared"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    signal(&child, libc::SIGINT);
    let out = wait_at_most(child, Duration::from_secs(30), "interrupted spilled scan");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(!report.exists());
    assert_eq!(fs::read_dir(&spill).unwrap().count(), 0, "spill files left");
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

/// The signal lands while the cleaned corpus is being written: the staging directory
/// (`.neardup-*` beside OUTDIR) is watched for, and SIGTERM sent as soon as it appears.
#[test]
fn sigterm_while_the_cleaned_corpus_is_written_leaves_no_partial_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    slow_corpus(&input, 4_000, 60);
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let clean = out_dir.join("clean");
    let report = out_dir.join("report.csv");
    let child = spawn([
        OsStr::new("scan"),
        p(&input),
        OsStr::new("-q"),
        OsStr::new("-o"),
        p(&report),
        OsStr::new("--clean"),
        p(&clean),
    ]);
    let started = Instant::now();
    let staging = loop {
        let found = fs::read_dir(&out_dir).unwrap().flatten().find(|e| {
            e.file_name().as_bytes().starts_with(b".neardup-")
                && e.file_type().is_ok_and(|t| t.is_dir())
        });
        if let Some(e) = found {
            break e.path();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no staging directory appeared"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    signal(&child, libc::SIGTERM);
    let out = wait_at_most(child, Duration::from_secs(30), "terminated clean");
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    assert!(!staging.exists());
    assert!(!clean.exists(), "no partial cleaned corpus");
    assert!(
        report.exists(),
        "the report was complete before the corpus began"
    );
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

// ---------------------------------------------------------------------------------------
// --clean safety
// ---------------------------------------------------------------------------------------

#[test]
fn clean_never_writes_inside_or_around_an_input_tree() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("a.txt"), format!("{PASSAGE}\n{PASSAGE}\n")).unwrap();
    let link = dir.path().join("link");
    symlink(&input, &link).unwrap();
    let cases: Vec<PathBuf> = vec![
        input.join("clean"),
        input.clone(),
        link.join("clean"),
        dir.path().to_path_buf(),
        input.join("sub").join("deeper"),
    ];
    for target in cases {
        let out = neardup([
            OsStr::new("scan"),
            p(&input),
            OsStr::new("--force"),
            OsStr::new("--clean"),
            p(&target),
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", target.display());
        assert!(stderr(&out).contains("input"), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    assert_eq!(fs::read_dir(&input).unwrap().count(), 1);
    // article: the cleaned file may not be the input, even through a symlink.
    let file_link = dir.path().join("a_link.txt");
    symlink(input.join("a.txt"), &file_link).unwrap();
    for target in [input.join("a.txt"), file_link] {
        let out = neardup([
            OsStr::new("article"),
            p(&input.join("a.txt")),
            OsStr::new("--force"),
            OsStr::new("--clean"),
            p(&target),
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    }
    assert_eq!(
        fs::read_to_string(input.join("a.txt")).unwrap(),
        format!("{PASSAGE}\n{PASSAGE}\n")
    );
}

#[test]
fn clean_refuses_an_existing_output_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("a.txt"), format!("{PASSAGE}\n{PASSAGE}\n")).unwrap();
    let file = dir.path().join("clean.txt");
    fs::write(&file, "keep me").unwrap();
    let out = neardup([
        OsStr::new("article"),
        p(&input.join("a.txt")),
        OsStr::new("--clean"),
        p(&file),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&file).unwrap(), "keep me");
    let outdir = dir.path().join("clean");
    fs::create_dir(&outdir).unwrap();
    fs::write(outdir.join("other.txt"), "keep me").unwrap();
    let args = [
        OsStr::new("scan"),
        p(&input),
        OsStr::new("--clean"),
        p(&outdir),
    ];
    let out = neardup(args);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(fs::read_dir(&outdir).unwrap().count(), 1);
    // A file where the directory should be is refused even with --force.
    let out = neardup([
        OsStr::new("scan"),
        p(&input),
        OsStr::new("--force"),
        OsStr::new("--clean"),
        p(&file),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a directory"), "{}", stderr(&out));
    // With --force the directory gets the cleaned file; unrelated files stay.
    let out = neardup([
        OsStr::new("scan"),
        p(&input),
        OsStr::new("--force"),
        OsStr::new("--clean"),
        p(&outdir),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(outdir.join("a.txt")).unwrap(),
        format!("{PASSAGE}\n")
    );
    assert_eq!(
        fs::read_to_string(outdir.join("other.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

/// OUTDIR/sub is a symlink to a directory elsewhere: writing OUTDIR/sub/x.txt would write
/// outside OUTDIR. It is refused before any work, and nothing elsewhere changes.
#[test]
fn clean_never_writes_through_a_symlink_in_outdir() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(input.join("sub")).unwrap();
    fs::write(
        input.join("sub").join("x.txt"),
        format!("{PASSAGE}\n{PASSAGE}\n"),
    )
    .unwrap();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::write(elsewhere.join("x.txt"), "precious").unwrap();
    let outdir = dir.path().join("clean");
    fs::create_dir(&outdir).unwrap();
    symlink(&elsewhere, outdir.join("sub")).unwrap();
    let out = neardup([
        OsStr::new("scan"),
        p(&input),
        OsStr::new("--force"),
        OsStr::new("--clean"),
        p(&outdir),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("symlink"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty(), "refused before the scan");
    assert_eq!(
        fs::read_to_string(elsewhere.join("x.txt")).unwrap(),
        "precious"
    );
    assert!(outdir.join("sub").is_symlink());
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

/// A symlink where a cleaned file goes is replaced by the file, never written through.
#[test]
fn clean_replaces_a_symlinked_file_in_outdir_without_following_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("x.txt"), format!("{PASSAGE}\n{PASSAGE}\n")).unwrap();
    let victim = dir.path().join("victim.txt");
    fs::write(&victim, "precious").unwrap();
    let outdir = dir.path().join("clean");
    fs::create_dir(&outdir).unwrap();
    symlink(&victim, outdir.join("x.txt")).unwrap();
    let out = neardup([
        OsStr::new("scan"),
        p(&input),
        OsStr::new("-q"),
        OsStr::new("--force"),
        OsStr::new("--clean"),
        p(&outdir),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!outdir.join("x.txt").is_symlink());
    assert_eq!(
        fs::read_to_string(outdir.join("x.txt")).unwrap(),
        format!("{PASSAGE}\n")
    );
}

/// Every input file is in the cleaned corpus: cleaned where something was removed,
/// byte-identical otherwise, including files that were not analyzed.
#[test]
fn cleaned_corpus_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir_all(input.join("a").join("b")).unwrap();
    let mut w = Words::new(23);
    let files: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            PathBuf::from("1.txt"),
            format!("{}\n{PASSAGE}\n", w.words(10)).into_bytes(),
        ),
        (
            PathBuf::from("a/2.txt"),
            format!("{}\n{PASSAGE}\n{}\n", w.words(10), w.words(9)).into_bytes(),
        ),
        (PathBuf::from("a/b/empty.txt"), Vec::new()),
        (
            PathBuf::from("a/b/binary.bin"),
            b"\x00\x01\x02binary".to_vec(),
        ),
        (PathBuf::from("latin1.txt"), b"caf\xe9 cr\xe8me\n".to_vec()),
        (
            PathBuf::from(OsString::from_vec(b"n\xe4me.txt".to_vec())),
            b"odd name\n".to_vec(),
        ),
        (PathBuf::from("crlf.txt"), b"one\r\ntwo\r\n".to_vec()),
    ];
    for (rel, bytes) in &files {
        fs::write(input.join(rel), bytes).unwrap();
    }
    let outdir = dir.path().join("out").join("clean");
    let out = neardup([
        OsStr::new("scan"),
        p(&input),
        OsStr::new("-q"),
        OsStr::new("--clean"),
        p(&outdir),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for (rel, bytes) in &files {
        let got = fs::read(outdir.join(rel)).unwrap_or_else(|e| panic!("{rel:?}: {e}"));
        if rel == Path::new("a/2.txt") {
            let want =
                String::from_utf8(bytes.clone())
                    .unwrap()
                    .replacen(&format!("{PASSAGE}\n"), "", 1);
            assert_eq!(String::from_utf8(got).unwrap(), want);
        } else {
            assert_eq!(&got, bytes, "{rel:?} unchanged");
        }
    }
    let mut n = 0;
    let mut stack = vec![outdir.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                n += 1;
            }
        }
    }
    assert_eq!(n, files.len(), "nothing more than the inputs");
    // Directories get the usual permissions, not a temp directory's 0700.
    let mode = fs::metadata(&outdir).unwrap().permissions().mode() & 0o777;
    assert_ne!(mode, 0o700, "{mode:o}");
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

/// Two different inputs that would land on the same path in the cleaned corpus
/// (`x/f.txt` from `x` and from `../x`) are refused before any work.
#[test]
fn clean_refuses_two_inputs_with_the_same_relative_path() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("work");
    fs::create_dir_all(cwd.join("x")).unwrap();
    fs::create_dir_all(dir.path().join("x")).unwrap();
    fs::write(cwd.join("x").join("f.txt"), "inner\n").unwrap();
    fs::write(dir.path().join("x").join("f.txt"), "outer\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_neardup"))
        .current_dir(&cwd)
        .args(["scan", "x", "../x", "--clean", "../clean"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("would both be written"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("clean").exists());
    // Without --clean the two are simply two files.
    let out = Command::new(env!("CARGO_BIN_EXE_neardup"))
        .current_dir(&cwd)
        .args(["scan", "x", "../x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 files read"));
}

// ---------------------------------------------------------------------------------------
// Command-line errors
// ---------------------------------------------------------------------------------------

/// Each bad invocation fails with status 2 and one line on stderr, before any work: the
/// corpus holds a file that warns when read, and no warning may appear.
#[test]
fn bad_invocations_fail_with_one_line_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("bad.txt"), b"caf\xe9\n").unwrap();
    fs::write(input.join("a.txt"), format!("{PASSAGE}\n")).unwrap();
    let existing_dir = dir.path().join("adir");
    fs::create_dir(&existing_dir).unwrap();
    let inp = input.to_str().unwrap();
    let file = input.join("a.txt");
    let file = file.to_str().unwrap();
    let adir = existing_dir.to_str().unwrap();
    let in_adir = existing_dir.join("r.csv");
    let in_adir = in_adir.to_str().unwrap();
    let clean_in_adir = existing_dir.join("c");
    let clean_in_adir = clean_in_adir.to_str().unwrap();
    let report_in_clean = existing_dir.join("c").join("r.csv");
    let report_in_clean = report_in_clean.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["scan", "no/such/dir"], "no/such/dir"),
        (vec!["scan", inp, "no/such/file.txt"], "no/such/file.txt"),
        (vec!["article", "missing.txt"], "missing.txt"),
        (vec!["article", inp], "is a directory"),
        (
            vec!["scan", inp, "-o", "/nonexistent/dir/x.csv"],
            "/nonexistent/dir",
        ),
        (vec!["scan", inp, "-o", adir], "is a directory"),
        (vec!["scan", inp, "-o", "/proc/x.csv"], "cannot"),
        (vec!["scan", inp, "-o", file], "overwrite an input"),
        (vec!["scan", inp, "--threshold", "1.5"], "--threshold"),
        (vec!["scan", inp, "--threshold", "0"], "--threshold"),
        (vec!["scan", inp, "--threshold", "NaN"], "--threshold"),
        (vec!["scan", inp, "--threshold", "abc"], "--threshold"),
        (vec!["scan", inp, "--min-words", "0"], "--min-words"),
        (vec!["scan", inp, "--min-words", "-3"], "-3"),
        (
            vec!["scan", inp, "--passage-similarity", "2"],
            "--passage-similarity",
        ),
        (vec!["scan", inp, "--threads", "0"], "--threads"),
        (vec!["scan", inp, "--paragraphs", "pages"], "pages"),
        (vec!["scan", inp, "-q", "-v"], "--quiet"),
        (vec!["scan", inp, "--clean", "-"], "only for article"),
        (vec!["article", file, "--clean", "-"], "-o"),
        (
            vec!["article", file, "--clean", in_adir, "-o", in_adir],
            "same file",
        ),
        (
            vec!["scan", inp, "--clean", clean_in_adir, "-o", report_in_clean],
            "cannot",
        ),
        (vec!["scan", inp, "--clean", "/proc/clean"], "cannot"),
        (vec!["scan"], "PATH"),
        (vec!["frobnicate"], "frobnicate"),
    ];
    for (args, needle) in cases {
        let out = neardup(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line:\n{err}");
        assert!(err.starts_with("neardup: error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(fs::read_dir(&existing_dir).unwrap().count(), 0);
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

/// `-o /dev/null` writes to the device (it is not replaced by a file), and `-o link`
/// writes the file the link names, leaving the link.
#[test]
fn report_to_a_device_or_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a.txt");
    fs::write(&input, format!("{PASSAGE}\n{PASSAGE}\n")).unwrap();
    let out = neardup([
        OsStr::new("article"),
        p(&input),
        OsStr::new("-o"),
        OsStr::new("/dev/null"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    let target = dir.path().join("real.csv");
    fs::write(&target, "old").unwrap();
    let link = dir.path().join("link.csv");
    symlink(&target, &link).unwrap();
    let out = neardup([OsStr::new("article"), p(&input), OsStr::new("-o"), p(&link)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(link.is_symlink());
    assert_eq!(parse_report(&fs::read(&target).unwrap()).len(), 2);
}

// ---------------------------------------------------------------------------------------
// The report itself
// ---------------------------------------------------------------------------------------

/// Text fields with commas, quotes, line breaks (blank-line paragraph mode) and leading
/// `=`, `+`, `-`, `@` are quoted so that standard CSV readers give them back exactly.
#[test]
fn report_fields_round_trip_through_csv_readers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut w = Words::new(31);
    let paragraphs = [
        format!(
            "=SUM(A1:A9), {} \"{}\", {}",
            w.words(4),
            w.words(3),
            w.words(5)
        ),
        format!(
            "+1 555 0100: {}, \"{}\" {}",
            w.words(5),
            w.words(2),
            w.words(5)
        ),
        format!("-- {} \"\"{}\"\" {}", w.words(5), w.words(2), w.words(5)),
        format!(
            "@{} {},\n{} \"{}",
            w.words(1),
            w.words(5),
            w.words(5),
            w.words(3)
        ),
        format!(
            "{}\r\n{}, \"{}\", {}",
            w.words(4),
            w.words(4),
            w.words(2),
            w.words(4)
        ),
    ];
    let text = paragraphs.join("\n\n");
    fs::write(d.join("a.txt"), format!("{text}\n")).unwrap();
    fs::write(d.join("b.txt"), format!("intro line here\n\n{text}\n")).unwrap();
    let report = d.join("out").join("report.csv");
    fs::create_dir(d.join("out")).unwrap();
    let out = neardup([
        OsStr::new("scan"),
        p(&d.join("a.txt")),
        p(&d.join("b.txt")),
        OsStr::new("--paragraphs"),
        OsStr::new("blank"),
        OsStr::new("-o"),
        p(&report),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bytes = fs::read(&report).unwrap();
    let rows = parse_report(&bytes);
    assert_eq!(rows.len(), 2 * paragraphs.len(), "{rows:?}");
    for para in &paragraphs {
        assert_eq!(
            rows.iter().filter(|r| r.text == para.as_bytes()).count(),
            2,
            "{para:?}"
        );
    }
    assert_rows_are_file_bytes(&rows, |f| PathBuf::from(f));
    // Python's csv module, when there is a python3: the text fields, joined by U+001E.
    let script = r#"
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f))
sys.stdout.buffer.write("\x1e".join(r[10] for r in rows[1:]).encode("utf-8"))
"#;
    let Ok(py) = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&report)
        .output()
    else {
        eprintln!("python3 not found: Python's csv reader not checked");
        return;
    };
    assert!(py.status.success(), "{}", stderr(&py));
    let from_python: Vec<&[u8]> = py.stdout.split(|&b| b == 0x1e).collect();
    let from_rust: Vec<&[u8]> = rows.iter().map(|r| &r.text[..]).collect();
    assert_eq!(from_python, from_rust);
}

// ---------------------------------------------------------------------------------------
// Problems that need a fix in the core (files this suite's author may not edit)
// ---------------------------------------------------------------------------------------

/// A sentence repeated back to back inside one paragraph ("S. S. S.", as scraped
/// captions often are) is reported once per copy, and cleaning leaves one copy. Twice
/// works; three copies give two rows (the first and the third: the middle one is in no
/// row) and four give two rows of two copies each, so the cleaned text keeps two.
#[test]
#[ignore = "known limit: a sentence repeated 3+ times back to back in one paragraph yields fewer occurrences than copies (self-alignments of a tandem repeat straddle the copies); a per-copy fix was too slow on one word repeated a million times"]
fn sentence_repeated_back_to_back_is_reported_once_per_copy() {
    const SENTENCE: &str =
        "The minister said the talks on the new bridge would open next week after the rain.";
    let dir = tempfile::tempdir().unwrap();
    for copies in 2..=4 {
        let path = dir.path().join(format!("t{copies}.txt"));
        let line = vec![SENTENCE; copies].join(" ");
        fs::write(&path, format!("{line}\n")).unwrap();
        let report = dir.path().join(format!("t{copies}.csv"));
        let out = neardup([
            OsStr::new("article"),
            p(&path),
            OsStr::new("-q"),
            OsStr::new("-o"),
            p(&report),
            OsStr::new("--clean"),
            OsStr::new("-"),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let rows = parse_report(&fs::read(&report).unwrap());
        assert_rows_are_file_bytes(&rows, |_| path.clone());
        assert_eq!(rows.len(), copies, "{copies} copies: {rows:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{SENTENCE}\n"),
            "{copies} copies cleaned"
        );
    }
}

/// One passage in every paragraph of a large corpus gives one group with an occurrence
/// per paragraph; `cluster::drop_overlapping` compares each member with every member
/// chosen before it, O(n²): 200,000 paragraphs sharing a 12-word sentence spend 21 s of
/// 23 s there (release), 25,000 spend 0.4 s. Here: 200,000 members in distinct
/// paragraphs, which a per-paragraph index filters in milliseconds.
#[test]
fn overlap_filter_of_a_large_passage_group_is_not_quadratic() {
    use neardup::cluster::{drop_overlapping, Interval};
    const N: u32 = 200_000;
    let group: Vec<(Interval, f64)> = (0..N)
        .map(|para| {
            let iv = Interval {
                para,
                start: 3,
                end: 15,
            };
            (iv, if para == 0 { 1.0 } else { 0.9 })
        })
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(drop_overlapping(group).len());
    });
    let kept = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("drop_overlapping of 200,000 disjoint members took over 20 s");
    assert_eq!(kept, N as usize);
}
