//! Gradient-boosted regression trees on the squared error: DCI's regressor.
//!
//! Each round fits a small tree to the residuals and adds it, shrunk by the learning rate, to
//! the prediction (Friedman's least-squares boosting, scikit-learn's
//! `GradientBoostingRegressor` with its defaults). Trees grow level by level with an exact
//! greedy search: every midpoint between two consecutive values of a feature more than 1e-7
//! apart is a candidate threshold, found by one walk over the feature's presorted values per level. There
//! is no randomness: gains equal to within a relative 1e-9 count as ties, which go to the
//! lowest feature, then the lowest threshold (scikit-learn breaks them by its random_state).

use std::sync::atomic::{AtomicBool, Ordering};

/// How to boost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Boosting {
    /// Boosting rounds, one tree each.
    pub trees: usize,
    /// Levels of splits per tree.
    pub depth: usize,
    /// Shrinkage of each tree's contribution.
    pub learning_rate: f64,
}

/// scikit-learn's defaults, as disentanglement_lib uses them.
pub(super) const DEFAULT_BOOSTING: Boosting = Boosting {
    trees: 100,
    depth: 3,
    learning_rate: 0.1,
};

/// Training features, column by column, with each column's rows in increasing order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Columns {
    rows: usize,
    dim: usize,
    /// `dim × rows`: the value of each row, column by column.
    values: Vec<f32>,
    /// `dim × rows`: each column's rows, by increasing value.
    order: Vec<usize>,
    /// `dim × rows`: each column's values in that order.
    sorted: Vec<f32>,
    /// `1 / n` for `n` in `0..=rows` (0 for 0), so that scoring a split divides by nothing.
    reciprocals: Vec<f64>,
}

impl Columns {
    /// The columns of `codes` (`rows × dim`, row-major).
    pub(super) fn new(codes: &[f32], dim: usize) -> Self {
        let rows = codes.len() / dim.max(1);
        let mut values = Vec::with_capacity(rows * dim);
        let mut order = Vec::with_capacity(rows * dim);
        let mut sorted = Vec::with_capacity(rows * dim);
        for feature in 0..dim {
            let column: Vec<f32> = codes.iter().skip(feature).step_by(dim).copied().collect();
            let mut rows_by_value: Vec<usize> = (0..rows).collect();
            rows_by_value.sort_by(|&a, &b| column[a].total_cmp(&column[b]));
            sorted.extend(rows_by_value.iter().map(|&row| column[row]));
            order.extend(rows_by_value);
            values.extend(column);
        }
        let reciprocals = (0..=rows)
            .map(|n| if n == 0 { 0.0 } else { 1.0 / n as f64 })
            .collect();
        Self {
            rows,
            dim,
            values,
            order,
            sorted,
            reciprocals,
        }
    }

    fn value(&self, feature: usize, row: usize) -> f64 {
        f64::from(self.values[feature * self.rows + row])
    }
}

/// One node of a tree.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Node {
    /// A prediction.
    Leaf(f64),
    /// Points whose `feature` is at most `threshold` go `left`, the rest `right`.
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
}

/// A regression tree.
#[derive(Debug, Clone, PartialEq)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// The leaf value for `row`.
    fn predict(&self, row: &[f32]) -> f64 {
        let mut index = 0;
        loop {
            match self.nodes.get(index) {
                Some(Node::Leaf(value)) => return *value,
                Some(Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                }) => {
                    let goes_left = row
                        .get(*feature)
                        .is_some_and(|&v| f64::from(v) <= *threshold);
                    index = if goes_left { *left } else { *right };
                }
                None => return 0.0,
            }
        }
    }
}

/// A fitted booster.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct BoostedTrees {
    base: f64,
    learning_rate: f64,
    trees: Vec<Tree>,
    /// Squared-error reduction of every split on each feature, summed over all trees.
    importance: Vec<f64>,
}

impl BoostedTrees {
    /// Fits `targets` (one per row of `features`), returning the model and its predictions for
    /// the training rows; `None` as soon as `cancel` is set.
    pub(super) fn fit(
        features: &Columns,
        targets: &[f64],
        settings: &Boosting,
        cancel: &AtomicBool,
    ) -> Option<(Self, Vec<f64>)> {
        let rows = features.rows;
        let base = targets.iter().sum::<f64>() / rows.max(1) as f64;
        let mut prediction = vec![base; rows];
        let mut importance = vec![0.0; features.dim];
        let mut grower = Grower::new(features, settings.depth);
        let mut trees = Vec::with_capacity(settings.trees);

        for _ in 0..settings.trees {
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            let residual: Vec<f64> = targets
                .iter()
                .zip(&prediction)
                .map(|(y, p)| y - p)
                .collect();
            let tree = grower.grow(&residual, &mut importance);
            for (p, &leaf) in prediction.iter_mut().zip(&grower.node_of) {
                if let Some(Node::Leaf(value)) = tree.nodes.get(leaf) {
                    *p += settings.learning_rate * value;
                }
            }
            trees.push(tree);
        }

        let model = Self {
            base,
            learning_rate: settings.learning_rate,
            trees,
            importance,
        };
        Some((model, prediction))
    }

