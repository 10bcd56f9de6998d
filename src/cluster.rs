//! From verified pairs to clusters: union-find, the keep policy, and re-verification of
//! every member against its cluster's kept occurrence.
//!
//! Single-link union-find can chain A ~ B ~ C although A and C differ. So after the
//! union, each cluster is checked as a star: every member is compared with the kept one
//! (the first in input order), and members below the threshold are split off into a
//! new cluster, checked the same way. A reported similarity is therefore always the
//! member's own similarity to the kept row, and always passes the threshold.

/// Disjoint sets over `0..n` with path halving and union by index: the smaller index
/// becomes the root, so a root is always its set's first member, whatever the order of
/// the unions.
#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    /// `n` singleton sets.
    pub fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    /// The root of `x`'s set: its smallest member.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Merges the sets of `a` and `b`.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi as usize] = lo;
        }
    }

    /// The sets with at least two members, each sorted, ordered by first member.
    ///
    /// Memory is proportional to the members of such sets, not to `n`: most elements
    /// are singletons.
    pub fn groups(&mut self) -> Vec<Vec<u32>> {
        let n = self.parent.len() as u32;
        // (root, member) for every member that is not its set's root; the root is the
        // smallest member, so each group is its root followed by its sorted members.
        let mut linked: Vec<(u32, u32)> = Vec::new();
        for x in 0..n {
            let r = self.find(x);
            if r != x {
                linked.push((r, x));
            }
        }
        linked.sort_unstable();
        linked
            .chunk_by(|a, b| a.0 == b.0)
            .map(|run| {
                let mut group = Vec::with_capacity(run.len() + 1);
                group.push(run[0].0);
                group.extend(run.iter().map(|&(_, x)| x));
                group
            })
            .collect()
    }
}

/// Most kept occurrences tried when splitting one linked set. Each round compares every
/// remaining member with one kept occurrence, so this bounds the work on a set chained
/// through many different texts (boilerplate variants) at O(rounds × members); members
/// left after the last round are not reported.
pub const MAX_SPLIT_ROUNDS: usize = 4096;

/// Star re-verification: splits `members` (sorted, the first is kept) into groups whose
/// every member has `similarity(kept, member) >= threshold`. Returns each group with the
/// members' similarities (1.0 for the kept one); groups of one are dropped.
pub fn split_by_kept<T: Copy>(
    members: &[T],
    threshold: f64,
    similarity: impl Fn(T, T) -> f64,
) -> Vec<Vec<(T, f64)>> {
    split_rounds(members, |kept, m| {
        let s = similarity(kept, m);
        (s >= threshold).then_some((m, s))
    })
}

/// [`split_by_kept`] for passages: `fit(kept, member)` returns the part of the member
/// that aligns with the kept occurrence and its similarity; the group holds that part.
pub fn split_fitted(
    members: &[Interval],
    threshold: f64,
    fit: impl Fn(Interval, Interval) -> (Interval, f64),
) -> Vec<Vec<(Interval, f64)>> {
    split_rounds(members, |kept, m| {
        let (part, sim) = fit(kept, m);
        (sim >= threshold && !part.is_empty()).then_some((part, sim))
    })
}

/// The rounds shared by both splits: the first remaining member is kept, `join(kept, m)`
/// says whether (and as what) each other one joins it, the rest go to the next round.
fn split_rounds<T: Copy>(
    members: &[T],
    join: impl Fn(T, T) -> Option<(T, f64)>,
) -> Vec<Vec<(T, f64)>> {
    let mut out = Vec::new();
    let mut rest: Vec<T> = members.to_vec();
    let mut rounds = 0;
    while rest.len() >= 2 && rounds < MAX_SPLIT_ROUNDS {
        rounds += 1;
        let kept = rest[0];
        let mut group = vec![(kept, 1.0)];
        let mut next = Vec::new();
        for &m in &rest[1..] {
            match join(kept, m) {
                Some(joined) => group.push(joined),
                None => next.push(m),
            }
        }
        if group.len() >= 2 {
            out.push(group);
        }
        rest = next;
    }
    out
}

/// A passage occurrence: token range `[start, end)` of dense paragraph `para`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    /// Dense paragraph index.
    pub para: u32,
    /// First token.
    pub start: u32,
    /// One past the last token.
    pub end: u32,
}

impl Interval {
    /// Number of tokens.
    pub fn len(&self) -> u32 {
        self.end - self.start
    }

