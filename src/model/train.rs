//! Training an [`MlpVae`] with Adam on the negative ELBO.
//!
//! Loss per image = binary cross-entropy summed over pixels + β·KL(q(z|x) ‖ N(0, I)); the
//! batch loss is the mean over its images. Every random choice (initial weights, batch order,
//! the reparameterisation noise) comes from one seeded [`Rng`], so a seed fixes the result.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Instant;

use candle_core::{Device, Tensor};

use super::adam::{Adam, AdamConfig};
use super::backprop::Backprop;
use super::network::Model;
use super::spec::{ModelKind, ModelSpec, OutputActivation, TrainingFacts};
use super::vae::{MlpVae, ModelError};
use crate::data::Dataset;
use crate::latent::Rng;

/// The knobs of a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Size of z.
    pub latent_dim: usize,
    /// Widths of the encoder's fully connected hidden layers.
    pub hidden: Vec<usize>,
    /// Output channels of the encoder's strided convolutions; empty trains a fully connected
    /// VAE, non-empty a convolutional one (`train_conv.rs`).
    pub channels: Vec<usize>,
    /// Weight of the KL term (1 is the plain VAE).
    pub beta: f64,
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per optimiser step.
    pub batch_size: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Epochs over which β ramps linearly from 0 to its value (KL warm-up, Bowman et al.
    /// 2016), so the encoder starts using z before the KL term presses it to the prior.
    pub warmup_epochs: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            latent_dim: 16,
            hidden: vec![400],
            channels: Vec::new(),
            beta: 1.0,
            epochs: 10,
            batch_size: 128,
            learning_rate: 1e-3,
            seed: 0,
            warmup_epochs: 0.0,
        }
    }
}

impl TrainConfig {
    /// What a finished run records in its checkpoint.
    pub(crate) fn facts(
        &self,
        train_images: usize,
        evaluation: Option<Evaluation>,
        started: Instant,
        command: &str,
    ) -> TrainingFacts {
        TrainingFacts {
            epochs: self.epochs,
            batch_size: self.batch_size,
            learning_rate: self.learning_rate,
            beta: self.beta,
            kl_warmup_epochs: self.warmup_epochs,
            seed: self.seed,
            train_images,
            test_reconstruction: evaluation.map(|e| e.reconstruction),
            test_kl: evaluation.map(|e| e.kl),
            elapsed_secs: started.elapsed().as_secs_f64(),
            command: command.to_owned(),
        }
    }

    /// The KL weight after `images_seen` training images of `per_epoch` per epoch.
    pub fn beta_at(&self, images_seen: usize, per_epoch: usize) -> f64 {
        if self.warmup_epochs <= 0.0 {
            return self.beta;
        }
        let epochs = images_seen as f64 / per_epoch.max(1) as f64;
        self.beta * (epochs / self.warmup_epochs).min(1.0)
    }
}

/// Why training stopped without a model.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration cannot work.
    #[error("invalid training setting: {0}")]
    Config(String),
    /// candle failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The caller asked to stop.
    #[error("training was cancelled")]
    Cancelled,
}

impl From<candle_core::Error> for TrainError {
    fn from(e: candle_core::Error) -> Self {
        Self::Model(e.into())
    }
}

/// Where a run stands, reported after every batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainProgress {
    /// Current epoch, from 1.
    pub epoch: usize,
    /// Total epochs.
    pub epochs: usize,
    /// Images seen in this epoch.
    pub images_done: usize,
    /// Images per epoch.
    pub images_total: usize,
    /// Mean per-image loss over this epoch so far (nats).
    pub loss: f64,
    /// Mean per-image KL over this epoch so far (nats).
    pub kl: f64,
    /// Throughput of this epoch so far.
    pub images_per_sec: f64,
}

impl TrainProgress {
    /// Where epoch `epoch` stands after `done` of `total` images, with the sums of the
    /// per-image loss and KL so far.
    pub(crate) fn of_epoch(
        epoch: usize,
        config: &TrainConfig,
        done: usize,
        total: usize,
        (loss_sum, kl_sum): (f64, f64),
        epoch_started: Instant,
    ) -> Self {
        let seen = done.max(1) as f64;
        Self {
            epoch,
            epochs: config.epochs,
            images_done: done,
            images_total: total,
            loss: loss_sum / seen,
            kl: kl_sum / seen,
            images_per_sec: done as f64 / epoch_started.elapsed().as_secs_f64().max(1e-9),
        }
    }
}

