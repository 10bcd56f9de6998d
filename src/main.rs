//! The `neardup` command.

mod cli;
mod progress;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;

use cli::{Cli, Command, Common, Paragraphs};
use neardup::corpus::{list_files, open_regular, read_input_batched, Batching, InputRead};
use neardup::report::DocSource;
use neardup::results::Clusters;
use neardup::{clean, jsonl, report, Config, Document, Findings, InputFile, ParagraphMode};
use neardup::{ReadOptions, Warning};
use progress::Progress;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    if let Err(err) = interrupt::install() {
        eprintln!("neardup: error: cannot install the signal handler: {err}");
        return ExitCode::from(2);
    }
    let code = match run(cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the message and its causes, joined.
            eprintln!("neardup: error: {err:#}");
            ExitCode::from(2)
        }
    };
    interrupt::hold_until_exit();
    code
}

/// Prints a command-line error on one line and returns status 2. Help and version
/// requests are printed by clap as usual.
fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let rendered = err.render().to_string();
    // clap's message is its first paragraph; usage and tips follow a blank line.
    let message = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("neardup: error: {message} (see neardup --help)");
    ExitCode::from(2)
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

    // Everything that can be refused is refused here, before any file is read.
    let config = config(&common, hidden)?;
    if common.threads == Some(0) {
        bail!("invalid option: --threads must be at least 1");
    }
    if common.text_field == common.id_field {
        bail!("invalid option: --text-field and --id-field must name different fields");
    }
    let read_opts = ReadOptions {
        text_field: common.text_field.clone(),
        id_field: common.id_field.clone(),
    };
    let stdout_clean = clean_target.as_deref() == Some(Path::new("-"));
    if stdout_clean && !article {
        bail!("--clean - (standard output) is only for article; scan needs a directory");
    }
    if stdout_clean && common.output.is_none() {
        bail!("--clean - writes the article to standard output; give the report a file with -o");
    }
    check_roots(&roots, article)?;
    if let Some(out) = &common.output {
        check_output(out, &roots)?;
    }
    if let Some(target) = clean_target.as_deref().filter(|_| !stdout_clean) {
        check_clean_target(target, &roots, article, common.force)?;
        if let Some(out) = &common.output {
            check_report_apart(out, target, article)?;
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(common.threads.unwrap_or(0))
        .build()
        .context("starting worker threads")?;

    let list_started = Instant::now();
    let (files, mut warnings) = pool.install(|| list_files(&roots, config.hidden()))?;
    let list_time = list_started.elapsed();
    if article {
        if let Some(w) = warnings.iter().find(|w| w.skipped) {
            bail!("{w}");
        }
    }
    if let Some(out) = &common.output {
        check_output_not_listed(out, &files)?;
    }
    if let Some(outdir) = clean_target.as_deref().filter(|_| !article) {
        check_clean_layout(outdir, &files)?;
    }

    let total_bytes: u64 = files.iter().filter_map(|f| f.len).sum();
    let decoded_bytes: u64 = files.iter().map(neardup::spill::decoded_bytes).sum();
    let limit = common.memory_limit.unwrap_or_else(default_memory_limit);
    let spilling = neardup::spill::in_memory_estimate(decoded_bytes) > limit;
    let progress = Progress::new(
        !common.quiet && !common.no_progress,
        files.len(),
        total_bytes,
    );
    let mut spill_dir = None;
    let mut stored = None;
    let counts = ReadCounts::default();
    let read_one = |f: &InputFile,
                    batching: Batching,
                    each: &mut dyn FnMut(Vec<Document>) -> ControlFlow<()>| {
        read_one(f, &read_opts, &progress, &counts, batching, each)
    };
    let on_stage = |stage| progress.stage(stage);
    // A spilled run cleans a large text file a batch at a time; an in-memory one holds
    // its files' texts or reads them whole.
    let mut window_bytes = u64::MAX;
    let (texts, findings, read_warnings): (Texts, Findings, Vec<Warning>) = if spilling {
        let parent = common.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
        let dir = interrupt::Tracked::new(
            || {
                tempfile::Builder::new()
                    .prefix(".neardup-spill-")
                    .tempdir_in(&parent)
            },
            tempfile::TempDir::path,
        )
        .with_context(|| format!("{}: cannot create a spill directory", parent.display()))?;
        // The list of input files is held through the run: the buffers get what the
        // limit leaves (a corpus of millions of small files lists hundreds of MB).
        let listed: u64 = files.iter().map(|f| f.held_bytes() as u64).sum();
        let options = neardup::spill::SpillOptions::for_limit(limit.saturating_sub(listed));
        window_bytes = options.batch_bytes;
        let result = pool.install(|| {
            neardup::spill::find_duplicates_spilled(
                &files,
                &read_one,
                &config,
                &options,
                dir.path(),
                &on_stage,
            )
        })?;
        spill_dir = Some(dir);
        stored = Some(result.clusters);
        (
            Texts::Spilled(result.texts),
            result.findings,
            result.warnings,
        )
    } else {
        // The texts of compressed JSON Lines records go to an unnamed file there.
        let store_dir = common.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
        let (findings, texts, warnings) = pool.install(|| {
            neardup::pipeline::find_duplicates_read(
                &files,
                &read_one,
                &config,
                Some(&store_dir),
                &on_stage,
            )
        })?;
        (Texts::Memory(texts), findings, warnings)
    };
    let clusters: &dyn Clusters = match &stored {
        Some(store) => store,
        None => &findings.clusters,
    };
    let files_read = counts.files_read.into_inner();
    let records = counts.records.into_inner();
    let write_started = Instant::now();
    warnings.extend(read_warnings);
    if article {
        if let Some(w) = warnings.iter().find(|w| w.skipped) {
            bail!("{w}");
        }
    }
    if !common.quiet {
        progress.suspend(|| {
            for w in &warnings {
                eprintln!("neardup: {w}");
            }
        });
    }
    progress.stage("writing");
    let clean_inputs = CleanInputs {
        texts: texts.source(),
        config: &config,
        files: &files,
        read_opts: &read_opts,
        quiet: common.quiet,
        progress: &progress,
        window_bytes,
    };

    // The passages' bytes that the assemble stage kept are quoted from memory.
    let quoted = neardup::texts::WithSpanTexts::new(&findings.span_texts, texts.source());
    let write_report = |w: &mut dyn Write| -> anyhow::Result<()> {
        report::write_clusters_csv(w, clusters, &quoted)?;
        Ok(())
    };
    match &common.output {
        Some(path) => write_atomically(path, |w| write_report(w))?,
        None => {
            let stdout = io::stdout();
            let mut lock = io::BufWriter::new(stdout.lock());
            write_report(&mut lock)?;
            lock.flush()?;
        }
    }
    if let Some(target) = &clean_target {
        if article {
            write_clean_article(target, &findings, clusters, &clean_inputs)?;
        } else {
            write_clean_corpus(target, &findings, clusters, &clean_inputs)?;
        }
    }
    progress.finish();

    // The spilled data go once the report is written.
    drop(spill_dir);
    if common.verbose {
        let bytes = match &texts {
            Texts::Spilled(t) => t.total_bytes(),
            Texts::Memory(t) => t.total_bytes(),
        };
        if spilling {
            eprintln!("neardup: spilled to disk (memory limit {limit} bytes)");
        }
        eprintln!("neardup: {bytes} bytes, {} tokens", findings.stats.tokens);
        let peak = |bytes: Option<u64>| {
            bytes.map_or(String::new(), |b| format!(" (peak memory {} MB)", b >> 20))
        };
        eprintln!("neardup: stage list: {:.3} s", list_time.as_secs_f64());
        for (name, t, rss) in &findings.stats.timings {
            eprintln!(
                "neardup: stage {name}: {:.3} s{}",
                t.as_secs_f64(),
                peak(*rss)
            );
        }
        eprintln!(
            "neardup: stage write: {:.3} s{}",
            write_started.elapsed().as_secs_f64(),
            peak(neardup::pipeline::peak_rss())
        );
        let s = &findings.stats;
        eprintln!(
            "neardup: {} LSH candidates, {} verified pairs; {} seed postings, {} seed matches, {} aligned passages",
            s.candidates_verified, s.pairs_accepted, s.seed_postings, s.seed_matches, s.alignments
        );
    }
    if !common.quiet {
        summary(&findings, clusters, files_read, records, &warnings, started);
    }
    let found = clusters.count() > 0;
    // The run's data go back to the system whole when the process ends, which it does
    // now: freeing them one allocation at a time took a few milliseconds.
    std::mem::forget(findings);
    std::mem::forget(texts);
    if common.fail_on_duplicates && found {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Three quarters of the memory this process may use: the physical memory, or the
/// control group's limit when it is lower (a container); 8 GiB if neither can be known.
fn default_memory_limit() -> u64 {
    let mut total: Option<u64> = None;
    #[cfg(unix)]
    {
        // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
        let (pages, size) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        if pages > 0 && size > 0 {
            total = Some((pages as u64).saturating_mul(size as u64));
        }
    }
    // cgroup v2, then v1; "max" or an absurdly large value means no limit.
    for path in [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ] {
        let limit = fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .filter(|&l| l < 1 << 60);
        if let Some(l) = limit {
            total = Some(total.map_or(l, |t| t.min(l)));
            break;
        }
    }
    total.map_or(8 << 30, |t| t / 4 * 3)
}

/// Where the documents of a run are read from after the stages: their files, or the
/// spill store.
enum Texts<'f> {
    Memory(neardup::texts::FileTexts<'f>),
    Spilled(neardup::spill::TextStore),
}

impl Texts<'_> {
    fn source(&self) -> &(dyn DocSource + Sync) {
        match self {
            Texts::Memory(t) => t,
            Texts::Spilled(t) => t,
        }
    }
}

/// Counts kept while files are read one by one.
#[derive(Default)]
struct ReadCounts {
    /// Files that were read, not skipped.
    files_read: std::sync::atomic::AtomicUsize,
    /// Documents that are JSON Lines records.
    records: std::sync::atomic::AtomicUsize,
}

/// Reads one listed file, showing the progress and counting it.
fn read_one(
    f: &InputFile,
    opts: &ReadOptions,
    progress: &Progress,
    counts: &ReadCounts,
    batching: Batching,
    each: &mut dyn FnMut(Vec<Document>) -> ControlFlow<()>,
) -> InputRead {
    use std::sync::atomic::{AtomicU64, Ordering};
    let seen = AtomicU64::new(0);
    let mut records = 0;
    let on_bytes = |n| {
        seen.fetch_add(n, Ordering::Relaxed);
        progress.read_bytes(n);
    };
    let read = read_input_batched(f, opts, &on_bytes, batching, &mut |docs| {
        records += docs.len();
        each(docs)
    });
    let unread = f.len.unwrap_or(0).saturating_sub(seen.into_inner());
    progress.file_done(unread);
    if !read.warnings.iter().any(|w| w.skipped) {
        counts.files_read.fetch_add(1, Ordering::Relaxed);
    }
    if jsonl::format_of(f.path()).is_some() {
        counts.records.fetch_add(records, Ordering::Relaxed);
    }
    read
}

fn summary(
    findings: &Findings,
    clusters: &dyn Clusters,
    files_read: usize,
    records: usize,
    warnings: &[Warning],
    started: Instant,
) {
    let skipped = warnings.iter().filter(|w| w.skipped).count();
    let rows = clusters.rows();
    let records = if records > 0 {
        format!("{records} JSON Lines records; ")
    } else {
        String::new()
    };
    eprintln!(
        "neardup: {files_read} files read, {skipped} skipped; {records}{} paragraphs; {} clusters, {rows} rows; {} duplicate bytes; {:.2} s",
        findings.stats.paragraphs,
        clusters.count(),
        clusters.duplicate_bytes(),
        started.elapsed().as_secs_f64()
    );
}

/// Removal of unfinished outputs when the run is interrupted.
///
/// Every temporary file or directory that is to become an output is registered here for
/// as long as it exists. SIGINT, SIGTERM and SIGHUP are taken by a thread that removes
/// the registered paths and exits with status 128 + the signal number, the status a
/// shell gives a process killed by that signal. Moving a finished output into place
/// holds the same lock, so a signal finds either the temporary file, and removes it, or
/// the output complete; never half of it.
mod interrupt {
    use std::fs;
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, MutexGuard, PoisonError};

    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    /// True once a signal has arrived: writers stop creating files in temporaries that
    /// are being removed.
    pub fn stopping() -> bool {
        STOPPING.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn lock() -> MutexGuard<'static, Vec<PathBuf>> {
        IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn install() -> io::Result<()> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        std::thread::Builder::new()
            .name("signals".to_string())
            .spawn(move || {
                if let Some(signo) = signals.forever().next() {
                    // Kept locked until the process ends: nothing is moved into place
                    // after this point.
                    STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
                    let paths = lock();
                    for path in paths.iter() {
                        // A writer may have been between its check and its write: try
                        // again until the temporary is really gone.
                        for _ in 0..200 {
                            remove(path);
                            if fs::symlink_metadata(path).is_err() {
                                break;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                    }
                    std::process::exit(128 + signo);
                }
            })?;
        Ok(())
    }

    /// Called once the run is over: a signal arriving now waits for the normal exit
    /// instead of racing it.
    pub fn hold_until_exit() {
        std::mem::forget(lock());
    }

    fn remove(path: &Path) {
        let is_dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
        let _ = if is_dir {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
    }

    /// A temporary file or directory (`T` removes it when dropped), registered for
    /// removal on a signal for as long as it exists.
    pub struct Tracked<T> {
        // Fields drop in order: the temporary is removed first and unregistered second,
        // so a signal in between finds nothing.
        value: T,
        registration: Registration,
    }

    /// The registration of a temporary's path; dropping it unregisters the path.
    struct Registration {
        path: PathBuf,
        /// False once `Tracked::finish` has unregistered the path itself.
        armed: bool,
    }

    impl Drop for Registration {
        fn drop(&mut self) {
            if self.armed {
                unregister(&mut lock(), &self.path);
            }
        }
    }

    impl<T> Tracked<T> {
        /// Creates the temporary with `create` and registers it, with the lock held, so
        /// a signal cannot come between the two.
        pub fn new(
            create: impl FnOnce() -> io::Result<T>,
            path: impl FnOnce(&T) -> &Path,
        ) -> io::Result<Tracked<T>> {
            let mut paths = lock();
            let value = create()?;
            let path = path(&value).to_path_buf();
            paths.push(path.clone());
            Ok(Tracked {
                value,
                registration: Registration { path, armed: true },
            })
        }

        pub fn value_mut(&mut self) -> &mut T {
            &mut self.value
        }

        pub fn path(&self) -> &Path {
            &self.registration.path
        }

        /// Runs `finish` (which moves the temporary into place, or drops it) with the
        /// lock held, then unregisters it.
        pub fn finish<R>(self, finish: impl FnOnce(T) -> R) -> R {
            let Tracked {
                value,
                mut registration,
            } = self;
            let mut paths = lock();
            let result = finish(value);
            unregister(&mut paths, &registration.path);
            registration.armed = false;
            drop(paths);
            result
        }
    }

    fn unregister(paths: &mut Vec<PathBuf>, path: &Path) {
        if let Some(i) = paths.iter().rposition(|p| p == path) {
            paths.swap_remove(i);
        }
    }
}

/// A builder for temporary files and directories that become outputs: named
/// `.neardup-*`, created with the usual permissions (umask applies), not 0600/0700.
fn temp_builder(mode: u32) -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".neardup-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    builder
}

/// The directory a file at `path` is written in.
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `path` through a temporary file in the same directory, renamed into place only
/// once complete: a reader never sees a half-written file, and a failed or interrupted
/// run leaves the old one untouched. A symlink is followed (the file it names is
/// replaced, not the link), and a special file such as `/dev/null` or a FIFO is written
/// in place, since it cannot be replaced.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<&mut fs::File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let failed = || format!("{}: writing failed", path.display());
    let mut target = path.to_path_buf();
    if let Ok(meta) = fs::metadata(path) {
        if !meta.is_file() && !meta.is_dir() {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("{}: cannot open for writing", path.display()))?;
            let mut w = io::BufWriter::new(&mut f);
            write(&mut w).with_context(failed)?;
            w.flush().with_context(failed)?;
            return Ok(());
        }
        if path.is_symlink() {
            target = fs::canonicalize(path)
                .with_context(|| format!("{}: cannot resolve the symlink", path.display()))?;
        }
    }
    let dir = parent_dir(&target);
    let mut tmp = interrupt::Tracked::new(
        || temp_builder(0o666).tempfile_in(&dir),
        tempfile::NamedTempFile::path,
    )
    .with_context(|| format!("{}: cannot create a file there", dir.display()))?;
    {
        let mut w = io::BufWriter::new(tmp.value_mut().as_file_mut());
        write(&mut w).with_context(failed)?;
        w.flush().with_context(failed)?;
    }
    tmp.finish(|t| t.persist(&target).map(drop).map_err(|e| e.error))
        .with_context(|| {
            format!(
                "{}: cannot move the finished file into place",
                path.display()
            )
        })?;
    Ok(())
}

/// Every input path exists; `article` takes one regular file.
fn check_roots(roots: &[PathBuf], article: bool) -> anyhow::Result<()> {
    for root in roots {
        let meta = match fs::metadata(root) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound && root.is_symlink() => {
                bail!("{}: broken symlink", root.display())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                bail!("{}: no such file or directory", root.display())
            }
            Err(e) => bail!("{}: {e}", root.display()),
        };
        if article && meta.is_dir() {
            bail!(
                "{}: is a directory; article reads one file (use scan for a directory)",
                root.display()
            );
        }
    }
    Ok(())
}

