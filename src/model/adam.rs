//! Adam (Kingma & Ba, 2015) fused into one pass per parameter over plain arrays.
//!
//! candle-nn's optimiser spends about sixteen tensor operations per parameter on each step,
//! each allocating and sweeping an array as large as the parameter. Here the weights and the
//! moments live in `Vec<f32>`, and one loop reads the gradient once and writes the moments and
//! the weight once.

use super::fast_math::flush_subnormal;

/// Adam's step size and decay rates; the defaults are PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Step size.
    pub learning_rate: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the root of the second moment so the step stays finite.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// The optimiser: the first and second moments of every parameter.
pub struct Adam {
    config: AdamConfig,
    first: Vec<Vec<f32>>,
    second: Vec<Vec<f32>>,
    step: i32,
}

impl Adam {
    /// Zero moments for parameters of the given sizes.
    pub fn new(sizes: &[usize], config: AdamConfig) -> Self {
        Self {
            config,
            first: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            second: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            step: 0,
        }
    }

    /// One step: moves each of `params` against its gradient in `grads` (same order and sizes
    /// as given to [`Adam::new`]; a parameter whose gradient is empty is left alone).
    ///
    /// The parameters are split into two groups of about equal size, updated on two threads.
    pub fn step(&mut self, params: &mut [Vec<f32>], grads: &[Vec<f32>]) {
        self.step += 1;
        let c = self.config;
        let (lr, first_scale) = (
            c.learning_rate as f32,
            1.0 / (1.0 - c.beta1.powi(self.step)) as f32,
        );
        let update = Update {
            beta1: c.beta1 as f32,
            beta2: c.beta2 as f32,
            first_scale,
            second_scale: 1.0 / (1.0 - c.beta2.powi(self.step)) as f32,
            lr,
            eps: c.eps as f32,
            first_floor: f32::MIN_POSITIVE / (lr * first_scale).min(1.0),
        };

        let mut slots: Vec<Slot<'_>> = params
            .iter_mut()
            .zip(grads)
            .zip(self.first.iter_mut().zip(self.second.iter_mut()))
            .map(|((values, grad), (first, second))| Slot {
                values,
                grad,
                first,
                second,
            })
            .collect();
        slots.sort_by_key(|slot| std::cmp::Reverse(slot.values.len()));
        let (mut left, mut right) = (Vec::new(), Vec::new());
        let (mut left_size, mut right_size) = (0, 0);
        for slot in slots {
            if left_size <= right_size {
                left_size += slot.values.len();
                left.push(slot);
            } else {
                right_size += slot.values.len();
                right.push(slot);
            }
        }

        // On rayon's warm threads, each half compiled for the widest SIMD pulp finds here.
        let arch = pulp::Arch::new();
        rayon::join(
            || {
                arch.dispatch(Half {
                    slots: &mut right,
                    update,
                })
            },
            || {
                arch.dispatch(Half {
                    slots: &mut left,
                    update,
                })
            },
        );
    }
}

/// One parameter with its gradient and moments, borrowed for a step.
struct Slot<'a> {
    values: &'a mut Vec<f32>,
    grad: &'a Vec<f32>,
    first: &'a mut Vec<f32>,
    second: &'a mut Vec<f32>,
}

/// Some of a step's parameters, updated at the SIMD width pulp finds.
struct Half<'s, 'a> {
    slots: &'s mut [Slot<'a>],
    update: Update,
}

impl pulp::WithSimd for Half<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for slot in self.slots {
            self.update.apply(slot);
        }
    }
}

/// The constants of one step.
#[derive(Clone, Copy)]
struct Update {
    beta1: f32,
    beta2: f32,
    first_scale: f32,
    second_scale: f32,
    lr: f32,
    eps: f32,
    /// The smallest first moment kept: below it the step's `lr · m̂` would be subnormal.
    first_floor: f32,
}

impl Update {
    #[inline(always)]
    fn apply(&self, slot: &mut Slot<'_>) {
        let moments = slot.first.iter_mut().zip(slot.second.iter_mut());
        for ((w, (m, v)), g) in slot.values.iter_mut().zip(moments).zip(slot.grad) {
            // A moment whose gradient stays zero (a weight of a unit whose ReLU never fires)
            // shrinks by β each step; before it is subnormal, `lr · m̂` below would be. Such a
            // moment moves its weight by less than 2⁻¹²⁶ / ε: it is set to zero instead.
            let first = self.beta1 * *m + (1.0 - self.beta1) * g;
            *m = if first.abs() < self.first_floor {
                0.0
            } else {
                first
            };
            *v = flush_subnormal(self.beta2 * *v + (1.0 - self.beta2) * g * g);
            *w -= self.lr * (*m * self.first_scale) / ((*v * self.second_scale).sqrt() + self.eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut adam = Adam::new(
            &[1],
            AdamConfig {
                learning_rate: 0.1,
                ..AdamConfig::default()
            },
        );
        let mut params = vec![vec![0.0f32]];
        for _ in 0..500 {
            let grad = vec![vec![2.0 * (params[0][0] - 3.0)]];
            adam.step(&mut params, &grad);
        }
        assert!((params[0][0] - 3.0).abs() < 1e-2, "w = {}", params[0][0]);
    }

    #[test]
    fn moments_of_a_gradient_that_stops_go_to_zero_without_passing_through_subnormals() {
        let mut adam = Adam::new(&[1], AdamConfig::default());
        let mut params = vec![vec![1.0f32]];
        adam.step(&mut params, &[vec![1e-3]]);
        for _ in 0..3000 {
            adam.step(&mut params, &[vec![0.0]]);
            for moment in [adam.first[0][0], adam.second[0][0]] {
                assert!(moment == 0.0 || moment.is_normal(), "moment {moment:e}");
            }
        }
        assert_eq!(adam.first[0][0], 0.0);
    }

    #[test]
    fn the_first_step_has_the_learning_rate_as_its_size() {
        let mut adam = Adam::new(&[2], AdamConfig::default());
        let mut params = vec![vec![1.0f32, -2.0]];
        adam.step(&mut params, &[vec![5.0, -0.5]]);
        assert!((params[0][0] - (1.0 - 1e-3)).abs() < 1e-6, "{params:?}");
        assert!((params[0][1] - (-2.0 + 1e-3)).abs() < 1e-6, "{params:?}");
    }
}
