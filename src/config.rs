//! Run configuration: one validated [`Config`], built with [`ConfigBuilder`].
//!
//! Every default is set in one place, [`Config::default`], with the trade-off it makes.

use crate::error::{Error, Result};
use crate::segment::ParagraphMode;

/// Validated settings for one run. Build it with [`Config::builder`].
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub(crate) threshold: f64,
    pub(crate) min_words: usize,
    pub(crate) passage_similarity: f64,
    pub(crate) paragraph_mode: ParagraphMode,
    pub(crate) passages: bool,
    pub(crate) hidden: bool,
    pub(crate) shingle_size: usize,
    pub(crate) num_perm: usize,
    pub(crate) seed_k: usize,
    pub(crate) seed_window: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            // Paragraph Jaccard over word 5-grams. 0.8 is the usual choice of peer tools
            // (datatrove, text-dedup): below it, templated but different reports start to merge.
            threshold: 0.8,
            // Shortest unit reported, paragraph or passage. Eight words keeps out shared
            // stock phrases ("in the united states of america") while a quoted sentence
            // still counts.
            min_words: 8,
            // Passage similarity 2M/(la+lb) over aligned normalized words. 0.8 tolerates
            // about one changed word in ten.
            passage_similarity: 0.8,
            paragraph_mode: ParagraphMode::Line,
            passages: true,
            hidden: false,
            // Word 5-grams: short enough for paragraphs of a few sentences, long enough
            // that unrelated paragraphs share almost none.
            shingle_size: 5,
            // 128 MinHash slots: standard error of the Jaccard estimate about 0.035, which
            // the verification step then removes entirely (every pair is checked exactly).
            num_perm: 128,
            // Passage seeds: winnowed word 4-grams with a window of 3. Any exact shared run
            // of k + w - 1 = 6 words yields a common seed, at about 0.5 seeds per word.
            seed_k: 4,
            seed_window: 3,
        }
    }
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
        }
    }

    /// Paragraph Jaccard threshold.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Shortest passage (and paragraph) reported, in words.
    pub fn min_words(&self) -> usize {
        self.min_words
    }

    /// Minimum similarity of a passage to its cluster's kept occurrence.
    pub fn passage_similarity(&self) -> f64 {
        self.passage_similarity
    }

    /// How files are split into paragraphs.
    pub fn paragraph_mode(&self) -> ParagraphMode {
        self.paragraph_mode
    }

    /// Whether repeated passages are searched for.
    pub fn passages(&self) -> bool {
        self.passages
    }

    /// Whether hidden files and directories are scanned.
    pub fn hidden(&self) -> bool {
        self.hidden
    }

    /// Word n-gram size of paragraph shingles.
    pub fn shingle_size(&self) -> usize {
        self.shingle_size
    }

    /// Number of MinHash slots per paragraph.
    pub fn num_perm(&self) -> usize {
        self.num_perm
    }
}

/// Builds a [`Config`]; [`ConfigBuilder::build`] validates every option.
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// Paragraph Jaccard threshold, in (0, 1].
    pub fn threshold(mut self, value: f64) -> Self {
        self.config.threshold = value;
        self
    }

    /// Shortest passage and paragraph reported, in words (at least 1).
    pub fn min_words(mut self, value: usize) -> Self {
        self.config.min_words = value;
        self
    }

    /// Minimum passage similarity, in (0, 1].
    pub fn passage_similarity(mut self, value: f64) -> Self {
        self.config.passage_similarity = value;
        self
    }

    /// Paragraph splitting mode.
    pub fn paragraph_mode(mut self, value: ParagraphMode) -> Self {
        self.config.paragraph_mode = value;
        self
    }

    /// Search for repeated passages (default true).
    pub fn passages(mut self, value: bool) -> Self {
        self.config.passages = value;
        self
    }

    /// Include hidden files and directories when scanning (default false).
    pub fn hidden(mut self, value: bool) -> Self {
        self.config.hidden = value;
        self
    }

    /// Word n-gram size of paragraph shingles (1 to 16).
    pub fn shingle_size(mut self, value: usize) -> Self {
        self.config.shingle_size = value;
        self
    }

    /// Number of MinHash slots (8 to 1024).
    pub fn num_perm(mut self, value: usize) -> Self {
        self.config.num_perm = value;
        self
    }

    /// Checks every option and returns the configuration.
    pub fn build(self) -> Result<Config> {
        let c = self.config;
        let unit = |name: &str, v: f64| -> Result<()> {
            if v.is_finite() && v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(Error::InvalidConfig(format!(
                    "{name} must be greater than 0 and at most 1, got {v}"
                )))
            }
        };
        unit("--threshold", c.threshold)?;
        unit("--passage-similarity", c.passage_similarity)?;
        if c.min_words == 0 {
            return Err(Error::InvalidConfig(
                "--min-words must be at least 1".to_string(),
            ));
        }
        if !(1..=16).contains(&c.shingle_size) {
            return Err(Error::InvalidConfig(format!(
                "shingle size must be between 1 and 16, got {}",
                c.shingle_size
            )));
        }
        if !(8..=1024).contains(&c.num_perm) {
            return Err(Error::InvalidConfig(format!(
                "number of MinHash slots must be between 8 and 1024, got {}",
                c.num_perm
            )));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::builder().build().ok(), Some(Config::default()));
    }

    #[test]
    fn out_of_range_options_are_rejected() {
        let cases: Vec<(ConfigBuilder, &str)> = vec![
            (Config::builder().threshold(1.5), "--threshold"),
            (Config::builder().threshold(0.0), "--threshold"),
            (Config::builder().threshold(f64::NAN), "--threshold"),
            (
                Config::builder().passage_similarity(-0.1),
                "--passage-similarity",
            ),
            (Config::builder().min_words(0), "--min-words"),
            (Config::builder().num_perm(4), "MinHash"),
            (Config::builder().shingle_size(0), "shingle"),
        ];
        for (builder, needle) in cases {
            let err = builder
                .build()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(needle), "{needle}: got {err:?}");
        }
    }
}
