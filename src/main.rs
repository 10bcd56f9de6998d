//! The `neardup` command.

mod cli;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;

use cli::{Cli, Command, Common, Paragraphs};
use neardup::corpus::{list_files, read_all};
use neardup::{clean, report, Config, Document, Findings, ParagraphMode, Warning};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("neardup: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<neardup::Error>().is_some_and(|e| match e {
                neardup::Error::Csv(csv) => matches!(csv.kind(), csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::BrokenPipe),
                _ => false,
            })
    })
}

fn config(common: &Common, hidden: bool) -> anyhow::Result<Config> {
    let mode = match common.paragraphs {
        Paragraphs::Line => ParagraphMode::Line,
        Paragraphs::Blank => ParagraphMode::Blank,
        Paragraphs::Auto => ParagraphMode::Auto,
    };
    Ok(Config::builder()
        .threshold(common.threshold)
        .min_words(common.min_words)
        .passage_similarity(common.passage_similarity)
        .paragraph_mode(mode)
        .passages(!common.no_passages)
        .hidden(hidden)
        .build()?)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (roots, clean_target, common, hidden, article) = match cli.command {
        Command::Article {
            file,
            clean,
            common,
        } => (vec![file], clean, common, false, true),
        Command::Scan {
            paths,
            clean,
            hidden,
            common,
        } => (paths, clean, common, hidden, false),
    };
    let config = config(&common, hidden)?;
    if let Some(threads) = common.threads {
        if threads == 0 {
            bail!("invalid option: --threads must be at least 1");
        }
    }
    if article && clean_target.as_deref() == Some(Path::new("-")) && common.output.is_none() {
        bail!("--clean - writes the article to standard output; give the report a file with -o");
    }
    if let Some(target) = &clean_target {
        check_clean_target(target, &roots, article, common.force)?;
    }
    if let Some(out) = &common.output {
        check_output(out, &roots)?;
    }
    let (files, mut warnings) = list_files(&roots, config.hidden())?;
    if article {
        if let Some(w) = warnings.first() {
            bail!("{w}");
        }
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(common.threads.unwrap_or(0))
        .build()
        .context("starting worker threads")?;
    let read_started = Instant::now();
    let (docs, findings, read_warnings, read_time) = pool.install(|| {
        let (docs, read_warnings) = read_all(&files);
        let read_time = read_started.elapsed();
        let findings = neardup::find_duplicates(&docs, &config);
        (docs, findings, read_warnings, read_time)
    });
    let write_started = Instant::now();
    warnings.extend(read_warnings);
    if article {
        if let Some(w) = warnings.iter().find(|w| w.skipped) {
            bail!("{w}");
        }
    }
    if !common.quiet {
        for w in &warnings {
            eprintln!("neardup: {w}");
        }
    }

    match &common.output {
        Some(path) => write_atomically(path, |w| Ok(report::write_csv(w, &findings, &docs)?))?,
        None => {
            let stdout = io::stdout();
            let mut lock = io::BufWriter::new(stdout.lock());
            report::write_csv(&mut lock, &findings, &docs)?;
            lock.flush()?;
        }
    }
    if let Some(target) = &clean_target {
        if article {
            write_clean_article(target, &findings, &docs)?;
        } else {
            write_clean_corpus(target, &findings, &docs, &files)?;
        }
    }

    if common.verbose {
        let bytes: u64 = docs.iter().map(|d| d.text.len() as u64).sum();
        eprintln!("neardup: {bytes} bytes, {} tokens", findings.stats.tokens);
        eprintln!("neardup: stage read: {:.3} s", read_time.as_secs_f64());
        for (name, t) in &findings.stats.timings {
            eprintln!("neardup: stage {name}: {:.3} s", t.as_secs_f64());
        }
        eprintln!(
            "neardup: stage write: {:.3} s",
            write_started.elapsed().as_secs_f64()
        );
        let s = &findings.stats;
        eprintln!(
            "neardup: {} LSH candidates, {} verified pairs; {} seed postings, {} seed matches, {} aligned passages",
            s.candidates_verified, s.pairs_accepted, s.seed_postings, s.seed_matches, s.alignments
        );
    }
    if !common.quiet {
        summary(&findings, docs.len(), &warnings, started);
    }
    if common.fail_on_duplicates && !findings.clusters.is_empty() {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(findings: &Findings, n_docs: usize, warnings: &[Warning], started: Instant) {
    let skipped = warnings.iter().filter(|w| w.skipped).count();
    let rows: usize = findings.clusters.iter().map(|c| c.occurrences.len()).sum();
    eprintln!(
        "neardup: {n_docs} files read, {skipped} skipped; {} paragraphs; {} clusters, {rows} rows; {} duplicate bytes; {:.2} s",
        findings.stats.paragraphs,
        findings.clusters.len(),
        findings.duplicate_bytes(),
        started.elapsed().as_secs_f64()
    );
}

/// Writes `path` through a temporary file in the same directory, renamed into place only
/// once complete: a reader never sees a half-written file, and a failed run leaves the
/// old one untouched.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<&mut tempfile::NamedTempFile>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".neardup-")
        .tempfile_in(&dir)
        .with_context(|| format!("{}: cannot create a file there", dir.display()))?;
    {
        let mut w = io::BufWriter::new(&mut tmp);
        write(&mut w).with_context(|| format!("{}: writing failed", path.display()))?;
        w.flush()
            .with_context(|| format!("{}: writing failed", path.display()))?;
    }
    tmp.persist(path).map_err(|e| e.error).with_context(|| {
        format!(
            "{}: cannot move the finished file into place",
            path.display()
        )
    })?;
    Ok(())
}

fn check_output(out: &Path, roots: &[PathBuf]) -> anyhow::Result<()> {
    for root in roots {
        if same_file(out, root) {
            bail!("{}: the report would overwrite an input", out.display());
        }
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Refuses a clean target that is an input, lies inside an input tree, or exists
/// already (without `--force`).
fn check_clean_target(
    target: &Path,
    roots: &[PathBuf],
    article: bool,
    force: bool,
) -> anyhow::Result<()> {
    if target == Path::new("-") {
        return Ok(());
    }
    let resolved = resolve_nonexistent(target);
    for root in roots {
        let Ok(root) = fs::canonicalize(root) else {
            continue;
        };
        if resolved == root || (root.is_dir() && resolved.starts_with(&root)) {
            bail!(
                "{}: the cleaned output must not be inside an input ({})",
                target.display(),
                root.display()
            );
        }
    }
    if target.exists() && !force {
        let empty_dir = !article
            && target.is_dir()
            && fs::read_dir(target)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !empty_dir {
            bail!(
                "{}: already exists (use --force to overwrite)",
                target.display()
            );
        }
    }
    Ok(())
}

/// The absolute form of a path that may not exist yet: its deepest existing ancestor
/// canonicalized, with the rest appended.
fn resolve_nonexistent(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = fs::canonicalize(cur) {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

fn write_clean_article(
    target: &Path,
    findings: &Findings,
    docs: &[Document],
) -> anyhow::Result<()> {
    let removals = clean::removals(findings, docs);
    let Some(doc) = docs.first() else {
        return Ok(());
    };
    let cleaned = clean::apply(doc.bytes(), &removals[0]);
    if target == Path::new("-") {
        let mut out = io::stdout().lock();
        out.write_all(&cleaned)?;
        out.flush()?;
        return Ok(());
    }
    write_atomically(target, |w| Ok(w.write_all(&cleaned)?))
}

fn write_clean_corpus(
    outdir: &Path,
    findings: &Findings,
    docs: &[Document],
    files: &[neardup::InputFile],
) -> anyhow::Result<()> {
    let removals = clean::removals(findings, docs);
    fs::create_dir_all(outdir).with_context(|| format!("{}: cannot create", outdir.display()))?;
    let mut read = vec![false; files.len()];
    for (doc, ranges) in docs.iter().zip(&removals) {
        read[doc.id as usize] = true;
        let cleaned = clean::apply(doc.bytes(), ranges);
        let path = clean_path(outdir, &doc.name)?;
        write_atomically(&path, |w| Ok(w.write_all(&cleaned)?))?;
    }
    // Files that were listed but not analyzed (binary, unreadable) are copied unchanged,
    // so the cleaned corpus is complete; one that cannot be read is reported.
    for (file, was_read) in files.iter().zip(read) {
        if was_read {
            continue;
        }
        let path = clean_path(outdir, &file.name)?;
        match fs::read(&file.path) {
            Ok(bytes) => write_atomically(&path, |w| Ok(w.write_all(&bytes)?))?,
            Err(err) => eprintln!(
                "neardup: {}: not copied to the cleaned corpus: {err}",
                file.path.display()
            ),
        }
    }
    Ok(())
}

/// Where a file named `name` (relative, `/`-separated) goes under `outdir`. Names never
/// hold `..` (they come from walking a directory), but this is checked, not assumed.
fn clean_path(outdir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let mut path = outdir.to_path_buf();
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            continue;
        }
        path.push(part);
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    Ok(path)
}