fn check_output(out: &Path, roots: &[PathBuf]) -> anyhow::Result<()> {
    for root in roots {
        if same_file(out, root) {
            bail!("{}: the report would overwrite an input", out.display());
        }
    }
    check_writable_file(out, "the report")
}

/// Refuses a report that would replace one of the listed input files (`scan corpus -o
/// corpus/a.txt`, or a symlink to an input). Only files of the same size are compared.
fn check_output_not_listed(out: &Path, files: &[InputFile]) -> anyhow::Result<()> {
    let Ok(meta) = fs::metadata(out) else {
        return Ok(());
    };
    if !meta.is_file() {
        return Ok(());
    }
    let same = |f: &InputFile| match fs::metadata(f.path()) {
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino()) == (meta.dev(), meta.ino())
        }
        #[cfg(not(unix))]
        Ok(_) => same_file(&f.path, out),
        Err(_) => false,
    };
    if let Some(f) = files
        .iter()
        .filter(|f| f.len.map_or(true, |len| len == meta.len()))
        .find(|f| same(f))
    {
        bail!(
            "{}: the report would overwrite an input ({})",
            out.display(),
            f.path().display()
        );
    }
    Ok(())
}

/// That a file can be written at `path`, checked before any work: it is not a
/// directory, and its directory exists and is writable. A special file (`/dev/null`, a
/// FIFO) only needs to exist: it is written in place.
fn check_writable_file(path: &Path, what: &str) -> anyhow::Result<()> {
    let shown = path.display();
    if path.as_os_str().to_string_lossy().ends_with('/') {
        bail!("{shown}: {what} must be a file, not a directory");
    }
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => bail!("{shown}: is a directory; {what} must be a file"),
        Ok(m) if !m.is_file() => return Ok(()),
        _ => {}
    }
    let target = if path.is_symlink() {
        fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    let dir = parent_dir(&target);
    check_writable_dir(&dir).with_context(|| format!("{shown}: cannot write {what} there"))
}