    /// True if the interval holds no token.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Groups passage occurrences into clusters of the same passage.
///
/// Two intervals of one paragraph are the same occurrence ("node") when they overlap by
/// at least half of the longer one: different partners align the same passage with
/// slightly different ends. A node's span is the union of its intervals. Each aligned
/// pair joins its two nodes. Intervals that overlap less stay separate nodes, so a short
/// passage inside a long aligned region is not swallowed by it. Returns each set's node
/// spans, sorted; the caller re-verifies them against the kept one
/// ([`split_by_kept`]) and drops overlapping leftovers ([`drop_overlapping`]).
pub fn passage_groups(pairs: &[(Interval, Interval)]) -> Vec<Vec<Interval>> {
    let mut intervals: Vec<Interval> = pairs.iter().flat_map(|&(x, y)| [x, y]).collect();
    intervals.sort_unstable();
    intervals.dedup();
    let index = |iv: &Interval| intervals.binary_search(iv).unwrap_or(0) as u32;
    let mut same = UnionFind::new(intervals.len());
    // Intervals are sorted by (para, start), so the earlier ones that can overlap the
    // current one are those still open at its start.
    let mut open: Vec<usize> = Vec::new();
    for (i, iv) in intervals.iter().enumerate() {
        open.retain(|&j| intervals[j].para == iv.para && intervals[j].end > iv.start);
        for &j in &open {
            let other = intervals[j];
            let overlap = other.end.min(iv.end) - iv.start;
            if 2 * overlap >= other.len().max(iv.len()) {
                same.union(i as u32, j as u32);
            }
        }
        open.push(i);
    }
    // Node spans: the union of each node's intervals, held at the node's root.
    let mut span: Vec<Interval> = intervals.clone();
    for i in 0..intervals.len() as u32 {
        let root = same.find(i) as usize;
        let iv = intervals[i as usize];
        span[root].start = span[root].start.min(iv.start);
        span[root].end = span[root].end.max(iv.end);
    }
    let mut linked = UnionFind::new(intervals.len());
    for (x, y) in pairs {
        let (a, b) = (same.find(index(x)), same.find(index(y)));
        linked.union(a, b);
    }
    linked
        .groups()
        .into_iter()
        .map(|members| {
            let mut nodes: Vec<Interval> = members
                .into_iter()
                .filter(|&m| same.find(m) == m)
                .map(|m| span[m as usize])
                .collect();
            nodes.sort_unstable();
            nodes
        })
        .filter(|nodes| nodes.len() >= 2)
        .collect()
}

/// Keeps, in each paragraph, only members that do not overlap a better one: the kept
/// occurrence first, then by decreasing similarity. The group stays sorted, kept first;
/// a group left with one member is emptied.
pub fn drop_overlapping(group: Vec<(Interval, f64)>) -> Vec<(Interval, f64)> {
    let mut order: Vec<usize> = (1..group.len()).collect();
    order.sort_by(|&x, &y| group[y].1.total_cmp(&group[x].1).then(x.cmp(&y)));
    // Chosen intervals per paragraph, so each check looks at one paragraph only.
    let mut chosen_in: std::collections::HashMap<u32, Vec<Interval>> =
        std::collections::HashMap::new();
    chosen_in
        .entry(group[0].0.para)
        .or_default()
        .push(group[0].0);
    let mut chosen: Vec<(Interval, f64)> = vec![group[0]];
    for i in order {
        let (iv, _) = group[i];
        let here = chosen_in.entry(iv.para).or_default();
        if !here.iter().any(|c| c.start < iv.end && iv.start < c.end) {
            here.push(iv);
            chosen.push(group[i]);
        }
    }
    chosen[1..].sort_by_key(|x| x.0);
    if chosen.len() < 2 {
        chosen.clear();
    }
    chosen
}

/// Most alignments of one paragraph examined by [`complete_groups`] for one group: bounds
/// the work on a boilerplate paragraph aligned with thousands of others.
pub const MAX_PROJECTIONS: usize = 4096;

/// Completes passage groups through alignments that cover more than the passage.
///
/// Seed matches of boilerplate are stars to the first paragraph holding them, so a
/// passage P of that paragraph K is aligned with each other paragraph on whatever span
/// the two share, often much more than P. Such an alignment (K ⊇ P ↔ Y) proves that Y
/// holds P too, at the same offset along the alignment. For each group, every alignment
/// of the kept occurrence's paragraph whose span covers at least 90 % of the kept
/// occurrence is projected onto its other side (trying a shift of up to ±2 words, for
/// copies with insertions or deletions); the projection joins the group when its
/// `similarity` to the kept occurrence passes `threshold` and it does not overlap a
/// member already there. Groups stay sorted, the kept occurrence first.
pub fn complete_groups(
    groups: Vec<Vec<(Interval, f64)>>,
    pairs: &[(Interval, Interval)],
    threshold: f64,
    similarity: impl Fn(Interval, Interval) -> f64 + Sync,
) -> Vec<Vec<(Interval, f64)>> {
    use rayon::prelude::*;
    let mut edges: Vec<(Interval, Interval)> =
        pairs.iter().flat_map(|&(x, y)| [(x, y), (y, x)]).collect();
    edges.sort_unstable();
    groups
        .into_par_iter()
        .map(|mut group| {
            let kept = group[0].0;
            let first = edges.partition_point(|e| e.0.para < kept.para);
            let mut added = Vec::new();
            for &(this, other) in edges[first..]
                .iter()
                .take_while(|e| e.0.para == kept.para)
                .take(MAX_PROJECTIONS)
            {
                let overlap = this
                    .end
                    .min(kept.end)
                    .saturating_sub(this.start.max(kept.start));
                if 10 * overlap < 9 * kept.len() {
                    continue;
                }
                let best = (-2i64..=2)
                    .filter_map(|shift| project(kept, this, other, shift))
                    .map(|iv| (iv, similarity(kept, iv)))
                    .fold(None, |best: Option<(Interval, f64)>, c| match best {
                        Some(b) if b.1 >= c.1 => Some(b),
                        _ => Some(c),
                    });
                let Some((iv, sim)) = best else {
                    continue;
                };
                let overlaps = |m: &(Interval, f64)| {
                    m.0.para == iv.para && m.0.start < iv.end && iv.start < m.0.end
                };
                if sim >= threshold && !group.iter().any(overlaps) && !added.iter().any(overlaps) {
                    added.push((iv, sim));
                }
            }
            group.extend(added);
            group[1..].sort_by_key(|x| x.0);
            group
        })
        .collect()
}

/// `kept` (inside `this`) carried along the alignment `this ↔ other`, shifted by `shift`
/// words and clipped to `other`.
fn project(kept: Interval, this: Interval, other: Interval, shift: i64) -> Option<Interval> {
    let offset = i64::from(other.start) - i64::from(this.start) + shift;
    let start = (i64::from(kept.start) + offset).max(i64::from(other.start));
    let end = (i64::from(kept.end) + offset).min(i64::from(other.end));
    if start >= end {
        return None;
    }
    Some(Interval {
        para: other.para,
        start: start as u32,
        end: end as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_find_roots_are_smallest_members() {
        let mut uf = UnionFind::new(6);
        uf.union(4, 2);
        uf.union(5, 4);
        uf.union(1, 3);
        assert_eq!(uf.find(5), 2);
        assert_eq!(uf.groups(), vec![vec![1, 3], vec![2, 4, 5]]);
    }

    #[test]
    fn chained_members_are_split_off() {
        // 0 ~ 1 and 1 ~ 2, but 0 and 2 differ: 2 leaves 0's group, and alone it is dropped.
        let sim = |a: u32, b: u32| if a.abs_diff(b) <= 1 { 0.9 } else { 0.5 };
        let groups = split_by_kept(&[0u32, 1, 2], 0.8, sim);
        assert_eq!(groups, vec![vec![(0, 1.0), (1, 0.9)]]);
        // With a fourth member similar to 2, the two form their own group.
        let groups = split_by_kept(&[0u32, 1, 2, 3], 0.8, sim);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[1], vec![(2, 1.0), (3, 0.9)]);
    }

    #[test]
    fn overlapping_intervals_join_and_merge() {
        let iv = |para, start, end| Interval { para, start, end };
        // Paragraph 0 holds the passage twice over (0..10 and 2..12): one occurrence.
        let pairs = vec![(iv(0, 0, 10), iv(1, 5, 15)), (iv(0, 2, 12), iv(2, 0, 10))];
        let groups = passage_groups(&pairs);
        assert_eq!(groups, vec![vec![iv(0, 0, 12), iv(1, 5, 15), iv(2, 0, 10)]]);
    }

    #[test]
    fn distinct_passages_stay_apart() {
        let iv = |para, start, end| Interval { para, start, end };
        let pairs = vec![(iv(0, 0, 10), iv(1, 0, 10)), (iv(0, 20, 30), iv(2, 0, 10))];
        let groups = passage_groups(&pairs);
        assert_eq!(groups.len(), 2);
    }
}