/// Mean per-image loss terms of a model on a dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Binary cross-entropy summed over pixels, decoding z = µ.
    pub reconstruction: f64,
    /// KL(q(z|x) ‖ N(0, I)).
    pub kl: f64,
}

/// Trains a new model on `data` (fully connected, or convolutional when `config.channels` is
/// set); when `test` is given, its loss terms are recorded in the model's [`TrainingFacts`].
pub fn train(
    data: &Dataset,
    test: Option<&Dataset>,
    config: &TrainConfig,
    command: &str,
    on_progress: &mut dyn FnMut(&TrainProgress) -> ControlFlow<()>,
) -> Result<Model, TrainError> {
    check_config(data, config)?;
    if !config.channels.is_empty() {
        return super::train_conv::train_conv(data, test, config, command, on_progress);
    }
    train_mlp(data, test, config, command, on_progress).map(Model::Mlp)
}

fn train_mlp(
    data: &Dataset,
    test: Option<&Dataset>,
    config: &TrainConfig,
    command: &str,
    on_progress: &mut dyn FnMut(&TrainProgress) -> ControlFlow<()>,
) -> Result<MlpVae, TrainError> {
    let started = Instant::now();
    let mut rng = Rng::new(config.seed);

    let mut spec = ModelSpec {
        kind: ModelKind::MlpVae,
        input_shape: [data.channels, data.height, data.width],
        hidden: config.hidden.clone(),
        channels: Vec::new(),
        latent_dim: config.latent_dim,
        output_activation: OutputActivation::Sigmoid,
        dataset: data.name.clone(),
        class_names: data.class_names.clone(),
        training: None,
    };
    let shapes = spec.tensor_shapes();
    let mut params = initial_weights(&shapes, &mut rng);
    let sizes: Vec<usize> = params.iter().map(Vec::len).collect();
    let mut optimizer = Adam::new(
        &sizes,
        AdamConfig {
            learning_rate: config.learning_rate,
            ..AdamConfig::default()
        },
    );

    let mut backprop = Backprop::new(&spec);
    let (mut pixels, mut noise) = (Vec::new(), Vec::new());
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut seen = 0;
    for epoch in 1..=config.epochs {
        rng.shuffle(&mut order);
        let epoch_started = Instant::now();
        let (mut loss_sum, mut kl_sum, mut done) = (0.0, 0.0, 0);

        for batch in order.chunks(config.batch_size) {
            pixels.clear();
            for &idx in batch {
                pixels.extend_from_slice(data.image(idx).unwrap_or_default());
            }
            noise.clear();
            noise.extend((0..batch.len() * config.latent_dim).map(|_| rng.normal()));

            let beta = config.beta_at(seen, data.len());
            seen += batch.len();
            // The whole step on rayon's threads: its many parallel products then split work
            // among warm threads rather than each waking them from this one.
            let step = rayon::scope(|_| {
                let step = backprop.step(&params, &pixels, &noise, beta);
                optimizer.step(&mut params, backprop.gradients());
                step
            });

            loss_sum += step.loss_sum;
            kl_sum += step.kl_sum;
            done += batch.len();
            let progress = TrainProgress::of_epoch(
                epoch,
                config,
                done,
                data.len(),
                (loss_sum, kl_sum),
                epoch_started,
            );
            if on_progress(&progress).is_break() {
                return Err(TrainError::Cancelled);
            }
        }
        tracing::info!(epoch, loss = loss_sum / done as f64, "epoch finished");
    }

    let tensors: HashMap<String, Tensor> = shapes
        .iter()
        .map(|(name, _)| name.clone())
        .zip(as_tensors(&params, &shapes)?)
        .collect();
    let model = MlpVae::from_tensors(spec.clone(), &tensors)?;

    let evaluation = match test {
        Some(test) => Some(evaluate(&Model::Mlp(model.clone()), test)?),
        None => None,
    };
    spec.training = Some(config.facts(data.len(), evaluation, started, command));
    Ok(MlpVae::from_tensors(spec, &tensors)?)
}

