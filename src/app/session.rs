//! What the user has open: a model, a dataset, and where they stand in latent space.
//!
//! Plain state with no drawing; [`super::ExplorerApp`] changes it only by applying commands.

use std::sync::Arc;
use std::time::Instant;

use crate::data::Dataset;
use crate::latent::{Rng, sample_prior};
use crate::model::{ArchitectureSource, FileFormat, LoadedModel, Model, PointDecoder};

/// How the open model was read, for the Model panel.
#[derive(Debug, Clone)]
pub struct ModelSource {
    /// The file, or the bundled model's place in the source tree.
    pub path: std::path::PathBuf,
    /// The container format.
    pub format: FileFormat,
    /// Where the architecture came from.
    pub architecture: ArchitectureSource,
    /// The weights' element types as stored.
    pub stored_dtypes: Vec<String>,
    /// Conversions and things passed over.
    pub notes: Vec<String>,
}

/// A loaded model with the dataset it explores.
pub struct Session {
    /// The network, for batch work on background threads.
    pub model: Arc<Model>,
    /// The fastest one-latent decoder, for the per-frame slider path.
    pub decoder: PointDecoder,
    /// Where the model came from, shown to the user.
    pub model_name: String,
    /// How the model was read.
    pub source: ModelSource,
    /// The dataset as the model sees it: converted to its input, or, once a generator's map
    /// is ready, its samples from the prior.
    pub dataset: Arc<Dataset>,
    /// The dataset as it was loaded, kept for pairing with the next model.
    pub raw_dataset: Arc<Dataset>,
    /// What was done to the dataset's images to fit the model, if anything.
    pub conversion: Option<String>,
}

impl Session {
    /// Pairs a model with a dataset, converting the images to the model's input when they
    /// differ in size or channels.
    pub fn new(
        model: Arc<Model>,
        source: ModelSource,
        model_name: String,
        raw_dataset: Arc<Dataset>,
    ) -> Result<Self, String> {
        let shape = model.spec().image_shape();
        let (dataset, conversion) = if model.has_encoder() && raw_dataset.image_shape() != shape {
            let (converted, note) = raw_dataset.as_ref().clone().converted_to(shape);
            (Arc::new(converted), note)
        } else {
            (raw_dataset.clone(), None)
        };
        let decoder = PointDecoder::new(&model).map_err(|e| e.to_string())?;
        Ok(Self {
            model,
            decoder,
            model_name,
            source,
            dataset,
            raw_dataset,
            conversion,
        })
    }

    /// Pairs a freshly loaded model with a dataset.
    pub fn from_loaded(
        loaded: LoadedModel,
        model_name: String,
        raw_dataset: Arc<Dataset>,
    ) -> Result<Self, String> {
        let source = ModelSource {
            path: loaded.path,
            format: loaded.format,
            architecture: loaded.architecture,
            stored_dtypes: loaded.stored_dtypes,
            notes: loaded.notes,
        };
        Self::new(Arc::new(loaded.model), source, model_name, raw_dataset)
    }

    /// Size of z.
    pub fn latent_dim(&self) -> usize {
        self.decoder.latent_dim()
    }

    /// Dataset sample `idx` encoded to µ and decoded again (empty past the end).
    pub fn decoder_reconstruction(&self, idx: usize) -> Vec<f32> {
        let Some(image) = self.dataset.image(idx) else {
            return Vec::new();
        };
        match self
            .model
            .encode_means(image, &mut |_| std::ops::ControlFlow::Continue(()))
        {
            Ok(Some(mean)) => self.decoder.decode(&mean),
            _ => Vec::new(),
        }
    }
}

/// The current point in latent space and its decoded image.
#[derive(Debug, Clone)]
pub struct LatentPoint {
    /// The latent vector the sliders show.
    pub z: Vec<f32>,
    /// The dataset sample whose µ this is, until a slider moves it away.
    pub sample: Option<usize>,
    /// An offset added to `z` before decoding (an attribute vector times its strength); zero
    /// when none is applied.
    pub shift: Vec<f32>,
    /// The decoder's output for `z + shift`, `[c, h, w]` values.
    pub decoded: Vec<f32>,
    /// Wall time of the last decode.
    pub decode_micros: f64,
    /// Bumped whenever `decoded` changes, so textures know to upload again.
    pub version: u64,
}

impl LatentPoint {
    /// The origin of a `dim`-dimensional space, decoded.
    pub fn origin(decoder: &PointDecoder) -> Self {
        let mut point = Self {
            z: vec![0.0; decoder.latent_dim()],
            sample: None,
            shift: vec![0.0; decoder.latent_dim()],
            decoded: Vec::new(),
            decode_micros: 0.0,
            version: 0,
        };
        point.decode(decoder);
        point
    }

    /// `z + shift`: what the preview shows and the map marks.
    pub fn effective(&self) -> Vec<f32> {
        self.z.iter().zip(&self.shift).map(|(z, s)| z + s).collect()
    }

    /// True when an offset is applied on top of `z`.
    pub fn is_shifted(&self) -> bool {
        self.shift.iter().any(|&s| s != 0.0)
    }

    /// Sets the offset added before decoding (ignored when its length is wrong or a value is
    /// not finite).
    pub fn set_shift(&mut self, shift: &[f32], decoder: &PointDecoder) {
        if shift.len() == self.z.len() && shift.iter().all(|v| v.is_finite()) {
            self.shift.copy_from_slice(shift);
            self.decode(decoder);
        }
    }

    /// Makes the offset part of `z` and clears it.
    pub fn apply_shift(&mut self, decoder: &PointDecoder) {
        if self.is_shifted() {
            self.z = self.effective();
            self.shift.iter_mut().for_each(|s| *s = 0.0);
            self.sample = None;
            self.decode(decoder);
        }
    }

    /// Decodes `z + shift` again and records how long it took.
    pub fn decode(&mut self, decoder: &PointDecoder) {
        let started = Instant::now();
        let effective = self.effective();
        decoder.decode_into(&effective, &mut self.decoded);
        self.decode_micros = started.elapsed().as_secs_f64() * 1e6;
        self.version += 1;
    }

    /// Sets one dimension; the point no longer stands for a dataset sample.
    pub fn set(&mut self, dim: usize, value: f32, decoder: &PointDecoder) {
        if let Some(slot) = self.z.get_mut(dim)
            && value.is_finite()
        {
            *slot = value;
            self.sample = None;
            self.decode(decoder);
        }
    }

    /// Replaces the whole vector (ignored when its length is wrong or a value is not finite).
    pub fn set_all(&mut self, z: &[f32], sample: Option<usize>, decoder: &PointDecoder) {
        if z.len() == self.z.len() && z.iter().all(|v| v.is_finite()) {
            self.z.copy_from_slice(z);
            self.sample = sample;
            self.decode(decoder);
        }
    }

    /// A fresh sample from the prior, clamped to `±limit`.
    pub fn randomize(&mut self, rng: &mut Rng, limit: f32, decoder: &PointDecoder) {
        let z = sample_prior(rng, self.z.len(), limit);
        self.set_all(&z, None, decoder);
    }
}
