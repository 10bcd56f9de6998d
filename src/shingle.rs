//! Word k-gram hashes ("shingles") mixed from token hashes.
//!
//! Every token is hashed once by the normalizer (a 32-bit [`TokenHash`]); a k-gram
//! hash mixes k of those into 64 bits, so no text is ever hashed twice. Cost: k
//! multiply-rotate steps per shingle.

use crate::normalize::TokenHash;

/// Hash of the k-gram `window` (order-sensitive).
#[inline]
pub fn mix(window: &[TokenHash]) -> u64 {
    mix_words(window.iter())
}

/// The steps of [`mix`], over a slice or an array of known length (whose loop the
/// compiler unrolls).
#[inline(always)]
fn mix_words<'w>(window: impl ExactSizeIterator<Item = &'w TokenHash>) -> u64 {
    let mut h = mix_start(window.len());
    for &t in window {
        h = mix_step(h, t);
    }
    finalize(h)
}

/// The state [`mix`] starts from for a window of `len` hashes.
#[inline(always)]
fn mix_start(len: usize) -> u64 {
    0x243F_6A88_85A3_08D3 ^ len as u64
}

/// One step of [`mix`]: the next hash of the window mixed in.
#[inline(always)]
fn mix_step(h: u64, t: TokenHash) -> u64 {
    (h ^ u64::from(t))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(29)
}

/// The splitmix64 finalizer: full avalanche, so every output bit depends on every input bit.
#[inline]
pub fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// [`mix`] of a window of `K` hashes, with the loop's length known, so that it is
/// unrolled and the windows of a paragraph overlap in the pipeline.
#[inline(always)]
fn mix_fixed<const K: usize>(window: &[TokenHash]) -> u64 {
    match <&[TokenHash; K]>::try_from(window) {
        Ok(array) => mix_words(array.iter()),
        Err(_) => mix(window),
    }
}

/// Appends the hash of every k-gram of `tokens`, in order, to `out`.
/// Fewer than `k` tokens give no k-grams.
pub fn kgrams(tokens: &[TokenHash], k: usize, out: &mut Vec<u64>) {
    if k == 0 || tokens.len() < k {
        return;
    }
    // The default shingle and seed lengths get a loop of their own.
    match k {
        4 => kgrams_fixed::<4>(tokens, out),
        5 => kgrams_fixed::<5>(tokens, out),
        _ => out.extend(tokens.windows(k).map(mix)),
    }
}

/// [`kgrams`] of `K` (at most the number of tokens), [`LANES`] windows at a time on
/// CPUs with AVX-512, whose 64-bit vector multiply makes them one register: the steps
/// of neighbouring windows are independent, so eight are mixed by each instruction.
fn kgrams_fixed<const K: usize>(tokens: &[TokenHash], out: &mut Vec<u64>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { kgrams_avx512::<K>(tokens, out) };
            return;
        }
    }
    out.extend(tokens.windows(K).map(mix_fixed::<K>));
}

/// Windows whose k-grams [`kgrams_in_lanes`] mixes at once: eight 64-bit states, one
/// AVX-512 register.
const LANES: usize = 8;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn kgrams_avx512<const K: usize>(tokens: &[TokenHash], out: &mut Vec<u64>) {
    kgrams_in_lanes::<K>(tokens, out)
}

/// The k-grams of `K` of `tokens`, appended to `out`: [`LANES`] windows at a time, each
/// step of [`mix`] taken for all of them over the slice of hashes they read (the
/// window at `base + l` reads hash `base + l + j` at step `j`), then the rest one at a
/// time. The same values as [`mix`]: a test checks every length.
#[inline(always)]
fn kgrams_in_lanes<const K: usize>(tokens: &[TokenHash], out: &mut Vec<u64>) {
    let Some(windows) = (tokens.len() + 1).checked_sub(K) else {
        return;
    };
    out.reserve(windows);
    let blocks = windows / LANES;
    for block in 0..blocks {
        let base = block * LANES;
        let mut h = [mix_start(K); LANES];
        for j in 0..K {
            // Windows start at most `windows - 1`, so `base + j + LANES` is within
            // `windows - 1 + K` = the number of tokens.
            let Some(hashes) = tokens.get(base + j..base + j + LANES) else {
                return;
            };
            for (h, &t) in h.iter_mut().zip(hashes) {
                *h = mix_step(*h, t);
            }
        }
        out.extend_from_slice(&h.map(finalize));
    }
    let rest = tokens.get(blocks * LANES..).unwrap_or_default();
    out.extend(rest.windows(K).map(mix_fixed::<K>));
}

