//! Training a convolutional (β-)VAE with candle's autograd and Adam.
//!
//! Same loss as the fully connected trainer: binary cross-entropy summed over pixels plus
//! β·KL, averaged over the batch. The fully connected trainer has a hand-written gradient
//! (`backprop.rs`); here the convolutions' gradients come from candle's autograd, and the
//! optimiser is candle-nn's AdamW with no weight decay, which is Adam. Every random choice
//! (initial weights, batch order, the reparameterisation noise) comes from one seeded [`Rng`].

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};

use super::network::Model;
use super::spec::{ModelKind, ModelSpec, OutputActivation};
use super::train::{TrainConfig, TrainError, TrainProgress, batch_loss, evaluate};
use crate::data::Dataset;
use crate::latent::Rng;

/// PyTorch's default initialisation: every weight and bias uniform in ±1/√fan_in, where
/// fan_in is a linear layer's input width, a convolution's `in · k · k`, and (as PyTorch
/// computes it from the weight's second axis) a transposed convolution's `out · k · k`.
fn initial_value(shape: &[usize], fan_in_of_weight: usize, rng: &mut Rng) -> Vec<f32> {
    let bound = 1.0 / (fan_in_of_weight.max(1) as f32).sqrt();
    let count: usize = shape.iter().product();
    (0..count).map(|_| rng.uniform_in(-bound, bound)).collect()
}

/// The fan-in of a weight of `shape`: its second axis times its kernel size.
fn fan_in(shape: &[usize]) -> usize {
    shape.iter().skip(1).product()
}

