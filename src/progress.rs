//! The progress bar on stderr, for long runs.
//!
//! It is shown only when stderr is a terminal (never in a pipe, a log file or a test),
//! and not with `--quiet` or `--no-progress`; otherwise every method does nothing. It is
//! redrawn at most ten times a second, so an update costs about an atomic add.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressState, ProgressStyle};

/// Redraws per second, at most.
const DRAW_HZ: u8 = 10;

/// A bar over the bytes of the listed files while they are read, then the name of the
/// stage that runs. It is cleared when dropped.
pub struct Progress {
    bar: ProgressBar,
    files_done: Arc<AtomicUsize>,
}

impl Progress {
    /// A bar over `total_bytes` of `n_files` files, shown if `wanted` and stderr is a
    /// terminal.
    pub fn new(wanted: bool, n_files: usize, total_bytes: u64) -> Progress {
        let files_done = Arc::new(AtomicUsize::new(0));
        if !wanted || !std::io::stderr().is_terminal() {
            return Progress {
                bar: ProgressBar::hidden(),
                files_done,
            };
        }
        // The bar takes the width left over, so the line never wraps.
        let template = format!(
            "{{msg}}: {{files}}/{n_files} files, {{decimal_bytes}}/{{decimal_total_bytes}}, \
             {{decimal_bytes_per_sec}}, ETA {{eta}} [{{wide_bar}}]"
        );
        let counter = Arc::clone(&files_done);
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "files",
                move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", counter.load(Ordering::Relaxed));
                },
            )
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(
            Some(total_bytes),
            ProgressDrawTarget::stderr_with_hz(DRAW_HZ),
        )
        .with_style(style)
        .with_message("reading")
        .with_finish(ProgressFinish::AndClear);
        Progress { bar, files_done }
    }

    /// `n` more bytes of the listed files were read.
    pub fn read_bytes(&self, n: u64) {
        self.bar.inc(n);
    }

    /// One more file is done; `unread` of its listed bytes were not read (it was
    /// skipped, or shrank).
    pub fn file_done(&self, unread: u64) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
        self.bar.inc(unread);
    }

    /// A stage starts: the bar becomes its name, a spinner and the elapsed time. A stage
    /// that reads the files (its name starts with `read`) keeps the bar over their bytes,
    /// with its name in front.
    pub fn stage(&self, name: &str) {
        if self.bar.is_hidden() {
            return;
        }
        if name.starts_with("read") {
            self.bar.set_message(name.to_string());
            return;
        }
        let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        self.bar.set_style(style);
        self.bar.set_message(name.to_string());
        self.bar
            .enable_steady_tick(Duration::from_millis(1000 / u64::from(DRAW_HZ)));
    }

    /// Runs `f` with the bar cleared, for printing to stderr, and draws it again.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Clears the bar for good.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