/// The plain parameter values as tensors of their shapes.
fn as_tensors(
    params: &[Vec<f32>],
    shapes: &[(String, Vec<usize>)],
) -> candle_core::Result<Vec<Tensor>> {
    params
        .iter()
        .zip(shapes)
        .map(|(values, (_, shape))| Tensor::from_slice(values, shape.as_slice(), &Device::Cpu))
        .collect()
}

fn check_config(data: &Dataset, config: &TrainConfig) -> Result<(), TrainError> {
    let problem = if data.is_empty() {
        Some(format!("dataset \"{}\" holds no image", data.name))
    } else if config.latent_dim == 0 {
        Some("latent dimension must be at least 1".into())
    } else if config.batch_size == 0 {
        Some("batch size must be at least 1".into())
    } else if config.epochs == 0 {
        Some("epochs must be at least 1".into())
    } else if !(config.learning_rate > 0.0 && config.learning_rate.is_finite()) {
        Some(format!(
            "learning rate {} must be positive",
            config.learning_rate
        ))
    } else if !(config.warmup_epochs >= 0.0 && config.warmup_epochs.is_finite()) {
        Some(format!(
            "warm-up {} must be zero or more epochs",
            config.warmup_epochs
        ))
    } else if !(config.beta >= 0.0 && config.beta.is_finite()) {
        Some(format!("beta {} must be zero or positive", config.beta))
    } else if config.hidden.contains(&0) || config.channels.contains(&0) {
        Some(format!(
            "hidden widths {:?} and channels {:?} must be positive",
            config.hidden, config.channels
        ))
    } else {
        None
    };
    match problem {
        Some(p) => Err(TrainError::Config(p)),
        None => Ok(()),
    }
}

/// Per-image loss terms of a batch, each `[n]`.
pub(crate) struct LossTerms {
    /// Binary cross-entropy summed over pixels.
    pub reconstruction: Tensor,
    /// KL(q(z|x) ‖ N(0, I)).
    pub kl: Tensor,
}

/// Binary cross-entropy (from logits, numerically stable) and KL for each image. With
/// `noise` the latent is sampled by the reparameterisation trick, without it z = µ.
pub(crate) fn batch_loss(
    model: &Model,
    images: &Tensor,
    noise: Option<&Tensor>,
) -> Result<LossTerms, TrainError> {
    let (mu, logvar) = model.encode(images)?;
    // Training builds VAEs only, which always have a log-variance head.
    let logvar = logvar.ok_or_else(|| TrainError::Config("the model has no logvar head".into()))?;
    let z = match noise {
        Some(noise) => (&mu + (noise * (&logvar * 0.5)?.exp()?)?)?,
        None => mu.clone(),
    };
    let logits = model.decode_logits(&z)?;

    // BCE(x, sigmoid(l)) = max(l, 0) − x·l + ln(1 + e^−|l|).
    let softplus_tail = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    let bce = ((logits.relu()? - (images * &logits)?)? + softplus_tail)?;
    let reconstruction = bce.sum(1)?;

    // KL(N(µ, σ²) ‖ N(0, 1)) = −½ Σ (1 + log σ² − µ² − σ²).
    let kl_terms = (((logvar.clone() + 1.0)? - mu.sqr()?)? - logvar.exp()?)?;
    let kl = (kl_terms.sum(1)? * -0.5)?;
    Ok(LossTerms { reconstruction, kl })
}

/// Mean per-image reconstruction (at z = µ) and KL of `model` on `data`.
pub fn evaluate(model: &Model, data: &Dataset) -> Result<Evaluation, TrainError> {
    let input_len = model.spec().input_len();
    let (mut reconstruction, mut kl) = (0.0, 0.0);
    for chunk in data.pixels.chunks(model.batch_size() * input_len) {
        let rows = chunk.len() / input_len;
        let images = Tensor::from_slice(chunk, (rows, input_len), &Device::Cpu)?;
        let terms = batch_loss(model, &images, None)?;
        reconstruction += f64::from(terms.reconstruction.sum_all()?.to_scalar::<f32>()?);
        kl += f64::from(terms.kl.sum_all()?.to_scalar::<f32>()?);
    }
    let n = data.len().max(1) as f64;
    Ok(Evaluation {
        reconstruction: reconstruction / n,
        kl: kl / n,
    })
}

