//! The mutual information gap (Chen et al. 2018); see the module docs for the definition.

use super::{
    EncodeFn, FactorSpace, Halt, MetricError, MetricSettings, MetricSteps, ProgressFn, Session,
    compute_alone, require, stream_rng,
};

/// The MIG of an encoder, with the mutual information behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct MigScore {
    /// The mean of `per_factor`.
    pub score: f64,
    /// The gap of each factor, divided by its entropy.
    pub per_factor: Vec<f64>,
    /// For each factor, the dimension sharing the most information with it.
    pub best_dims: Vec<usize>,
    /// `I(z_d; v_k)` in nats, row-major `latent_dim × factor_count`.
    pub mutual_information: Vec<f64>,
    /// `H(v_k)` in the sample, in nats.
    pub factor_entropy: Vec<f64>,
}

/// The random stream of MIG.
const STREAM: u64 = 1;

/// Computes the MIG of the encoder behind `encode` alone; `Ok(None)` when cancelled.
pub fn compute_mig(
    space: &FactorSpace,
    latent_dim: usize,
    settings: &MetricSettings,
    encode: &mut EncodeFn<'_>,
    progress: &mut ProgressFn<'_>,
) -> Result<Option<MigScore>, MetricError> {
    let steps = MetricSteps {
        validate,
        observation_count,
        run,
    };
    compute_alone(space, latent_dim, settings, encode, progress, steps)
}

/// Checks the settings MIG uses.
pub(super) fn validate(settings: &MetricSettings) -> Result<(), MetricError> {
    require("train_points", settings.train_points, 1)?;
    require("batch_size", settings.batch_size, 1)?;
    require("mig_bins", settings.mig_bins, 2)
}

/// Observations MIG encodes.
pub(super) fn observation_count(settings: &MetricSettings) -> usize {
    settings.train_points
}

/// Samples, encodes and scores.
pub(super) fn run(
    session: &mut Session<'_, '_, '_>,
    space: &FactorSpace,
    settings: &MetricSettings,
) -> Result<MigScore, Halt> {
    session.begin("MIG")?;
    let mut rng = stream_rng(settings.seed, STREAM);
    let (codes, factors) =
        session.sample_codes(space, &mut rng, settings.train_points, settings.batch_size)?;
    Ok(from_codes(
        &codes,
        &factors,
        space,
        session.latent_dim,
        settings.mig_bins,
    )?)
}

/// The MIG of `codes` (`n × latent_dim`) for the combinations `factors` (`n × factor_count`,
/// each index below its size).
pub(super) fn from_codes(
    codes: &[f32],
    factors: &[usize],
    space: &FactorSpace,
    latent_dim: usize,
    bins: usize,
) -> Result<MigScore, MetricError> {
    let factor_count = space.factor_count();
    let points = factors.len() / factor_count;

    let factor_entropy: Vec<f64> = (0..factor_count)
        .map(|k| {
            let column = factors.iter().skip(k).step_by(factor_count).copied();
            entropy(column, space.sizes[k])
        })
        .collect();
    if let Some(k) = factor_entropy.iter().position(|&h| h <= 0.0) {
        return Err(MetricError::ConstantFactorSample {
            name: space.name(k).to_owned(),
            points,
            setting: "train_points",
        });
    }

    let binned = discretise(codes, latent_dim, bins);
    let mut mutual_information = vec![0.0; latent_dim * factor_count];
    for d in 0..latent_dim {
        let code_bins: Vec<usize> = binned.iter().skip(d).step_by(latent_dim).copied().collect();
        for (k, &size) in space.sizes.iter().enumerate() {
            let values = factors.iter().skip(k).step_by(factor_count).copied();
            mutual_information[d * factor_count + k] =
                mutual_information_of(&code_bins, bins, values, size);
        }
    }

    let mut per_factor = Vec::with_capacity(factor_count);
    let mut best_dims = Vec::with_capacity(factor_count);
    for (k, h) in factor_entropy.iter().enumerate() {
        let column: Vec<f64> = (0..latent_dim)
            .map(|d| mutual_information[d * factor_count + k])
            .collect();
        let (best_dim, largest, second) = two_largest(&column);
        best_dims.push(best_dim);
        per_factor.push((largest - second) / h);
    }
    let score = per_factor.iter().sum::<f64>() / factor_count as f64;
    Ok(MigScore {
        score,
        per_factor,
        best_dims,
        mutual_information,
        factor_entropy,
    })
}

/// The bin of each value of `codes` (`n × dim`), each dimension cut into `bins` bins of equal
/// width between its extremes, the largest value in the last bin. The edges are computed as
/// `numpy.histogram` computes them and the bins found as `numpy.digitize` finds them, so that
/// values on an edge land where disentanglement_lib puts them. A constant dimension falls in
/// one bin.
fn discretise(codes: &[f32], dim: usize, bins: usize) -> Vec<usize> {
    let mut low = vec![f64::INFINITY; dim];
    let mut high = vec![f64::NEG_INFINITY; dim];
    for row in codes.chunks_exact(dim) {
        for ((l, h), &v) in low.iter_mut().zip(high.iter_mut()).zip(row) {
            *l = l.min(f64::from(v));
            *h = h.max(f64::from(v));
        }
    }
    let edges: Vec<Vec<f64>> = low
        .iter()
        .zip(&high)
        .map(|(&l, &h)| {
            let step = (h - l) / bins as f64;
            (0..bins).map(|k| k as f64 * step + l).collect()
        })
        .collect();

    let mut binned = Vec::with_capacity(codes.len());
    for row in codes.chunks_exact(dim) {
        for (edges, &v) in edges.iter().zip(row) {
            // The number of lower edges at or below the value, less one.
            let above = edges.partition_point(|&e| e <= f64::from(v));
            binned.push(above.saturating_sub(1));
        }
    }
    binned
}