/// That `dir` is an existing, writable directory.
fn check_writable_dir(dir: &Path) -> anyhow::Result<()> {
    let meta = fs::metadata(dir).with_context(|| dir.display().to_string())?;
    if !meta.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    writable(dir).with_context(|| dir.display().to_string())
}

/// Whether files can be created in `dir`: by creating one and removing it. Permission
/// bits alone do not tell (root ignores them, but not a read-only file system, an
/// immutable directory or `/proc`).
fn writable(dir: &Path) -> io::Result<()> {
    let probe = interrupt::Tracked::new(
        || temp_builder(0o600).tempfile_in(dir),
        tempfile::NamedTempFile::path,
    )
    .map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot create a file there: {}", strip_path(&e)),
        )
    })?;
    drop(probe);
    Ok(())
}

/// An I/O error's message without the "at path ..." that tempfile appends.
fn strip_path(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" at path ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Refuses a clean target that is an input, lies inside an input tree, holds an input,
/// exists already (without `--force`), or cannot be written.
fn check_clean_target(
    target: &Path,
    roots: &[PathBuf],
    article: bool,
    force: bool,
) -> anyhow::Result<()> {
    let shown = target.display();
    let resolved = resolve_nonexistent(target);
    for root in roots {
        let Ok(root) = fs::canonicalize(root) else {
            continue;
        };
        if resolved == root || (root.is_dir() && resolved.starts_with(&root)) {
            bail!(
                "{shown}: the cleaned output must not be inside an input ({})",
                root.display()
            );
        }
        if root.starts_with(&resolved) {
            bail!(
                "{shown}: the cleaned output must not contain an input ({})",
                root.display()
            );
        }
    }
    if article {
        if target.exists() && !force {
            bail!("{shown}: already exists (use --force to overwrite)");
        }
        return check_writable_file(target, "the cleaned article");
    }
    match fs::metadata(target) {
        Ok(meta) if !meta.is_dir() => {
            bail!("{shown}: exists and is not a directory; --clean for scan takes a directory")
        }
        Ok(_) => {
            let empty = fs::read_dir(target)
                .with_context(|| shown.to_string())?
                .next()
                .is_none();
            if !empty && !force {
                bail!("{shown}: already exists (use --force to overwrite)");
            }
            check_writable_dir(target).with_context(|| format!("{shown}: cannot write there"))
        }
        Err(_) => {
            // Created at the end, with its missing parents, under the deepest ancestor
            // that exists.
            let ancestor = resolve_nonexistent(target)
                .ancestors()
                .find(|a| a.exists())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            check_writable_dir(&ancestor).with_context(|| format!("{shown}: cannot write there"))
        }
    }
}

/// Refuses a report that the cleaned output would overwrite or contain.
fn check_report_apart(out: &Path, clean_target: &Path, article: bool) -> anyhow::Result<()> {
    let (out_r, clean_r) = (resolve_nonexistent(out), resolve_nonexistent(clean_target));
    if out_r == clean_r {
        bail!(
            "{}: the report and the cleaned output cannot be the same file",
            out.display()
        );
    }
    if !article && out_r.starts_with(&clean_r) {
        bail!(
            "{}: the report cannot be written inside the cleaned corpus ({})",
            out.display(),
            clean_target.display()
        );
    }
    Ok(())
}

/// Refuses, before reading, a cleaned corpus that could not be complete or would be
/// written through a symlink: two inputs with the same relative path, or a directory
/// on the way that is a symlink in an existing OUTDIR.
fn check_clean_layout(outdir: &Path, files: &[InputFile]) -> anyhow::Result<()> {
    let mut seen: HashMap<&Path, &Path> = HashMap::with_capacity(files.len());
    for f in files {
        if let Some(other) = seen.insert(f.rel_path(), f.path()) {
            bail!(
                "{} and {} would both be written to {} in the cleaned corpus; give the inputs as paths that do not collide",
                other.display(),
                f.path().display(),
                outdir.join(f.rel_path()).display()
            );
        }
    }
    if outdir.is_dir() {
        let mut checked = HashSet::new();
        for f in files {
            check_no_symlink(outdir, f.rel_path(), &mut checked)?;
        }
    }
    Ok(())
}

/// Checks that every directory between `base` and `base/rel` is a real directory or
/// missing, and that `base/rel` is not a directory. Directories already `checked` are
/// skipped.
fn check_no_symlink(base: &Path, rel: &Path, checked: &mut HashSet<PathBuf>) -> anyhow::Result<()> {
    let mut cur = base.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        cur.push(part);
        let last = i + 1 == parts.len();
        if !last && checked.contains(&cur) {
            continue;
        }
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() && !last => bail!(
                "{}: is a symlink; the cleaned corpus is never written through one (remove it, or choose another --clean directory)",
                cur.display()
            ),
            Ok(m) if m.is_dir() && last => {
                bail!("{}: is a directory where the cleaned file goes", cur.display())
            }
            Ok(m) if !m.is_dir() && !m.file_type().is_symlink() && !last => {
                bail!("{}: is not a directory", cur.display())
            }
            Ok(_) => {}
            // Missing: created when the corpus is moved into place, and nothing below
            // it exists either.
            Err(_) => return Ok(()),
        }
        if !last {
            checked.insert(cur.clone());
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

/// What writing a cleaned copy needs besides the findings.
struct CleanInputs<'a> {
    /// Where the documents are read from.
    texts: &'a (dyn DocSource + Sync),
    /// The run's options, to analyze again the documents of a spilled run.
    config: &'a Config,
    files: &'a [InputFile],
    read_opts: &'a ReadOptions,
    quiet: bool,
    progress: &'a Progress,
    /// Bytes of a text file's document cleaned at a time when it is larger (a spilled
    /// run's batch), see [`Cleaner::write_text`].
    window_bytes: u64,
}

/// The documents to clean, with what to remove from each: a text file's document at
/// once or a window at a time ([`Cleaner::write_text`]), a JSON Lines file's records a
/// chunk at a time as its copy is written ([`Cleaner::records`]).
struct Cleaner<'a, 'f, 'c> {
    findings: &'f Findings,
    texts: &'a (dyn DocSource + Sync),
    config: &'a Config,
    units: Box<dyn clean::RemovalSource + 'c>,
    window_bytes: u64,
}