    /// Predictions for each row of `codes` (`rows × dim`, row-major).
    pub(super) fn predict(&self, codes: &[f32]) -> Vec<f64> {
        codes
            .chunks_exact(self.importance.len().max(1))
            .map(|row| {
                // The same order of additions as in training, so training rows get the very
                // predictions `fit` returned.
                self.trees
                    .iter()
                    .fold(self.base, |p, t| p + self.learning_rate * t.predict(row))
            })
            .collect()
    }

    /// Total squared-error reduction of the splits on each feature (scikit-learn's impurity
    /// importance, before normalising).
    pub(super) fn importance(&self) -> &[f64] {
        &self.importance
    }
}

/// Sum, sum of squares and count of the residuals of some rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Stats {
    sum: f64,
    squares: f64,
    count: usize,
}

impl Stats {
    fn add(&mut self, r: f64) {
        self.sum += r;
        self.squares += r * r;
        self.count += 1;
    }

    /// The mean squared deviation from the mean.
    fn impurity(self) -> f64 {
        let n = self.count.max(1) as f64;
        (self.squares - self.sum * self.sum / n) / n
    }
}

/// Sum and count of the residuals on one side of a candidate split.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Side {
    sum: f64,
    count: usize,
}

impl Side {
    /// `S² / n`, the part of the squared error that a split can change.
    fn explained(self) -> f64 {
        self.sum * self.sum / self.count.max(1) as f64
    }
}

/// One node's search for its best split.
#[derive(Debug, Clone, Copy)]
struct Search {
    total: Side,
    /// `total.explained()`, kept because every candidate needs it.
    parent: f64,
    /// Rows of the node met so far in the walk over the current feature, and the last value.
    left: Side,
    last: f32,
    best: Option<Split>,
}

/// A split of a node.
#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    threshold: f64,
    gain: f64,
}

/// Values closer than this count as equal, so no split falls between them: splitting on
/// float noise means nothing. It is scikit-learn's `FEATURE_THRESHOLD`, added in single
/// precision as there, so that the same neighbours count as equal.
const SAME_VALUE: f32 = 1e-7;

/// Relative difference under which two gains count as equal.
const TIE_MARGIN: f64 = 1e-9;

/// Marks a row whose node is not searched on this level.
const NOT_SEARCHED: usize = usize::MAX;

/// Grows trees level by level, reusing its buffers.
struct Grower<'a> {
    features: &'a Columns,
    depth: usize,
    /// The node each row sits in; after growing, its leaf.
    node_of: Vec<usize>,
    /// Each row's search slot on the current level (or [`NOT_SEARCHED`]) and residual, side by
    /// side so the walk over a feature fetches them together.
    visits: Vec<(usize, f64)>,
}

impl<'a> Grower<'a> {
    fn new(features: &'a Columns, depth: usize) -> Self {
        Self {
            features,
            depth,
            node_of: vec![0; features.rows],
            visits: Vec::with_capacity(features.rows),
        }
    }

    /// A tree fitted to `residual`, adding its gains to `importance`.
    fn grow(&mut self, residual: &[f64], importance: &mut [f64]) -> Tree {
        self.node_of.fill(0);
        let mut root = Stats::default();
        residual.iter().for_each(|&r| root.add(r));
        let mut nodes = vec![Node::Leaf(0.0)];
        let mut stats = vec![root];
        let mut frontier = vec![0usize];

        for _ in 0..self.depth {
            // Nodes with two rows or more whose residuals still vary (scikit-learn's test).
            let mut slot_of = vec![NOT_SEARCHED; nodes.len()];
            let mut searched = Vec::new();
            for &node in &frontier {
                if stats[node].count >= 2 && stats[node].impurity() > f64::EPSILON {
                    slot_of[node] = searched.len();
                    searched.push(node);
                }
            }
            if searched.is_empty() {
                break;
            }

            self.visits.clear();
            self.visits.extend(
                self.node_of
                    .iter()
                    .zip(residual)
                    .map(|(&node, &r)| (slot_of.get(node).copied().unwrap_or(NOT_SEARCHED), r)),
            );
            let totals: Vec<Stats> = searched.iter().map(|&node| stats[node]).collect();
            let splits = self.best_splits(&totals);

            let mut next = Vec::new();
            for (&node, split) in searched.iter().zip(splits) {
                let Some(split) = split else {
                    continue;
                };
                importance[split.feature] += split.gain;
                let (left, right) = (nodes.len(), nodes.len() + 1);
                nodes.extend([Node::Leaf(0.0), Node::Leaf(0.0)]);
                stats.extend([Stats::default(), Stats::default()]);
                nodes[node] = Node::Split {
                    feature: split.feature,
                    threshold: split.threshold,
                    left,
                    right,
                };
                next.extend([left, right]);
            }

            // Rows of the nodes just split move to a child, which learns its statistics.
            for (row, (node, &r)) in self.node_of.iter_mut().zip(residual).enumerate() {
                if let Some(&Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                }) = nodes.get(*node)
                {
                    let goes_left = self.features.value(feature, row) <= threshold;
                    *node = if goes_left { left } else { right };
                    if let Some(child) = stats.get_mut(*node) {
                        child.add(r);
                    }
                }
            }
            frontier = next;
        }