/// Trains a new convolutional VAE on `data`, whose images must be square with a side divisible
/// by 2^layers.
pub fn train_conv(
    data: &Dataset,
    test: Option<&Dataset>,
    config: &TrainConfig,
    command: &str,
    on_progress: &mut dyn FnMut(&TrainProgress) -> ControlFlow<()>,
) -> Result<Model, TrainError> {
    let started = Instant::now();
    let mut rng = Rng::new(config.seed);
    let mut spec = ModelSpec {
        kind: ModelKind::ConvVae,
        input_shape: [data.channels, data.height, data.width],
        hidden: config.hidden.clone(),
        channels: config.channels.clone(),
        latent_dim: config.latent_dim,
        output_activation: OutputActivation::Sigmoid,
        dataset: data.name.clone(),
        class_names: data.class_names.clone(),
        training: None,
    };
    if let Some(problem) = spec.problem() {
        return Err(TrainError::Config(problem.to_string()));
    }

    // Parameters as candle variables, in spec order; the model's layers share their storage.
    let shapes = spec.tensor_shapes();
    let mut vars = Vec::with_capacity(shapes.len());
    let mut weight_fan_in = 1;
    for (name, shape) in &shapes {
        if name.ends_with(".weight") {
            weight_fan_in = fan_in(shape);
        }
        let values = initial_value(shape, weight_fan_in, &mut rng);
        let tensor = Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?;
        vars.push(Var::from_tensor(&tensor)?);
    }
    let named: HashMap<String, Tensor> = shapes
        .iter()
        .zip(&vars)
        .map(|((name, _), var)| (name.clone(), var.as_tensor().clone()))
        .collect();
    let model = Model::from_tensors(spec.clone(), &named)?;
    let params = ParamsAdamW {
        lr: config.learning_rate,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut optimizer = AdamW::new(vars.clone(), params)?;

    let input_len = spec.input_len();
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut seen = 0;
    for epoch in 1..=config.epochs {
        rng.shuffle(&mut order);
        let epoch_started = Instant::now();
        let (mut loss_sum, mut kl_sum, mut done) = (0.0, 0.0, 0);

        for batch in order.chunks(config.batch_size) {
            let mut pixels = Vec::with_capacity(batch.len() * input_len);
            for &idx in batch {
                pixels.extend_from_slice(data.image(idx).unwrap_or_default());
            }
            let images = Tensor::from_vec(pixels, (batch.len(), input_len), &Device::Cpu)?;
            let noise: Vec<f32> = (0..batch.len() * config.latent_dim)
                .map(|_| rng.normal())
                .collect();
            let noise = Tensor::from_vec(noise, (batch.len(), config.latent_dim), &Device::Cpu)?;

            let terms = batch_loss(&model, &images, Some(&noise))?;
            let beta = config.beta_at(seen, data.len());
            seen += batch.len();
            let per_image = (&terms.reconstruction + (&terms.kl * beta)?)?;
            let loss = per_image.mean_all()?;
            optimizer.backward_step(&loss)?;

            loss_sum += f64::from(per_image.sum_all()?.to_scalar::<f32>()?);
            kl_sum += f64::from(terms.kl.sum_all()?.to_scalar::<f32>()?);
            done += batch.len();
            let progress = TrainProgress::of_epoch(
                epoch,
                config,
                done,
                data.len(),
                (loss_sum, kl_sum),
                epoch_started,
            );
            if !(progress.loss.is_finite()) {
                return Err(TrainError::Config(format!(
                    "the loss became {} in epoch {epoch}: lower the learning rate ({})",
                    progress.loss, config.learning_rate
                )));
            }
            if on_progress(&progress).is_break() {
                return Err(TrainError::Cancelled);
            }
        }
        tracing::info!(epoch, loss = loss_sum / done as f64, "epoch finished");
    }

    // Detach the trained values from the optimiser's variables.
    let trained: HashMap<String, Tensor> = shapes
        .iter()
        .zip(&vars)
        .map(|((name, _), var)| Ok((name.clone(), var.as_tensor().detach().copy()?)))
        .collect::<Result<_, TrainError>>()?;
    let model = Model::from_tensors(spec.clone(), &trained)?;
    let evaluation = match test {
        Some(test) => Some(evaluate(&model, test)?),
        None => None,
    };
    spec.training = Some(config.facts(data.len(), evaluation, started, command));
    Ok(Model::from_tensors(spec, &trained)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 16×16 images of a bright square at one of four places.
    fn squares(count: usize) -> Dataset {
        let mut pixels = Vec::with_capacity(count * 256);
        let mut labels = Vec::with_capacity(count);
        for i in 0..count {
            let place = i % 4;
            let (r0, c0) = (2 + 8 * (place / 2), 2 + 8 * (place % 2));
            for r in 0..16 {
                for c in 0..16 {
                    let inside = (r0..r0 + 4).contains(&r) && (c0..c0 + 4).contains(&c);
                    pixels.push(if inside { 1.0 } else { 0.0 });
                }
            }
            labels.push(place as u32);
        }
        Dataset {
            name: "squares".into(),
            height: 16,
            width: 16,
            channels: 1,
            pixels,
            labels,
            class_names: Vec::new(),
            notes: Vec::new(),
            factors: None,
        }
    }

    fn config(epochs: usize) -> TrainConfig {
        TrainConfig {
            latent_dim: 2,
            hidden: vec![8],
            channels: vec![4, 8],
            epochs,
            batch_size: 8,
            learning_rate: 3e-3,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn the_conv_loss_falls_and_the_same_seed_gives_the_same_weights() {
        let data = squares(64);
        let mut losses = Vec::new();
        let model = train_conv(&data, None, &config(6), "test", &mut |p| {
            if p.images_done == p.images_total {
                losses.push(p.loss);
            }
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(losses.last() < losses.first(), "{losses:?}");
        assert_eq!(model.spec().kind, ModelKind::ConvVae);

        let again = train_conv(&data, None, &config(6), "test", &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let values = |m: &Model| -> Vec<f32> {
            m.named_tensors()
                .iter()
                .flat_map(|(_, t)| {
                    t.flatten_all()
                        .and_then(|t| t.to_vec1::<f32>())
                        .unwrap_or_default()
                })
                .collect()
        };
        assert_eq!(values(&model), values(&again));
    }

    #[test]
    fn an_image_side_the_convolutions_cannot_halve_is_refused() {
        let mut data = squares(8);
        data.height = 15;
        let result = train_conv(&data, None, &config(1), "test", &mut |_| {
            ControlFlow::Continue(())
        });
        let message = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("need a height and width divisible by 4"),
            "{message}"
        );
    }
}