/// The entropy in nats of the empirical distribution of `values`, each below `size`.
fn entropy(values: impl Iterator<Item = usize>, size: usize) -> f64 {
    let mut counts = vec![0usize; size];
    let mut n = 0usize;
    for v in values {
        if let Some(c) = counts.get_mut(v) {
            *c += 1;
            n += 1;
        }
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n as f64;
            -p * p.ln()
        })
        .sum()
}

/// The mutual information in nats between the bins `code_bins` (each below `bins`) and the
/// factor `values` (each below `size`) of the same points, from their contingency table.
fn mutual_information_of(
    code_bins: &[usize],
    bins: usize,
    values: impl Iterator<Item = usize>,
    size: usize,
) -> f64 {
    let mut joint = vec![0usize; bins * size];
    let mut bin_counts = vec![0usize; bins];
    let mut value_counts = vec![0usize; size];
    let mut n = 0usize;
    for (&b, v) in code_bins.iter().zip(values) {
        if b < bins && v < size {
            joint[b * size + v] += 1;
            bin_counts[b] += 1;
            value_counts[v] += 1;
            n += 1;
        }
    }

    let n = n as f64;
    let mut total = 0.0;
    for (b, &bin_count) in bin_counts.iter().enumerate() {
        for (v, &value_count) in value_counts.iter().enumerate() {
            let count = joint[b * size + v];
            if count > 0 {
                let count = count as f64;
                total += count / n * (count * n / (bin_count as f64 * value_count as f64)).ln();
            }
        }
    }
    // Rounding can leave an independent pair a hair below 0.
    total.max(0.0)
}

/// The index of the largest value, the largest value and the second largest (0 when there is
/// only one). The first index wins a tie.
fn two_largest(values: &[f64]) -> (usize, f64, f64) {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, &v) in values.iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    let second = values
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != best.0)
        .map(|(_, &v)| v)
        .fold(f64::NEG_INFINITY, f64::max);
    let second = if second.is_finite() { second } else { 0.0 };
    (best.0, best.1.max(0.0), second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_width_bins_put_the_maximum_in_the_last_bin() {
        let codes = [0.0, 0.24, 0.25, 0.5, 0.99, 1.0];
        assert_eq!(discretise(&codes, 1, 4), vec![0, 0, 1, 2, 3, 3]);
        let constant = discretise(&[2.0, 2.0], 1, 4);
        assert_eq!(constant[0], constant[1]);
    }

    #[test]
    fn a_code_equal_to_a_factor_shares_all_of_its_entropy() {
        let bins = [0, 1, 2, 3, 0, 1, 2, 3];
        let values = [0, 1, 2, 3, 0, 1, 2, 3];
        let mi = mutual_information_of(&bins, 4, values.iter().copied(), 4);
        let h = entropy(values.iter().copied(), 4);
        assert!((h - 4f64.ln()).abs() < 1e-12, "{h}");
        assert!((mi - h).abs() < 1e-12, "{mi} vs {h}");
    }

    #[test]
    fn an_independent_code_shares_no_information() {
        // Every bin meets every value equally often.
        let bins = [0, 0, 1, 1];
        let values = [0, 1, 0, 1];
        let mi = mutual_information_of(&bins, 2, values.iter().copied(), 2);
        assert!(mi.abs() < 1e-12, "{mi}");
    }

    #[test]
    fn one_dimension_per_factor_gives_a_gap_of_one() {
        // Two binary factors copied into dimensions 0 and 1, dimension 2 constant.
        let space = FactorSpace::new(&["a", "b"], &[2, 2]);
        let factors = [0, 0, 0, 1, 1, 0, 1, 1];
        let codes = [0.0, 0.0, 5.0, 0.0, 1.0, 5.0, 1.0, 0.0, 5.0, 1.0, 1.0, 5.0];
        let score = from_codes(&codes, &factors, &space, 3, 20).unwrap_or_else(|e| panic!("{e}"));
        assert!((score.score - 1.0).abs() < 1e-12, "{score:?}");
        assert_eq!(score.best_dims, vec![0, 1]);
    }

    #[test]
    fn a_factor_with_one_sampled_value_is_an_error_naming_it() {
        let space = FactorSpace::new(&["a", "b"], &[2, 2]);
        let error = from_codes(&[0.0, 1.0], &[0, 0, 0, 1], &space, 1, 20)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "factor \"a\" took a single value in all 2 points of train_points; \
                 raise train_points"
            )
        );
    }
}