        for (node, node_stats) in nodes.iter_mut().zip(&stats) {
            if let Node::Leaf(value) = node {
                *value = node_stats.sum / node_stats.count.max(1) as f64;
            }
        }
        Tree { nodes }
    }

    /// The best split of each searched node (whose statistics are `totals`, in slot order), by
    /// one walk over each feature's sorted rows.
    fn best_splits(&self, totals: &[Stats]) -> Vec<Option<Split>> {
        let features = self.features;
        let mut state: Vec<Search> = totals
            .iter()
            .map(|t| {
                let total = Side {
                    sum: t.sum,
                    count: t.count,
                };
                Search {
                    total,
                    parent: total.explained(),
                    left: Side::default(),
                    last: f32::NEG_INFINITY,
                    best: None,
                }
            })
            .collect();

        for feature in 0..features.dim {
            for search in &mut state {
                search.left = Side::default();
            }
            let range = feature * features.rows..(feature + 1) * features.rows;
            for (&row, &value) in features.order[range.clone()]
                .iter()
                .zip(&features.sorted[range])
            {
                let Some(&(slot, r)) = self.visits.get(row) else {
                    continue;
                };
                let Some(search) = state.get_mut(slot) else {
                    continue;
                };
                if search.left.count > 0 && value > search.last + SAME_VALUE {
                    consider(search, feature, value, &features.reciprocals);
                }
                search.left.sum += r;
                search.left.count += 1;
                search.last = value;
            }
        }
        state.into_iter().map(|search| search.best).collect()
    }
}

/// Scores the split of `search`'s node between the rows met so far and those from `value` on.
fn consider(search: &mut Search, feature: usize, value: f32, reciprocals: &[f64]) {
    let (left, total) = (search.left, search.total);
    let right_sum = total.sum - left.sum;
    let inverse = |n: usize| reciprocals.get(n).copied().unwrap_or(0.0);
    let gain = left.sum * left.sum * inverse(left.count)
        + right_sum * right_sum * inverse(total.count - left.count)
        - search.parent;
    // Splits that part the rows alike have equal gains up to rounding; the margin makes the
    // first of them (lowest feature, then lowest threshold) win whatever the rounding.
    if gain > 0.0
        && search
            .best
            .is_none_or(|b| gain > b.gain * (1.0 + TIE_MARGIN))
    {
        // The midpoint, unless rounding made it equal to the upper value (as scikit-learn).
        let (last, value) = (f64::from(search.last), f64::from(value));
        let mut threshold = 0.5 * (last + value);
        if threshold >= value {
            threshold = last;
        }
        search.best = Some(Split {
            feature,
            threshold,
            gain,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_list_rows_by_increasing_value() {
        let columns = Columns::new(&[3.0, 0.0, 1.0, 5.0, 2.0, 4.0], 2);
        assert_eq!(columns.order, vec![1, 2, 0, 0, 2, 1]);
        assert_eq!(columns.sorted, vec![1.0, 2.0, 3.0, 0.0, 4.0, 5.0]);
    }

    #[test]
    fn a_step_of_one_feature_is_fitted_and_gets_all_the_importance() {
        // Feature 0 decides the target; feature 1 is a distraction.
        let mut rows = Vec::new();
        let mut targets = Vec::new();
        for i in 0..400 {
            let x = (i % 20) as f32;
            rows.extend([x, ((i * 7) % 13) as f32]);
            targets.push(if x < 8.0 { 0.0 } else { 1.0 });
        }
        let columns = Columns::new(&rows, 2);
        let (model, fitted) = BoostedTrees::fit(
            &columns,
            &targets,
            &DEFAULT_BOOSTING,
            &AtomicBool::new(false),
        )
        .unwrap_or_else(|| panic!("cancelled"));

        let error = fitted
            .iter()
            .zip(&targets)
            .map(|(p, y)| (p - y).abs())
            .fold(0.0, f64::max);
        assert!(error < 1e-3, "largest training error {error}");
        assert_eq!(model.predict(&rows), fitted);
        let importance = model.importance();
        assert!(importance[1] < 1e-9 * importance[0], "{importance:?}");
    }

    #[test]
    fn the_threshold_lies_between_the_two_sides() {
        let columns = Columns::new(&[1.0, 2.0, 3.0, 4.0], 1);
        let one_split = Boosting {
            trees: 1,
            depth: 1,
            learning_rate: 1.0,
        };
        let targets = [0.0, 0.0, 1.0, 1.0];
        let (model, _) = BoostedTrees::fit(&columns, &targets, &one_split, &AtomicBool::new(false))
            .unwrap_or_else(|| panic!("cancelled"));
        let Some(Node::Split { threshold, .. }) = model.trees[0].nodes.first() else {
            panic!("{model:?}");
        };
        assert_eq!(*threshold, 2.5);
        assert_eq!(model.predict(&[2.4, 2.6]), vec![0.0, 1.0]);
    }
}
