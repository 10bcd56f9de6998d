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
    pub fn groups(&mut self) -> Vec<Vec<u32>> {
        let n = self.parent.len();
        let mut by_root: Vec<Vec<u32>> = vec![Vec::new(); n];
        for x in 0..n as u32 {
            let r = self.find(x);
            by_root[r as usize].push(x);
        }
        by_root.into_iter().filter(|g| g.len() >= 2).collect()
    }
}

/// Star re-verification: splits `members` (sorted, the first is kept) into groups whose
/// every member has `similarity(kept, member) >= threshold`. Returns each group with the
/// members' similarities (1.0 for the kept one); groups of one are dropped.
pub fn split_by_kept<T: Copy>(
    members: &[T],
    threshold: f64,
    similarity: impl Fn(T, T) -> f64,
) -> Vec<Vec<(T, f64)>> {
    let mut out = Vec::new();
    let mut rest: Vec<T> = members.to_vec();
    while rest.len() >= 2 {
        let kept = rest[0];
        let mut group = vec![(kept, 1.0)];
        let mut next = Vec::new();
        for &m in &rest[1..] {
            let s = similarity(kept, m);
            if s >= threshold {
                group.push((m, s));
            } else {
                next.push(m);
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
    fn len(&self) -> u32 {
        self.end - self.start
    }
}

/// Groups passage occurrences into clusters of the same passage.
///
/// Nodes are intervals. Two intervals of one paragraph are the same node when they
/// overlap by at least half of the shorter one; each aligned pair joins its two nodes.
/// In every resulting set, the intervals of one paragraph that overlap are merged into
/// one occurrence (intervals that do not overlap stay apart: a passage can repeat
/// inside a paragraph). Returns the sets' occurrences, sorted, ordered by first
/// occurrence; the caller re-verifies them against the kept one.
pub fn passage_groups(pairs: &[(Interval, Interval)]) -> Vec<Vec<Interval>> {
    let mut nodes: Vec<Interval> = pairs.iter().flat_map(|&(x, y)| [x, y]).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let index = |iv: &Interval| nodes.binary_search(iv).unwrap_or(0) as u32;
    let mut uf = UnionFind::new(nodes.len());
    // Same-paragraph overlaps: nodes are sorted by (para, start), so the earlier
    // intervals that can overlap the current one are those still open at its start.
    let mut open: Vec<usize> = Vec::new();
    for (i, iv) in nodes.iter().enumerate() {
        open.retain(|&j| nodes[j].para == iv.para && nodes[j].end > iv.start);
        for &j in &open {
            let other = nodes[j];
            let overlap = other.end.min(iv.end) - iv.start;
            if 2 * overlap >= other.len().min(iv.len()) {
                uf.union(i as u32, j as u32);
            }
        }
        open.push(i);
    }
    for (x, y) in pairs {
        uf.union(index(x), index(y));
    }
    uf.groups()
        .into_iter()
        .map(|members| merge_overlapping(members.iter().map(|&m| nodes[m as usize])))
        .filter(|occ| occ.len() >= 2)
        .collect()
}

/// Merges overlapping intervals of the same paragraph; input sorted.
fn merge_overlapping(sorted: impl Iterator<Item = Interval>) -> Vec<Interval> {
    let mut out: Vec<Interval> = Vec::new();
    for iv in sorted {
        match out.last_mut() {
            Some(last) if last.para == iv.para && iv.start < last.end => {
                last.end = last.end.max(iv.end);
            }
            _ => out.push(iv),
        }
    }
    out
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