/// PyTorch's default initialisation for linear layers: weights and biases uniform in
/// ±1/√fan_in, where fan_in is the weight's input width. `shapes` alternates weights and biases.
fn initial_weights(shapes: &[(String, Vec<usize>)], rng: &mut Rng) -> Vec<Vec<f32>> {
    let mut params = Vec::with_capacity(shapes.len());
    for pair in shapes.chunks(2) {
        let fan_in = pair[0].1.get(1).copied().unwrap_or(1) as f32;
        let bound = 1.0 / fan_in.sqrt();
        for (_, shape) in pair {
            let count = shape.iter().product();
            params.push((0..count).map(|_| rng.uniform_in(-bound, bound)).collect());
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two kinds of 6×6 images (a bar and a square) with noise, labelled 0 and 1.
    fn tiny_dataset(count: usize) -> Dataset {
        let mut rng = Rng::new(11);
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for i in 0..count {
            let label = (i % 2) as u32;
            for y in 0..6 {
                for x in 0..6 {
                    let on = if label == 0 {
                        x == 2 || x == 3
                    } else {
                        (1..5).contains(&x) && (1..5).contains(&y)
                    };
                    let base = if on { 0.9 } else { 0.05 };
                    pixels.push((base + 0.05 * rng.normal()).clamp(0.0, 1.0));
                }
            }
            labels.push(label);
        }
        Dataset {
            name: "tiny".into(),
            height: 6,
            width: 6,
            channels: 1,
            pixels,
            labels,
            class_names: vec!["bar".into(), "square".into()],
            notes: Vec::new(),
            factors: None,
        }
    }

    fn config() -> TrainConfig {
        TrainConfig {
            latent_dim: 2,
            hidden: vec![16],
            epochs: 8,
            batch_size: 16,
            learning_rate: 1e-2,
            seed: 5,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn loss_falls_on_a_small_synthetic_set() {
        let data = tiny_dataset(128);
        let mut first_epoch_loss = None;
        let mut last_loss = 0.0;
        let model = train(&data, Some(&data), &config(), "test", &mut |p| {
            if p.epoch == 1 && p.images_done == p.images_total {
                first_epoch_loss = Some(p.loss);
            }
            last_loss = p.loss;
            ControlFlow::Continue(())
        });
        assert!(model.is_ok());
        let first = first_epoch_loss.unwrap_or(0.0);
        assert!(
            last_loss < 0.8 * first,
            "loss went from {first} to {last_loss}"
        );
    }

    #[test]
    fn same_seed_gives_same_weights() {
        let data = tiny_dataset(64);
        let run = |seed| {
            let config = TrainConfig {
                seed,
                epochs: 2,
                ..config()
            };
            let model = train(&data, None, &config, "test", &mut |_| {
                ControlFlow::Continue(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
            model
                .named_tensors()
                .into_iter()
                .flat_map(|(_, t)| {
                    t.flatten_all()
                        .and_then(|t| t.to_vec1::<f32>())
                        .unwrap_or_default()
                })
                .collect::<Vec<f32>>()
        };
        let a = run(5);
        assert!(!a.is_empty());
        assert_eq!(a, run(5));
        assert_ne!(a, run(6));
    }

    /// Compares the hand-written gradient with candle's autograd on a batch of `n` images of
    /// `input` values (a third of them zero, like background pixels).
    fn check_gradients(hidden: Vec<usize>, input: usize, latent: usize, n: usize) {
        let spec = ModelSpec {
            kind: ModelKind::MlpVae,
            input_shape: [1, 1, input],
            hidden,
            channels: Vec::new(),
            latent_dim: latent,
            output_activation: OutputActivation::Sigmoid,
            dataset: String::new(),
            class_names: Vec::new(),
            training: None,
        };
        let shapes = spec.tensor_shapes();
        let mut rng = Rng::new(9);
        let params = initial_weights(&shapes, &mut rng);
        let pixels: Vec<f32> = (0..n * input)
            .map(|_| match rng.uniform() < 0.33 {
                true => 0.0,
                false => rng.uniform(),
            })
            .collect();
        let noise_values: Vec<f32> = (0..n * latent).map(|_| rng.normal()).collect();
        let images =
            Tensor::from_slice(&pixels, (n, input), &Device::Cpu).unwrap_or_else(|e| panic!("{e}"));
        let noise = Tensor::from_slice(&noise_values, (n, latent), &Device::Cpu)
            .unwrap_or_else(|e| panic!("{e}"));
        let beta = 2.5;

        let tensors = as_tensors(&params, &shapes).unwrap_or_else(|e| panic!("{e}"));
        let mut backprop = Backprop::new(&spec);
        let manual = backprop.step(&params, &pixels, &noise_values, beta);

        let vars: Vec<candle_core::Var> = tensors
            .iter()
            .map(|t| candle_core::Var::from_tensor(t).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let named: HashMap<String, Tensor> = shapes
            .iter()
            .zip(&vars)
            .map(|((name, _), var)| (name.clone(), var.as_tensor().clone()))
            .collect();
        let model =
            Model::Mlp(MlpVae::from_tensors(spec, &named).unwrap_or_else(|e| panic!("{e}")));
        let terms = batch_loss(&model, &images, Some(&noise)).unwrap_or_else(|e| panic!("{e}"));
        let loss = (&terms.reconstruction + (&terms.kl * beta).unwrap_or_else(|e| panic!("{e}")))
            .and_then(|l| l.mean_all())
            .unwrap_or_else(|e| panic!("{e}"));
        let expected_loss = f64::from(loss.to_scalar::<f32>().unwrap_or_default());
        assert!((manual.loss_sum / n as f64 - expected_loss).abs() < 1e-4 * expected_loss.abs());

        let grads = loss.backward().unwrap_or_else(|e| panic!("{e}"));
        for (((name, _), var), ours) in shapes.iter().zip(&vars).zip(backprop.gradients()) {
            let theirs: Vec<f32> = grads
                .get(var.as_tensor())
                .and_then(|g| g.flatten_all().ok())
                .and_then(|g| g.to_vec1().ok())
                .unwrap_or_else(|| panic!("no autograd gradient for {name}"));
            assert_eq!(ours.len(), theirs.len(), "{name}");
            for (a, b) in ours.iter().zip(&theirs) {
                assert!(
                    (a - b).abs() <= 1e-5 + 1e-4 * b.abs(),
                    "{name}: {ours:?} vs {theirs:?}"
                );
            }
        }
    }

    #[test]
    fn hand_written_gradients_match_candle_autograd() {
        check_gradients(vec![5], 6, 2, 4);
    }

    #[test]
    fn gradients_match_with_two_hidden_layers_and_with_none() {
        check_gradients(vec![5, 3], 6, 2, 4);
        check_gradients(vec![], 6, 2, 4);
    }

    #[test]
    fn gradients_match_at_sizes_that_take_the_simd_products() {
        // Widths and a batch that are whole numbers of 16-float vectors (48 is three vectors,
        // split over panels at AVX-512), next to a latent size that is not: the kernel's
        // whole-vector rows and its masked partial ones both run.
        check_gradients(vec![48, 32], 64, 3, 32);
    }

    #[test]
    fn cancelling_stops_training() {
        let data = tiny_dataset(64);
        let result = train(&data, None, &config(), "test", &mut |_| {
            ControlFlow::Break(())
        });
        assert!(matches!(result, Err(TrainError::Cancelled)));
    }

    #[test]
    fn zero_batch_size_is_refused() {
        let data = tiny_dataset(4);
        let config = TrainConfig {
            batch_size: 0,
            ..config()
        };
        let message = train(&data, None, &config, "test", &mut |_| {
            ControlFlow::Continue(())
        })
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("invalid training setting: batch size must be at least 1")
        );
    }
}
