//! Multinomial logistic regression with an L2 penalty, fitted by L-BFGS: the classifier of the
//! β-VAE score.
//!
//! The objective is scikit-learn's `LogisticRegression(C = 1)` divided by the number of points:
//! `mean cross-entropy + ‖W‖² / (2n)`, the intercepts unpenalised. Features are standardised
//! with the training mean and deviation first, which changes the penalty's meaning a little but
//! makes the problem well conditioned, so a fixed number of iterations suffices.

/// Most L-BFGS iterations.
const MAX_ITERATIONS: usize = 200;
/// Past gradients L-BFGS remembers.
const MEMORY: usize = 10;
/// Stop once no gradient entry is larger than this.
const GRADIENT_TOLERANCE: f64 = 1e-6;

/// A fitted classifier.
#[derive(Debug, Clone)]
pub(super) struct LogisticModel {
    dim: usize,
    classes: usize,
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// Row-major `classes × (dim + 1)`, the intercept last.
    weights: Vec<f64>,
}

impl LogisticModel {
    /// Fits `features` (`n × dim`) to `labels` (each below `classes`).
    pub(super) fn fit(features: &[f64], labels: &[usize], dim: usize, classes: usize) -> Self {
        let (mean, scale) = standardisation(features, dim);
        let standard: Vec<f64> = features
            .chunks_exact(dim)
            .flat_map(|row| {
                row.iter()
                    .zip(&mean)
                    .zip(&scale)
                    .map(|((v, m), s)| (v - m) / s)
            })
            .collect();

        let problem = Problem {
            features: &standard,
            labels,
            dim,
            classes,
        };
        let weights = minimise(&problem, vec![0.0; classes * (dim + 1)]);
        Self {
            dim,
            classes,
            mean,
            scale,
            weights,
        }
    }

    /// The most likely class of `row` (`dim` values); the first wins a tie.
    pub(super) fn predict(&self, row: &[f64]) -> usize {
        let standard: Vec<f64> = row
            .iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(|((v, m), s)| (v - m) / s)
            .collect();
        let mut best = (0, f64::NEG_INFINITY);
        for class in 0..self.classes {
            let logit = logit(&self.weights, class, self.dim, &standard);
            if logit > best.1 {
                best = (class, logit);
            }
        }
        best.0
    }

    /// The weights, row-major `classes × (dim + 1)`, each row's intercept last.
    #[cfg(test)]
    pub(super) fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The share of `features` rows whose predicted class is their label.
    pub(super) fn accuracy(&self, features: &[f64], labels: &[usize]) -> f64 {
        let correct = features
            .chunks_exact(self.dim)
            .zip(labels)
            .filter(|(row, label)| self.predict(row) == **label)
            .count();
        correct as f64 / labels.len().max(1) as f64
    }
}

/// The mean and deviation of each of the `dim` columns; a constant column gets deviation 1 so
/// that it standardises to 0.
fn standardisation(features: &[f64], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (features.len() / dim).max(1) as f64;
    let mut mean = vec![0.0; dim];
    for row in features.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v / n);
    }
    let mut variance = vec![0.0; dim];
    for row in features.chunks_exact(dim) {
        for ((s, v), m) in variance.iter_mut().zip(row).zip(&mean) {
            *s += (v - m).powi(2) / n;
        }
    }
    let scale = variance
        .iter()
        .map(|v| if *v > 0.0 { v.sqrt() } else { 1.0 })
        .collect();
    (mean, scale)
}

/// `W_c · x + b_c`.
fn logit(weights: &[f64], class: usize, dim: usize, x: &[f64]) -> f64 {
    let row = &weights[class * (dim + 1)..(class + 1) * (dim + 1)];
    row[..dim].iter().zip(x).map(|(w, v)| w * v).sum::<f64>() + row[dim]
}

/// The training data of one fit.
struct Problem<'a> {
    features: &'a [f64],
    labels: &'a [usize],
    dim: usize,
    classes: usize,
}

impl Problem<'_> {
    /// The objective at `weights`, and its gradient.
    fn loss_and_gradient(&self, weights: &[f64]) -> (f64, Vec<f64>) {
        let (dim, classes) = (self.dim, self.classes);
        let n = self.labels.len().max(1) as f64;
        let penalty = 1.0 / n;
        let mut gradient = vec![0.0; weights.len()];
        let mut loss = 0.0;
        let mut probabilities = vec![0.0; classes];

        for (x, &label) in self.features.chunks_exact(dim).zip(self.labels) {
            // Softmax shifted by the largest logit, so the exponentials cannot overflow.
            for (class, p) in probabilities.iter_mut().enumerate() {
                *p = logit(weights, class, dim, x);
            }
            let largest = probabilities
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for p in &mut probabilities {
                *p = (*p - largest).exp();
                sum += *p;
            }
            loss += sum.ln() + largest - logit(weights, label, dim, x);

            for (class, p) in probabilities.iter().enumerate() {
                let error = p / sum - if class == label { 1.0 } else { 0.0 };
                let row = &mut gradient[class * (dim + 1)..(class + 1) * (dim + 1)];
                row[..dim]
                    .iter_mut()
                    .zip(x)
                    .for_each(|(g, v)| *g += error * v);
                row[dim] += error;
            }
        }

        loss /= n;
        gradient.iter_mut().for_each(|g| *g /= n);
        for class in 0..classes {
            let start = class * (dim + 1);
            for i in start..start + dim {
                loss += 0.5 * penalty * weights[i] * weights[i];
                gradient[i] += penalty * weights[i];
            }
        }
        (loss, gradient)
    }
}