impl<'a, 'f, 'c> Cleaner<'a, 'f, 'c> {
    fn new(
        findings: &'f Findings,
        clusters: &'c dyn Clusters,
        inputs: &CleanInputs<'a>,
    ) -> anyhow::Result<Cleaner<'a, 'f, 'c>> {
        Ok(Cleaner {
            findings,
            texts: inputs.texts,
            config: inputs.config,
            units: clusters.removals(inputs.texts.documents())?,
            window_bytes: inputs.window_bytes,
        })
    }

    fn len(&self) -> usize {
        self.texts.documents()
    }

    /// Position in the file list of document `d`'s file.
    fn file_of(&self, d: usize) -> usize {
        self.texts
            .file_of(d as u32)
            .map_or(usize::MAX, |f| f as usize)
    }

    /// Writes the cleaned copy of document `d`, a text file's, to `out`. One larger than
    /// the window (a spilled run's batch) whose length is known without reading it is
    /// read and cleaned a window at a time, and copied a megabyte at a time, so that a
    /// text file of any size is cleaned in bounded memory.
    fn write_text(&mut self, d: usize, out: &mut dyn Write) -> anyhow::Result<()> {
        let doc = d as u32;
        let window = self.window_bytes;
        let removed = self.units.take(doc)?;
        let Some(len) = self.texts.document_len(doc).filter(|&n| n > window) else {
            let text = self.texts.document(doc)?;
            let ranges = ranges_of(self.findings, self.config, d, &text, removed);
            out.write_all(&clean::apply(text.bytes(), &ranges))?;
            return Ok(());
        };
        let ranges = clean::removals_in_windows(
            self.texts,
            doc,
            len,
            self.config.paragraph_mode(),
            removed,
            usize::try_from(window).unwrap_or(usize::MAX),
        )?;
        // The bytes `clean::apply` keeps, a megabyte at a time.
        let offset = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        for kept in clean::kept(&ranges, usize::try_from(len).unwrap_or(usize::MAX)) {
            for at in kept.clone().step_by(1 << 20) {
                let end = kept.end.min(at + (1 << 20));
                out.write_all(&self.texts.slice(doc, offset(at), offset(end))?)?;
            }
        }
        Ok(())
    }

    /// The cleaned texts of documents `range`, the records of one JSON Lines file, in
    /// order: `None` for a record nothing is removed from. They are made as they are
    /// asked for, a chunk of records at a time in parallel, each chunk about
    /// [`CLEAN_CHUNK_BYTES`] of records that change (the others are not read), so a file
    /// of any size is cleaned in bounded memory.
    fn records<'x>(&'x mut self, range: std::ops::Range<usize>) -> CleanedRecords<'x, 'a, 'f, 'c> {
        CleanedRecords {
            cleaner: self,
            next: range.start,
            end: range.end,
            chunk: 64,
            ready: Vec::new().into_iter(),
        }
    }

    /// The cleaned texts of documents `range` (see [`Self::records`]), and the bytes
    /// of the documents read for them.
    fn cleaned_chunk(
        &mut self,
        range: std::ops::Range<usize>,
    ) -> anyhow::Result<(Vec<Option<String>>, u64)> {
        use rayon::prelude::*;
        let units: Vec<clean::Removed> = range
            .clone()
            .map(|d| self.units.take(d as u32))
            .collect::<neardup::Result<_>>()?;
        let (texts, config, findings) = (self.texts, self.config, self.findings);
        let cleaned: Vec<(Option<String>, u64)> = range
            .into_par_iter()
            .zip(units)
            .map(|(d, removed)| {
                if removed == clean::Removed::default() {
                    return Ok((None, 0));
                }
                let doc = texts.document(d as u32)?;
                let ranges = ranges_of(findings, config, d, &doc, removed);
                let text = (!ranges.is_empty()).then(|| {
                    String::from_utf8_lossy(&clean::apply(doc.bytes(), &ranges)).into_owned()
                });
                Ok((text, doc.bytes().len() as u64))
            })
            .collect::<anyhow::Result<_>>()?;
        let bytes = cleaned.iter().map(|(_, n)| n).sum();
        Ok((cleaned.into_iter().map(|(t, _)| t).collect(), bytes))
    }
}

