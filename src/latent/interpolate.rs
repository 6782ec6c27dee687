//! Paths between two latent vectors.
//!
//! Linear interpolation cuts straight through the prior's low-density centre: the midpoint of
//! two typical N(0, I) samples has about 0.7 of their norm. Spherical interpolation (slerp)
//! follows the great circle between the two directions at a steady angular speed and moves
//! the norm linearly between the endpoints', so every step looks like a typical sample.

/// How to walk from one latent to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum PathMethod {
    /// Straight line: `a + t·(b − a)`.
    Linear,
    /// Great circle between the directions, with the norm moving linearly.
    #[default]
    Spherical,
}

impl PathMethod {
    /// The name used on the command line and in the UI.
    pub fn label(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Spherical => "spherical",
        }
    }
}

/// Below this angle (radians) between the endpoints, slerp is numerically a straight line and
/// linear interpolation is used instead.
const PARALLEL_ANGLE: f64 = 1e-4;

/// `a + t·(b − a)`.
pub fn lerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
}

fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Spherical interpolation between `a` and `b` at `t ∈ [0, 1]`.
///
/// The direction turns at a constant angular speed along the great circle from `a` to `b`,
/// and the length moves linearly from `|a|` to `|b|`, so the endpoints are exact. When either
/// vector is zero, or they are (anti-)parallel, there is no unique great circle and the
/// result is [`lerp`]; no input gives NaN.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let (norm_a, norm_b) = (norm(a), norm(b));
    if norm_a == 0.0 || norm_b == 0.0 || !norm_a.is_finite() || !norm_b.is_finite() {
        return lerp(a, b, t);
    }
    let cos = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum::<f64>()
        / (norm_a * norm_b);
    let angle = cos.clamp(-1.0, 1.0).acos();
    if angle < PARALLEL_ANGLE || std::f64::consts::PI - angle < PARALLEL_ANGLE {
        return lerp(a, b, t);
    }

    let t = f64::from(t);
    let sin = angle.sin();
    let weight_a = ((1.0 - t) * angle).sin() / sin / norm_a;
    let weight_b = (t * angle).sin() / sin / norm_b;
    let length = norm_a + t * (norm_b - norm_a);
    a.iter()
        .zip(b)
        .map(|(&x, &y)| ((weight_a * f64::from(x) + weight_b * f64::from(y)) * length) as f32)
        .collect()
}

/// `steps` points from `a` to `b` inclusive (at least 2), evenly spaced in `t`.
pub fn path(a: &[f32], b: &[f32], steps: usize, method: PathMethod) -> Vec<Vec<f32>> {
    let steps = steps.max(2);
    (0..steps)
        .map(|i| {
            let t = i as f32 / (steps - 1) as f32;
            match method {
                PathMethod::Linear => lerp(a, b, t),
                PathMethod::Spherical => slerp(a, b, t),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn angle_between(a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        (dot / (norm(a) * norm(b))).clamp(-1.0, 1.0).acos()
    }

    #[test]
    fn slerp_hits_both_endpoints_exactly() {
        let a = [1.0, 2.0, -0.5];
        let b = [-0.3, 0.7, 2.2];
        let start = slerp(&a, &b, 0.0);
        let end = slerp(&a, &b, 1.0);
        for (x, y) in start.iter().zip(&a) {
            assert!((x - y).abs() < 1e-6, "{start:?}");
        }
        for (x, y) in end.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6, "{end:?}");
        }
    }

    #[test]
    fn slerp_turns_at_a_constant_angular_speed() {
        let a = [1.0, 0.0, 0.5, -1.0];
        let b = [0.2, 1.5, -0.4, 0.3];
        let points = path(&a, &b, 9, PathMethod::Spherical);
        let steps: Vec<f64> = points
            .windows(2)
            .map(|w| angle_between(&w[0], &w[1]))
            .collect();
        let first = steps[0];
        assert!(first > 0.01);
        for step in &steps {
            assert!((step - first).abs() < 1e-5, "{steps:?}");
        }
    }

    #[test]
    fn slerp_of_nearly_parallel_vectors_falls_back_to_linear() {
        let a = [1.0, 1.0, 1.0];
        let b = [2.0, 2.0, 2.000_000_1];
        let mid = slerp(&a, &b, 0.5);
        assert_eq!(mid, lerp(&a, &b, 0.5));
    }

    #[test]
    fn slerp_with_a_zero_vector_gives_no_nan() {
        let zero = [0.0, 0.0];
        let b = [3.0, -4.0];
        for t in [0.0, 0.25, 0.5, 1.0] {
            let p = slerp(&zero, &b, t);
            assert!(p.iter().all(|v| v.is_finite()), "{p:?}");
            assert_eq!(p, lerp(&zero, &b, t));
        }
        let both = slerp(&zero, &zero, 0.5);
        assert_eq!(both, vec![0.0, 0.0]);
    }

    #[test]
    fn opposite_vectors_fall_back_to_linear() {
        let a = [1.0, 0.0];
        let b = [-1.0, 0.0];
        let mid = slerp(&a, &b, 0.5);
        assert!(mid.iter().all(|v| v.is_finite()));
        assert_eq!(mid, vec![0.0, 0.0]);
    }

    #[test]
    fn slerp_keeps_the_norm_between_the_endpoints() {
        let a = [2.0, 0.0, 0.0];
        let b = [0.0, 2.0, 0.0];
        let mid = slerp(&a, &b, 0.5);
        assert!((norm(&mid) - 2.0).abs() < 1e-6, "{mid:?}");
        let linear_mid = lerp(&a, &b, 0.5);
        assert!(norm(&linear_mid) < 1.5);
    }

    #[test]
    fn a_path_has_the_asked_number_of_steps() {
        let p = path(&[0.0], &[1.0], 5, PathMethod::Linear);
        assert_eq!(
            p,
            vec![vec![0.0], vec![0.25], vec![0.5], vec![0.75], vec![1.0]]
        );
        assert_eq!(path(&[0.0], &[1.0], 0, PathMethod::Linear).len(), 2);
    }
}