/// The shingles of a paragraph, in order, possibly repeated: its k-gram hashes. A
/// paragraph shorter than `k` words but not empty is one shingle, the hash of all its
/// words, so short paragraphs still compare by exact content. MinHash needs no more than
/// this (repeats do not change a minimum); Jaccard needs [`shingle_set`].
pub fn shingles(tokens: &[TokenHash], k: usize, out: &mut Vec<u64>) {
    out.clear();
    if tokens.is_empty() {
        return;
    }
    if tokens.len() < k {
        out.push(mix(tokens));
    } else {
        kgrams(tokens, k, out);
    }
}

/// The shingle set of a paragraph: [`shingles`] sorted and deduplicated.
pub fn shingle_set(tokens: &[TokenHash], k: usize, out: &mut Vec<u64>) {
    shingles(tokens, k, out);
    out.sort_unstable();
    out.dedup();
}

/// Exact Jaccard similarity of two sorted, deduplicated sets.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / (a.len() + b.len() - common) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kgrams_are_order_sensitive_and_positional() {
        assert_ne!(mix(&[1, 2, 3]), mix(&[3, 2, 1]));
        assert_ne!(mix(&[1, 2]), mix(&[1, 2, 0]));
        let mut out = Vec::new();
        kgrams(&[1, 2, 3, 1, 2, 3], 3, &mut out);
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], out[3]);
        assert_ne!(out[0], out[1]);
    }

    #[test]
    fn fixed_length_kgrams_are_the_mixed_windows() {
        let tokens: Vec<TokenHash> = (0..40u64).map(|i| finalize(i) as TokenHash).collect();
        for k in 1..=7 {
            for n in 0..tokens.len() {
                let mut got = Vec::new();
                kgrams(&tokens[..n], k, &mut got);
                let want: Vec<u64> = tokens[..n].windows(k).map(mix).collect();
                assert_eq!(got, want, "k {k}, {n} tokens");
            }
        }
    }

    #[test]
    fn kgrams_in_lanes_are_the_mixed_windows() {
        let tokens: Vec<TokenHash> = (0..70u64).map(|i| finalize(i) as TokenHash).collect();
        for n in 0..tokens.len() {
            let mut four = vec![7];
            kgrams_in_lanes::<4>(&tokens[..n], &mut four);
            let mut five = Vec::new();
            kgrams_in_lanes::<5>(&tokens[..n], &mut five);
            let want = |k| tokens[..n].windows(k).map(mix).collect::<Vec<u64>>();
            assert_eq!(four[0], 7, "appended after what was there");
            assert_eq!(four[1..], want(4)[..], "{n} tokens");
            assert_eq!(five, want(5), "{n} tokens");
        }
    }

    #[test]
    fn short_paragraphs_are_one_shingle() {
        let mut out = Vec::new();
        shingle_set(&[7, 8], 5, &mut out);
        assert_eq!(out, vec![mix(&[7, 8])]);
        shingle_set(&[], 5, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn jaccard_table() {
        let cases: &[(&[u64], &[u64], f64)] = &[
            (&[1, 2, 3], &[1, 2, 3], 1.0),
            (&[1, 2, 3], &[4, 5], 0.0),
            (&[1, 2, 3, 4], &[3, 4, 5, 6], 2.0 / 6.0),
            (&[], &[], 1.0),
            (&[1], &[], 0.0),
        ];
        for &(a, b, want) in cases {
            assert!((jaccard(a, b) - want).abs() < 1e-12, "{a:?} {b:?}");
        }
    }
}