/// The byte ranges `removed` takes out of document `d`, `doc`: its analysis is the
/// run's, or is made again (a spilled run keeps none).
fn ranges_of(
    findings: &Findings,
    config: &Config,
    d: usize,
    doc: &Document,
    removed: clean::Removed,
) -> Vec<std::ops::Range<usize>> {
    if removed == clean::Removed::default() {
        return Vec::new();
    }
    match findings.analyses.get(d) {
        Some(an) => clean::doc_removals(doc, an, removed),
        None => clean::doc_removals(doc, &neardup::pipeline::analyze(doc, config), removed),
    }
}

/// Bytes of changed records [`Cleaner::records`] reads and cleans at a time.
const CLEAN_CHUNK_BYTES: u64 = 16 << 20;

/// Most records [`Cleaner::records`] takes in one chunk.
const CLEAN_CHUNK_RECORDS: usize = 1 << 16;

/// The cleaned texts of a JSON Lines file's records, in order ([`Cleaner::records`]).
struct CleanedRecords<'x, 'a, 'f, 'c> {
    cleaner: &'x mut Cleaner<'a, 'f, 'c>,
    /// The first record not yet in a chunk, and the end.
    next: usize,
    end: usize,
    /// Records in the next chunk: set from the bytes the last chunk read.
    chunk: usize,
    /// The texts of the chunk being handed out.
    ready: std::vec::IntoIter<Option<String>>,
}