/// Minimises the problem's objective from `start` by L-BFGS with a backtracking (Armijo) line
/// search. The objective is smooth and, thanks to the penalty, strongly convex in the weights,
/// so the curvature pairs stay positive.
fn minimise(problem: &Problem<'_>, start: Vec<f64>) -> Vec<f64> {
    let mut x = start;
    let (mut loss, mut gradient) = problem.loss_and_gradient(&x);
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::with_capacity(MEMORY);

    for _ in 0..MAX_ITERATIONS {
        if gradient.iter().all(|g| g.abs() <= GRADIENT_TOLERANCE) {
            break;
        }
        let direction = two_loop_direction(&gradient, &history);
        let slope = dot(&gradient, &direction);
        if slope >= 0.0 {
            // Not a descent direction: forget the curvature and take the gradient.
            history.clear();
            continue;
        }

        // Without curvature yet, the first step is scaled so it moves by about 1.
        let mut step = if history.is_empty() {
            1.0 / norm(&gradient).max(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..40 {
            let candidate: Vec<f64> = x
                .iter()
                .zip(&direction)
                .map(|(xi, di)| xi + step * di)
                .collect();
            let (candidate_loss, candidate_gradient) = problem.loss_and_gradient(&candidate);
            if candidate_loss <= loss + 1e-4 * step * slope {
                accepted = Some((candidate, candidate_loss, candidate_gradient));
                break;
            }
            step *= 0.5;
        }
        let Some((next, next_loss, next_gradient)) = accepted else {
            break;
        };

        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_gradient
            .iter()
            .zip(&gradient)
            .map(|(a, b)| a - b)
            .collect();
        let curvature = dot(&s, &y);
        if curvature > 1e-12 {
            if history.len() == MEMORY {
                history.remove(0);
            }
            history.push((s, y, 1.0 / curvature));
        }
        let improvement = loss - next_loss;
        (x, loss, gradient) = (next, next_loss, next_gradient);
        if improvement.abs() <= 1e-12 * loss.abs().max(1.0) {
            break;
        }
    }
    x
}

/// The L-BFGS direction `−H g`, with `H` the inverse Hessian estimated from `history`
/// (`s`, `y`, `1 / sᵀy`), oldest first.
fn two_loop_direction(gradient: &[f64], history: &[(Vec<f64>, Vec<f64>, f64)]) -> Vec<f64> {
    let mut q = gradient.to_vec();
    let mut alphas = Vec::with_capacity(history.len());
    for (s, y, rho) in history.iter().rev() {
        let alpha = rho * dot(s, &q);
        q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= alpha * yi);
        alphas.push(alpha);
    }
    if let Some((s, y, _)) = history.last() {
        let gamma = dot(s, y) / dot(y, y).max(f64::MIN_POSITIVE);
        q.iter_mut().for_each(|qi| *qi *= gamma);
    }
    for ((s, y, rho), alpha) in history.iter().zip(alphas.iter().rev()) {
        let beta = rho * dot(y, &q);
        q.iter_mut()
            .zip(s)
            .for_each(|(qi, si)| *qi += (alpha - beta) * si);
    }
    q.iter_mut().for_each(|qi| *qi = -*qi);
    q
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn separable_classes_are_learnt() {
        // Three clusters on a line, each with a second, uninformative feature.
        let mut rng = Rng::new(5);
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for i in 0..600 {
            let class = i % 3;
            features.push(10.0 * class as f64 + f64::from(rng.normal()));
            features.push(f64::from(rng.normal()));
            labels.push(class);
        }
        let model = LogisticModel::fit(&features, &labels, 2, 3);
        let accuracy = model.accuracy(&features, &labels);
        assert!(accuracy > 0.99, "{accuracy}");
    }

    #[test]
    fn the_fit_reaches_a_stationary_point() {
        // Overlapping classes, so the optimum is finite and its gradient should vanish.
        let mut rng = Rng::new(6);
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for i in 0..500 {
            let class = i % 2;
            features.push(class as f64 + f64::from(rng.normal()));
            labels.push(class);
        }
        let (mean, scale) = standardisation(&features, 1);
        let standard: Vec<f64> = features.iter().map(|v| (v - mean[0]) / scale[0]).collect();
        let problem = Problem {
            features: &standard,
            labels: &labels,
            dim: 1,
            classes: 2,
        };
        let weights = minimise(&problem, vec![0.0; 4]);
        let (_, gradient) = problem.loss_and_gradient(&weights);
        assert!(gradient.iter().all(|g| g.abs() < 1e-5), "{gradient:?}");
    }
}
