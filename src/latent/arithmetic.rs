//! Vector arithmetic in latent space: class means, attribute vectors and analogies.

/// Why an attribute vector could not be formed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArithmeticError {
    /// No sample of the class has a finite mean.
    #[error("class {class} has no sample with a finite latent mean")]
    EmptyClass {
        /// The class index.
        class: u32,
    },
    /// Vectors of different sizes.
    #[error("latent vectors have {found} values, expected {expected}")]
    WrongLength {
        /// The size found.
        found: usize,
        /// The size expected.
        expected: usize,
    },
}

/// The mean of the `means` rows (`dim` values each) whose label is `class`; rows with a
/// non-finite value are left out.
pub fn class_mean(
    means: &[f32],
    labels: &[u32],
    dim: usize,
    class: u32,
) -> Result<Vec<f32>, ArithmeticError> {
    let mut sum = vec![0.0f64; dim];
    let mut count = 0usize;
    for (row, _) in means
        .chunks_exact(dim.max(1))
        .zip(labels)
        .filter(|(row, label)| **label == class && row.iter().all(|v| v.is_finite()))
    {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += f64::from(v);
        }
        count += 1;
    }
    if count == 0 {
        return Err(ArithmeticError::EmptyClass { class });
    }
    Ok(sum.iter().map(|s| (s / count as f64) as f32).collect())
}

/// The attribute vector that turns class `from` into class `to`: mean µ(to) − mean µ(from).
pub fn attribute_vector(
    means: &[f32],
    labels: &[u32],
    dim: usize,
    from: u32,
    to: u32,
) -> Result<Vec<f32>, ArithmeticError> {
    let from_mean = class_mean(means, labels, dim, from)?;
    let to_mean = class_mean(means, labels, dim, to)?;
    Ok(to_mean.iter().zip(&from_mean).map(|(t, f)| t - f).collect())
}

/// `z + strength · v`.
pub fn add_scaled(z: &[f32], v: &[f32], strength: f32) -> Result<Vec<f32>, ArithmeticError> {
    check_length(v, z.len())?;
    Ok(z.iter().zip(v).map(|(a, b)| a + strength * b).collect())
}

/// The analogy `a − b + c` ("a is to b as the result is to c").
pub fn analogy(a: &[f32], b: &[f32], c: &[f32]) -> Result<Vec<f32>, ArithmeticError> {
    check_length(b, a.len())?;
    check_length(c, a.len())?;
    Ok(a.iter()
        .zip(b)
        .zip(c)
        .map(|((a, b), c)| a - b + c)
        .collect())
}

fn check_length(v: &[f32], expected: usize) -> Result<(), ArithmeticError> {
    if v.len() == expected {
        Ok(())
    } else {
        Err(ArithmeticError::WrongLength {
            found: v.len(),
            expected,
        })
    }
}

/// `count` samples from N(centre, σ²·I), seeded by `rng`.
pub fn gaussian_around(
    centre: &[f32],
    count: usize,
    sigma: f32,
    rng: &mut crate::rng::Rng,
) -> Vec<Vec<f32>> {
    (0..count)
        .map(|_| centre.iter().map(|&c| c + sigma * rng.normal()).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_means_skip_other_classes_and_non_finite_rows() {
        let means = [1.0, 2.0, 3.0, 4.0, f32::NAN, 0.0, 10.0, 20.0];
        let labels = [0, 0, 0, 1];
        assert_eq!(class_mean(&means, &labels, 2, 0), Ok(vec![2.0, 3.0]));
        assert_eq!(class_mean(&means, &labels, 2, 1), Ok(vec![10.0, 20.0]));
        assert_eq!(
            class_mean(&means, &labels, 2, 7),
            Err(ArithmeticError::EmptyClass { class: 7 })
        );
    }

    #[test]
    fn the_attribute_vector_points_from_one_class_mean_to_the_other() {
        let means = [0.0, 0.0, 2.0, 2.0, 4.0, 6.0];
        let labels = [0, 0, 1];
        assert_eq!(
            attribute_vector(&means, &labels, 2, 0, 1),
            Ok(vec![3.0, 5.0])
        );
    }

    #[test]
    fn an_analogy_is_a_minus_b_plus_c() {
        assert_eq!(
            analogy(&[5.0, 1.0], &[2.0, 1.0], &[0.5, 3.0]),
            Ok(vec![3.5, 3.0])
        );
        assert!(analogy(&[1.0], &[1.0, 2.0], &[0.0]).is_err());
    }

    #[test]
    fn samples_around_a_centre_spread_by_sigma() {
        let mut rng = crate::rng::Rng::new(8);
        let samples = gaussian_around(&[5.0, -1.0], 20_000, 0.5, &mut rng);
        assert_eq!(samples.len(), 20_000);
        let mean0 = samples.iter().map(|s| s[0]).sum::<f32>() / 20_000.0;
        let var0 = samples.iter().map(|s| (s[0] - mean0).powi(2)).sum::<f32>() / 20_000.0;
        assert!((mean0 - 5.0).abs() < 0.02 && (var0.sqrt() - 0.5).abs() < 0.02);
        assert_eq!(
            gaussian_around(&[1.0], 2, 0.0, &mut rng),
            vec![vec![1.0], vec![1.0]]
        );
    }

    #[test]
    fn strength_scales_the_added_vector() {
        assert_eq!(
            add_scaled(&[1.0, 1.0], &[2.0, -1.0], -0.5),
            Ok(vec![0.0, 1.5])
        );
    }
}