impl Iterator for CleanedRecords<'_, '_, '_, '_> {
    type Item = io::Result<Option<String>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(text) = self.ready.next() {
            return Some(Ok(text));
        }
        if self.next >= self.end {
            return None;
        }
        let range = self.next..self.end.min(self.next.saturating_add(self.chunk));
        self.next = range.end;
        let taken = range.len() as u64;
        match self.cleaner.cleaned_chunk(range) {
            Ok((texts, bytes)) => {
                // As many records as read about the budget at the last chunk's rate.
                let rate = CLEAN_CHUNK_BYTES.saturating_mul(taken) / bytes.max(1);
                self.chunk = usize::try_from(rate)
                    .unwrap_or(usize::MAX)
                    .clamp(16, CLEAN_CHUNK_RECORDS);
                self.ready = texts.into_iter();
                self.ready.next().map(Ok)
            }
            Err(err) => {
                self.next = self.end;
                Some(Err(io::Error::other(format!("{err:#}"))))
            }
        }
    }
}

impl CleanInputs<'_> {
    /// Writes the cleaned copy of the JSON Lines file `file` to `out`, its records'
    /// cleaned texts taken from `cleaned` as it goes: records keep every field but the
    /// text.
    fn write_jsonl<W: Write>(
        &self,
        file: &InputFile,
        compression: jsonl::Compression,
        cleaned: impl Iterator<Item = io::Result<Option<String>>>,
        out: W,
    ) -> anyhow::Result<W> {
        let (out, caveat) = jsonl::write_cleaned(file, compression, self.read_opts, cleaned, out)
            .with_context(|| {
            format!("{}: cannot write its cleaned copy", file.path().display())
        })?;
        if let Some(message) = caveat.filter(|_| !self.quiet) {
            let warning = Warning {
                path: file.path().to_path_buf(),
                message,
                skipped: false,
            };
            self.progress.suspend(|| eprintln!("neardup: {warning}"));
        }
        Ok(out)
    }
}

