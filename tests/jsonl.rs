//! Integration tests: JSON Lines input (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`) through the
//! `neardup` binary, on small files written to temp dirs.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Output;

mod common;

use common::{read_csv, stderr, stdout, END, FILE, LINE, PARAGRAPH, START, TEXT};

fn neardup(dir: &Path, args: &[&str]) -> Output {
    common::run_in(dir, args)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    w.write_all(bytes).unwrap();
    w.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 1).unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

const SHARED: &str = "The council met on Monday and said the new budget would protect the \
                      hospitals and schools of the region for five more years.";
const QUOTE: &str = "we will not accept any agreement that leaves the refugees of the northern \
                     valleys without shelter this winter";

/// Six documents with a repeated paragraph and a repeated passage, as (id, text).
fn documents() -> Vec<(String, String)> {
    let texts = [
        format!("Opening of the first story about roads.\n{SHARED}\nA closing remark on weather."),
        format!(
            "Something else entirely, in a second story.\nThe minister said \"{QUOTE}\" and left."
        ),
        "A story with nothing repeated in it at all, only its own words here.".to_string(),
        format!("{SHARED}\nBut the opposition said the numbers did not add up."),
        format!("Later, an aide repeated that {QUOTE}, according to reporters."),
        "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.".to_string(),
    ];
    texts
        .into_iter()
        .enumerate()
        .map(|(i, t)| (format!("d{i}"), t))
        .collect()
}

fn jsonl_of(docs: &[(String, String)]) -> String {
    let mut body = String::new();
    for (id, text) in docs {
        let record = serde_json::json!({ "id": id, "lang": "x", "text": text });
        body.push_str(&record.to_string());
        body.push('\n');
    }
    body
}