fn write_clean_article(
    target: &Path,
    findings: &Findings,
    clusters: &dyn Clusters,
    inputs: &CleanInputs,
) -> anyhow::Result<()> {
    let mut cleaner = Cleaner::new(findings, clusters, inputs)?;
    let Some(file) = inputs.files.first() else {
        return Ok(());
    };
    let mut write = |w: &mut dyn Write| -> anyhow::Result<()> {
        let len = cleaner.len();
        if let Some(compression) = jsonl::format_of(file.path()) {
            inputs.write_jsonl(file, compression, cleaner.records(0..len), w)?;
        } else if len > 0 {
            cleaner.write_text(0, w)?;
        }
        Ok(())
    };
    if target == Path::new("-") {
        let mut out = io::BufWriter::new(io::stdout().lock());
        write(&mut out)?;
        out.flush()?;
        return Ok(());
    }
    write_atomically(target, |w| write(w))
}

/// Writes the cleaned corpus under `outdir`: every listed file, cleaned if it was read,
/// copied unchanged if it was not (binary, unreadable). It is written into a staging
/// directory first and moved into place only once complete, so a failed or interrupted
/// run leaves no partial corpus. A new OUTDIR is the staging directory renamed; into an
/// existing one (empty, or with `--force`) the files are moved one by one, replacing
/// files of the same name, and a symlink on the way is refused, never followed.
fn write_clean_corpus(
    outdir: &Path,
    findings: &Findings,
    clusters: &dyn Clusters,
    inputs: &CleanInputs,
) -> anyhow::Result<()> {
    let files = inputs.files;
    let mut cleaner = Cleaner::new(findings, clusters, inputs)?;
    let existing = outdir.is_dir();
    let base = if existing {
        fs::canonicalize(outdir).with_context(|| outdir.display().to_string())?
    } else {
        outdir.to_path_buf()
    };
    let staging_parent = if existing {
        base.clone()
    } else {
        let parent = parent_dir(outdir);
        fs::create_dir_all(&parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
        parent
    };
    let staging = interrupt::Tracked::new(
        || temp_builder(0o777).tempdir_in(&staging_parent),
        tempfile::TempDir::path,
    )
    .with_context(|| {
        format!(
            "{}: cannot create a directory there",
            staging_parent.display()
        )
    })?;
    let stage = |rel: &Path| -> anyhow::Result<PathBuf> {
        if interrupt::stopping() {
            bail!("interrupted");
        }
        let path = staging.path().join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        Ok(path)
    };
    let mut read = vec![false; files.len()];
    // The documents of one file are consecutive: one for a text file, one per record
    // for a JSON Lines file.
    let mut first = 0;
    while first < cleaner.len() {
        let f = cleaner.file_of(first);
        let mut end = first + 1;
        while end < cleaner.len() && cleaner.file_of(end) == f {
            end += 1;
        }
        let Some(file) = files.get(f) else {
            bail!("document {first} has no input file");
        };
        let docs = first..end;
        first = end;
        read[f] = true;
        let path = stage(file.rel_path())?;
        let written = match jsonl::format_of(file.path()) {
            Some(compression) => fs::File::create(&path)
                .map_err(anyhow::Error::from)
                .and_then(|out| {
                    let out = io::BufWriter::new(out);
                    let mut out =
                        inputs.write_jsonl(file, compression, cleaner.records(docs), out)?;
                    Ok(out.flush()?)
                }),
            None => fs::File::create(&path)
                .map_err(anyhow::Error::from)
                .and_then(|out| {
                    let mut out = io::BufWriter::new(out);
                    cleaner.write_text(docs.start, &mut out)?;
                    Ok(out.flush()?)
                }),
        };
        written.with_context(|| format!("{}: writing failed", path.display()))?;
    }
    // Files listed but not analyzed (binary, unreadable) are copied unchanged, so the
    // cleaned corpus is complete; one that cannot be read now is reported.
    for (file, was_read) in files.iter().zip(read) {
        if was_read {
            continue;
        }
        let path = stage(file.rel_path())?;
        let copied = open_regular(file.path()).and_then(|(mut src, _)| {
            let mut dst = fs::File::create(&path)?;
            io::copy(&mut src, &mut dst)
        });
        if let Err(err) = copied {
            let _ = fs::remove_file(&path);
            eprintln!(
                "neardup: {}: not copied to the cleaned corpus: {err}",
                file.path().display()
            );
        }
    }
    staging.finish(|dir| {
        if existing {
            // `dir` is dropped afterwards, which removes what is left of it.
            move_into(dir.path(), &base)
        } else {
            fs::rename(dir.path(), outdir).with_context(|| {
                format!(
                    "{}: cannot move the cleaned corpus into place",
                    outdir.display()
                )
            })?;
            let _ = dir.keep();
            Ok(())
        }
    })
}

/// Moves every file under `staged` to the same relative path under `base`, creating
/// directories as needed. A symlink where a directory is needed is refused; a file or
/// symlink where a file goes is replaced (rename never writes through a link).
fn move_into(staged: &Path, base: &Path) -> anyhow::Result<()> {
    let mut stack = vec![PathBuf::new()];
    let mut checked = HashSet::new();
    while let Some(rel) = stack.pop() {
        let dir = staged.join(&rel);
        let entries = fs::read_dir(&dir).with_context(|| dir.display().to_string())?;
        for entry in entries {
            let entry = entry.with_context(|| dir.display().to_string())?;
            let rel = rel.join(entry.file_name());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(rel);
                continue;
            }
            check_no_symlink(base, &rel, &mut checked)?;
            let dest = base.join(&rel);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("{}: cannot create", parent.display()))?;
            }
            fs::rename(entry.path(), &dest)
                .with_context(|| format!("{}: cannot move into place", dest.display()))?;
        }
    }
    Ok(())
}