#[test]
fn records_are_named_path_hash_id_and_offsets_index_the_decoded_text() {
    let dir = tempfile::tempdir().unwrap();
    let docs = documents();
    fs::write(dir.path().join("c.jsonl"), jsonl_of(&docs)).unwrap();
    let out = neardup(dir.path(), &["scan", "c.jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = read_csv(&stdout(&out));
    assert!(rows.len() >= 4, "{rows:?}");
    let texts: HashMap<String, &str> = docs
        .iter()
        .map(|(id, t)| (format!("c.jsonl#{id}"), t.as_str()))
        .collect();
    for row in &rows {
        let text = texts
            .get(&row[FILE])
            .unwrap_or_else(|| panic!("name {}", row[FILE]));
        let (start, end): (usize, usize) = (row[START].parse().unwrap(), row[END].parse().unwrap());
        assert_eq!(&text[start..end], row[TEXT], "{row:?}");
        let line = text[..start].matches('\n').count() + 1;
        assert_eq!(
            row[LINE],
            line.to_string(),
            "line is relative to the text: {row:?}"
        );
        assert_eq!(
            row[PARAGRAPH],
            line.to_string(),
            "one paragraph per line: {row:?}"
        );
    }
    let names: Vec<&str> = rows.iter().map(|r| r[FILE].as_str()).collect();
    assert!(
        names.contains(&"c.jsonl#d0") && names.contains(&"c.jsonl#d4"),
        "{names:?}"
    );
    assert!(
        stderr(&out).contains("6 JSON Lines records"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn text_files_and_jsonl_of_the_same_documents_give_the_same_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let docs = documents();
    fs::create_dir(dir.path().join("txt")).unwrap();
    for (id, text) in &docs {
        fs::write(dir.path().join("txt").join(id), text).unwrap();
    }
    let body = jsonl_of(&docs);
    fs::create_dir(dir.path().join("j")).unwrap();
    fs::write(dir.path().join("j/c.jsonl"), &body).unwrap();
    fs::write(dir.path().join("j/c.jsonl.gz"), gzip(body.as_bytes())).unwrap();
    fs::write(dir.path().join("j/c.jsonl.zst"), zstd(body.as_bytes())).unwrap();

    let txt = neardup(dir.path(), &["scan", "txt", "-q"]);
    assert!(txt.status.success(), "{}", stderr(&txt));
    let want = stdout(&txt);
    assert!(read_csv(&want).len() >= 4);
    // The texts of compressed records go to an unnamed file in the temp dir, and are
    // quoted from there: nothing is left behind.
    let temp = tempfile::tempdir().unwrap();
    let temp_dir = temp.path().to_str().unwrap();
    for name in ["c.jsonl", "c.jsonl.gz", "c.jsonl.zst"] {
        let path = format!("j/{name}");
        let args = [
            "scan",
            &path,
            "-q",
            "--threads",
            "2",
            "--temp-dir",
            temp_dir,
        ];
        let out = neardup(dir.path(), &args);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let got = stdout(&out).replace(&format!("{path}#"), "");
        assert_eq!(got, want, "{name}");
        assert_eq!(fs::read_dir(temp.path()).unwrap().count(), 0, "{name}");

        // With no temp dir to write to, the texts are held, with a warning naming it.
        let missing = temp.path().join("missing");
        let args = ["scan", &path, "--temp-dir", missing.to_str().unwrap()];
        let out = neardup(dir.path(), &args);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(
            stdout(&out).replace(&format!("{path}#"), ""),
            want,
            "{name}"
        );
        let warned = stderr(&out).contains("missing: warning: cannot make a temporary file here");
        assert_eq!(warned, name != "c.jsonl", "{name}: {}", stderr(&out));
    }
    // Found under a scanned directory too, and the three files match each other.
    let out = neardup(dir.path(), &["scan", "j", "-q"]);
    let rows = read_csv(&stdout(&out));
    for name in ["c.jsonl#d0", "c.jsonl.gz#d0", "c.jsonl.zst#d0"] {
        assert!(rows.iter().any(|r| r[FILE] == name), "{name}: {rows:?}");
    }
}

#[test]
fn bad_lines_are_warnings_with_their_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let docs = documents();
    let mut body = jsonl_of(&docs[..3]);
    body.push_str("this is not json\n");
    body.push_str("[\"an\", \"array\"]\n");
    body.push_str("{\"id\": \"no-text\"}\n");
    body.push_str("{\"id\": \"num\", \"text\": 42}\n");
    body.push('\n');
    body.push_str(&jsonl_of(&docs[3..]));
    let mut bytes = body.into_bytes();
    bytes.extend_from_slice(b"{\"id\": \"latin1\", \"text\": \"caf\xe9\"}\n");
    fs::write(dir.path().join("c.jsonl"), &bytes).unwrap();
    let out = neardup(dir.path(), &["scan", "c.jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for (line, why) in [
        (4, "invalid JSON"),
        (5, "not a JSON object"),
        (6, "no field `text`"),
        (7, "field `text` is not a string"),
        (12, "not valid UTF-8"),
    ] {
        let want = format!("c.jsonl:{line}: warning: {why}");
        assert!(err.contains(&want), "{want}\n{err}");
    }
    assert_eq!(
        err.matches("warning").count(),
        5,
        "a blank line is no warning: {err}"
    );
    assert!(err.contains("6 JSON Lines records"), "{err}");
    // The records after the bad lines are read.
    let rows = read_csv(&stdout(&out));
    assert!(rows.iter().any(|r| r[FILE] == "c.jsonl#d4"), "{rows:?}");
    // -q silences them.
    let quiet = neardup(dir.path(), &["scan", "c.jsonl", "-q"]);
    assert_eq!(stderr(&quiet), "");
}

#[test]
fn field_options_choose_the_text_and_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::new();
    for (i, (_, text)) in documents().iter().enumerate() {
        let record =
            serde_json::json!({ "url": format!("https://x/{i}"), "body": text, "text": "decoy" });
        body.push_str(&record.to_string());
        body.push('\n');
    }
    body.push_str(&serde_json::json!({ "body": format!("{SHARED} Again.") }).to_string());
    body.push('\n');
    fs::write(dir.path().join("c.ndjson"), body).unwrap();
    let out = neardup(
        dir.path(),
        &[
            "scan",
            "c.ndjson",
            "--text-field",
            "body",
            "--id-field",
            "url",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = read_csv(&stdout(&out));
    let names: Vec<&str> = rows.iter().map(|r| r[FILE].as_str()).collect();
    assert!(names.contains(&"c.ndjson#https://x/0"), "{names:?}");
    assert!(
        names.contains(&"c.ndjson#7"),
        "no id: the line number: {names:?}"
    );
    assert!(rows.iter().all(|r| r[TEXT] != "decoy"));

    let same = neardup(
        dir.path(),
        &["scan", "c.ndjson", "--text-field", "x", "--id-field", "x"],
    );
    assert_eq!(same.status.code(), Some(2), "{}", stderr(&same));
}

#[test]
fn clean_rewrites_only_the_text_field_and_keeps_the_compression() {
    let dir = tempfile::tempdir().unwrap();
    let docs = documents();
    let mut body = jsonl_of(&docs);
    body.push_str("not json, copied through\n");
    fs::create_dir(dir.path().join("in")).unwrap();
    fs::write(dir.path().join("in/c.jsonl"), &body).unwrap();
    fs::write(dir.path().join("in/c.jsonl.gz"), gzip(body.as_bytes())).unwrap();
    fs::write(dir.path().join("in/plain.txt"), &docs[0].1).unwrap();
    let out = neardup(
        dir.path(),
        &["scan", "in", "--clean", "out", "-o", "report.csv", "-q"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let plain = fs::read_to_string(dir.path().join("out/c.jsonl")).unwrap();
    let gz = String::from_utf8(gunzip(
        &fs::read(dir.path().join("out/c.jsonl.gz")).unwrap(),
    ))
    .unwrap();
    assert!(gz.contains("\"id\":\"d0\""), "{gz}");
    assert!(plain.ends_with("not json, copied through\n"), "{plain}");
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(lines.len(), docs.len() + 1);
    let mut changed = 0;
    for (line, (id, text)) in lines.iter().zip(&docs) {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["id"], id.as_str());
        assert_eq!(record["lang"], "x", "other fields stay");
        let cleaned = record["text"].as_str().unwrap();
        if cleaned != text {
            changed += 1;
            assert!(cleaned.len() < text.len(), "{id}: {cleaned}");
        }
    }
    // c.jsonl is read first and keeps the first occurrences: d3 loses the paragraph it
    // shares with d0. The quote in d4 is only part of a sentence, so it is reported,
    // not cut.
    assert_eq!(changed, 1, "{plain}");
    assert!(lines[0].contains(SHARED));
    assert!(!lines[3].contains(SHARED), "{}", lines[3]);
    // The gzip copy and plain.txt come later: their copies of the paragraph go.
    assert!(!gz.contains(SHARED), "{gz}");
    let plain_txt = fs::read_to_string(dir.path().join("out/plain.txt")).unwrap();
    assert!(!plain_txt.contains(SHARED), "{plain_txt}");
}

#[test]
fn a_truncated_gzip_file_keeps_the_records_before_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let mut docs = documents();
    for i in 0..3000 {
        docs.push((
            format!("filler{i}"),
            format!("filler record number {i} with words {}", i * 7919),
        ));
    }
    let full = gzip(jsonl_of(&docs).as_bytes());
    fs::write(dir.path().join("t.jsonl.gz"), &full[..full.len() / 2]).unwrap();
    let out = neardup(dir.path(), &["scan", "t.jsonl.gz"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("t.jsonl.gz: warning: corrupt or truncated gzip stream after line")
            && err.contains("records read before it are kept"),
        "{err}"
    );
    assert!(err.contains("1 files read, 0 skipped"), "{err}");
    let rows = read_csv(&stdout(&out));
    assert!(rows.iter().any(|r| r[FILE] == "t.jsonl.gz#d3"), "{rows:?}");
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("c.jsonl"), jsonl_of(&documents())).unwrap();
    let out = neardup(dir.path(), &["scan", "c.jsonl"]);
    let err = stderr(&out);
    assert!(!err.contains("reading") && !err.contains('\r'), "{err}");
    assert_eq!(err.lines().count(), 1, "only the summary: {err}");
}

#[test]
fn article_reads_and_cleans_a_compressed_jsonl_file() {
    let dir = tempfile::tempdir().unwrap();
    let body = jsonl_of(&documents());
    fs::write(dir.path().join("a.jsonl.zst"), zstd(body.as_bytes())).unwrap();
    let out = neardup(
        dir.path(),
        &[
            "article",
            "a.jsonl.zst",
            "--clean",
            "clean.jsonl.zst",
            "-o",
            "r.csv",
            "-q",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = fs::read_to_string(dir.path().join("r.csv")).unwrap();
    assert!(report.contains("a.jsonl.zst#d3"), "{report}");
    let cleaned =
        zstd::stream::decode_all(&fs::read(dir.path().join("clean.jsonl.zst")).unwrap()[..])
            .unwrap();
    let cleaned = String::from_utf8(cleaned).unwrap();
    assert_eq!(cleaned.lines().count(), 6);
    assert_eq!(cleaned.matches(SHARED).count(), 1, "{cleaned}");
}

/// Records of pseudo-random words (little to compress), `n` of them after `docs`.
fn with_fillers(mut docs: Vec<(String, String)>, n: usize) -> Vec<(String, String)> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut word = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        format!("w{:x}", state % 100_000)
    };
    for i in 0..n {
        let text: Vec<String> = (0..24).map(|_| word()).collect();
        docs.push((format!("filler{i}"), text.join(" ")));
    }
    docs
}

/// One JSON Lines file larger than a spilled run's batch (1 MiB of text) is read and
/// mapped a batch of records at a time: the same report as the in-memory run, plain or
/// compressed, and a damaged stream keeps the same records as in memory.
#[test]
fn a_large_jsonl_file_spilled_gives_the_in_memory_report() {
    let dir = tempfile::tempdir().unwrap();
    let spill = tempfile::tempdir().unwrap();
    let t = spill.path().to_str().unwrap();
    let docs = with_fillers(documents(), 20_000);
    let body = jsonl_of(&docs);
    assert!(body.len() > 3 << 20);
    let gz = gzip(body.as_bytes());
    let damaged = gz[..gz.len() / 2].to_vec();
    for (name, bytes) in [
        ("big.jsonl", body.as_bytes().to_vec()),
        ("big.jsonl.gz", gz),
        ("big.jsonl.zst", zstd(body.as_bytes())),
        ("cut.jsonl.gz", damaged),
    ] {
        let sub = dir.path().join(name.replace('.', "_"));
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join(name), &bytes).unwrap();
        let memory = neardup(&sub, &["scan", name]);
        assert!(memory.status.success(), "{}", stderr(&memory));
        let spilled = neardup(
            &sub,
            &["scan", name, "-v", "--memory-limit", "1", "--temp-dir", t],
        );
        assert!(spilled.status.success(), "{}", stderr(&spilled));
        let err = stderr(&spilled);
        assert!(err.contains("spilled to disk"), "{name}: {err}");
        assert_eq!(stdout(&spilled), stdout(&memory), "{name}");
        let rows = read_csv(&stdout(&memory));
        assert!(
            rows.iter().any(|r| r[FILE] == format!("{name}#d3")),
            "{name}"
        );
        if name.starts_with("big") {
            assert!(
                err.contains(&format!("{} JSON Lines records", docs.len())),
                "{name}: {err}"
            );
        } else {
            assert!(
                err.contains("records read before it are kept"),
                "{name}: {err}"
            );
            assert_eq!(
                stderr(&memory).lines().find(|l| l.contains("truncated")),
                err.lines().find(|l| l.contains("truncated")),
                "{name}"
            );
        }
        assert_eq!(fs::read_dir(spill.path()).unwrap().count(), 0, "spill left");
    }
}

/// A JSON Lines file is cleaned a chunk of records at a time, as the copy is written:
/// each record's cleaned text is the cleaned copy of the same text as a file of its
/// own, in memory and spilled.
#[test]
fn records_are_cleaned_in_chunks_as_their_files_would_be() {
    let dir = tempfile::tempdir().unwrap();
    let fillers = with_fillers(Vec::new(), 600);
    let mut docs = Vec::new();
    for (k, (_, note)) in fillers.iter().enumerate() {
        for (id, text) in documents() {
            // A line of its own in each record, so that no record is emptied.
            docs.push((format!("{k}-{id}"), format!("{note} {id}\n{text}")));
        }
    }
    fs::create_dir(dir.path().join("txt")).unwrap();
    for (n, (_, text)) in docs.iter().enumerate() {
        fs::write(dir.path().join(format!("txt/{n:06}.txt")), text).unwrap();
    }
    fs::create_dir(dir.path().join("j")).unwrap();
    fs::write(dir.path().join("j/c.jsonl"), jsonl_of(&docs)).unwrap();
    let out = neardup(
        dir.path(),
        &["scan", "txt", "--clean", "txt-out", "-q", "-o", "t.csv"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let spill = tempfile::tempdir().unwrap();
    let t = spill.path().to_str().unwrap();
    for (out_dir, limit) in [("j-out", None), ("j-spilled", Some("1"))] {
        let mut args = vec!["scan", "j", "--clean", out_dir, "-q", "-o", "j.csv"];
        if let Some(limit) = limit {
            args.extend(["--memory-limit", limit, "--temp-dir", t]);
        }
        let out = neardup(dir.path(), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        let cleaned = fs::read_to_string(dir.path().join(out_dir).join("c.jsonl")).unwrap();
        let lines: Vec<&str> = cleaned.lines().collect();
        assert_eq!(lines.len(), docs.len(), "{out_dir}");
        let mut changed = 0;
        for (n, (line, (id, text))) in lines.iter().zip(&docs).enumerate() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(record["id"], id.as_str(), "{out_dir}");
            let want = fs::read_to_string(dir.path().join(format!("txt-out/{n:06}.txt"))).unwrap();
            assert_eq!(record["text"].as_str().unwrap(), want, "{out_dir}: {id}");
            changed += usize::from(want != *text);
        }
        // Every copy after the first loses its repeats: most records change, in chunk
        // after chunk.
        assert!(changed > 3_000, "{out_dir}: {changed}");
    }
}
