//! The command line: argument definitions and the headless commands.
//!
//! Each GUI capability has a subcommand here so it can be scripted, tested and benchmarked.
//! Errors are `anyhow` with context naming the file and the value; `main` prints them on one
//! line and exits non-zero.

mod commands;
mod csv;
mod npy;
mod progress;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use commands::{decode, encode, load_dataset, load_model, project, run, train};
pub use csv::{LatentTable, read_latents};

/// Sends `tracing` output to standard error; `RUST_LOG` sets the level (default `info` for this
/// crate, `error` for the libraries under it, whose warnings are about the desktop, not us).
pub fn init_logging() {
    use std::io::IsTerminal;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error,latent_explorer=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Explore the latent space of autoencoders, VAEs and GAN generators.
#[derive(Debug, Parser)]
#[command(name = "latent-explorer", version, about)]
pub struct Cli {
    /// What to do; without a subcommand the app opens on the bundled model.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the app window.
    Open(OpenArgs),
    /// Train a VAE and write it as a checkpoint.
    Train(TrainArgs),
    /// Encode a dataset to posterior means, one CSV row per image.
    Encode(EncodeArgs),
    /// Project latents from a CSV file to 2-D.
    Project(ProjectArgs),
    /// Decode one latent vector to an image (.png) or raw float32 values (.npy or .csv).
    Decode(DecodeArgs),
    /// Open the app window, wait for the map, save the window's pixels and exit.
    Screenshot(ScreenshotArgs),
    /// Decode the path between two latents as a PNG strip, an animated GIF or a CSV of z.
    Interpolate(InterpolateArgs),
    /// Add an attribute vector (mean µ of one class minus another's) to a latent and decode it.
    Arithmetic(ArithmeticArgs),
    /// Score every sample of two datasets and print how well each score separates them (AUROC).
    Anomaly(AnomalyArgs),
    /// Write K decoded variations around a latent, as PNG files with a CSV of their z.
    Augment(AugmentArgs),
    /// Decode a traversal grid: one row per latent dimension, varied alone around a point.
    Traverse(TraverseArgs),
    /// Measure disentanglement on the sprites: MIG, FactorVAE, β-VAE and DCI scores, and each
    /// dimension's KL.
    Eval(EvalArgs),
}

/// Options of `traverse`.
#[derive(Debug, Args)]
pub struct TraverseArgs {
    /// The model; the bundled Fashion-MNIST VAE when absent.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// The dataset that an index in --around refers to, and over which --sort-by-kl measures.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// The centre: a dataset index or a comma-separated z; the origin when absent.
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    pub around: Option<String>,
    /// Each row spans −RANGE … RANGE.
    #[arg(long, default_value_t = 3.0)]
    pub range: f32,
    /// Columns per row.
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(2..=64))]
    pub steps: u32,
    /// Order the rows by each dimension's KL over the dataset, most used first, and leave out
    /// those below 0.01 nats.
    #[arg(long)]
    pub sort_by_kl: bool,
    /// Integer upscaling of each cell, nearest neighbour.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
    /// The PNG to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Options of `eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The model, trained on 64×64 grey images.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// The dataset with known factors; only `sprites` has them.
    #[arg(long, value_name = "PATH", default_value = "sprites")]
    pub data: PathBuf,
    /// Points for MIG and the classifiers' training sets (disentanglement_lib: 10,000).
    #[arg(long, default_value_t = 10_000)]
    pub train_points: usize,
    /// Points for the classifiers' evaluation sets (disentanglement_lib: 5,000).
    #[arg(long, default_value_t = 5_000)]
    pub eval_points: usize,
    /// Seed of every sample the metrics draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `anomaly`.
#[derive(Debug, Args)]
pub struct AnomalyArgs {
    /// The model; the bundled Fashion-MNIST VAE when absent.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// In-distribution data (the bundled test set when absent); `sprites` for the generated set.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Out-of-distribution data: a path, `sprites`, or `noise` (uniform random pixels).
    #[arg(long, value_name = "PATH")]
    pub ood: PathBuf,
    /// Use at most N images of each set.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `augment`.
#[derive(Debug, Args)]
pub struct AugmentArgs {
    /// The model; the bundled Fashion-MNIST VAE when absent.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// The dataset that an index in --around refers to; the bundled test set when absent.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Centre: a dataset index or a comma-separated z.
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    pub around: String,
    /// Number of variations.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: u32,
    /// Standard deviation of the Gaussian around the centre.
    #[arg(long, default_value_t = 0.5)]
    pub sigma: f32,
    /// Folder to write into (created if needed); existing files are never overwritten.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Integer upscaling of each PNG, nearest neighbour.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
}

/// How to walk between two latents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Straight line.
    Lerp,
    /// Spherical interpolation, the better choice for Gaussian priors.
    Slerp,
}

/// Options of `interpolate`.
#[derive(Debug, Args)]
pub struct InterpolateArgs {
    /// The model; the bundled Fashion-MNIST VAE when absent.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// The dataset that indices in --from and --to refer to; the bundled test set when absent.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Start: a dataset index or a comma-separated z.
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    pub from: String,
    /// End: a dataset index or a comma-separated z.
    #[arg(long, value_name = "Y", allow_hyphen_values = true)]
    pub to: String,
    /// Frames, both ends included (3 to 32).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(3..=32))]
    pub steps: u32,
    /// Linear or spherical.
    #[arg(long, value_enum, default_value_t = MethodArg::Slerp)]
    pub method: MethodArg,
    /// Output: .png (strip), .gif (animation) or .csv (the frames' z).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Integer upscaling of each frame, nearest neighbour.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
    /// Milliseconds per frame in a GIF.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u32).range(10..=10_000))]
    pub delay_ms: u32,
}

/// Options of `arithmetic`.
#[derive(Debug, Args)]
pub struct ArithmeticArgs {
    /// The model; the bundled Fashion-MNIST VAE when absent.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// The labelled dataset whose class means make the vector; the bundled test set when absent.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// The latent to shift: a dataset index or a comma-separated z.
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    pub base: String,
    /// The class to move away from: a label number or a class name.
    #[arg(long, value_name = "A")]
    pub from_class: String,
    /// The class to move towards: a label number or a class name.
    #[arg(long, value_name = "B")]
    pub to_class: String,
    /// Multiplier of the vector.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    pub strength: f32,
    /// Output image (.png) or raw output values (.npy, or .csv as channel,row,col,value).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Integer upscaling of the PNG, nearest neighbour.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
}

/// What to open in the window.
#[derive(Debug, Clone, Default, Args)]
pub struct OpenArgs {
    /// A checkpoint (.safetensors); the bundled Fashion-MNIST VAE when absent.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// An IDX images file or a folder holding one; the bundled test set when absent.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
}

impl OpenArgs {
    /// The paths as the app takes them.
    pub fn to_request(&self) -> crate::app::OpenRequest {
        crate::app::OpenRequest {
            checkpoint: self.checkpoint.clone(),
            data: self.data.clone(),
        }
    }
}

/// Options of `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// IDX images file (labels beside it), a folder holding one, an image folder, or
    /// `sprites` for the generated sprites.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Held-out IDX images whose loss and KL are recorded in the checkpoint.
    #[arg(long, value_name = "PATH")]
    pub test_data: Option<PathBuf>,
    /// Where to write the checkpoint (.safetensors).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Size of z.
    #[arg(long, default_value_t = 16)]
    pub latent_dim: usize,
    /// The architecture: fully connected (`mlp`) or convolutional (`conv`, for images whose
    /// side is divisible by 2^layers, e.g. 64×64 sprites).
    #[arg(long, value_enum, default_value_t = ArchArg::Mlp)]
    pub arch: ArchArg,
    /// Fully connected hidden widths, comma-separated (default 400 for mlp, 256 for conv).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Conv: the encoder's channels, comma-separated; each layer halves the image side.
    #[arg(long, default_value = "32,32,64,64", value_delimiter = ',')]
    pub channels: Vec<usize>,
    /// With `--data sprites`: how many sprites to generate (seeded by --seed).
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    pub sprites: usize,
    /// Weight of the KL term (1 = plain VAE, larger = β-VAE).
    #[arg(long, default_value_t = 1.0)]
    pub beta: f64,
    /// Passes over the training set.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Epochs over which β ramps linearly from 0 to its value (KL warm-up; 0: none).
    #[arg(long, default_value_t = 0.0, value_name = "E")]
    pub warmup_epochs: f64,
    /// Images per optimiser step.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Adam's step size.
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Seed of every random choice; the same seed gives the same checkpoint.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train on the first N images only.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// The architectures `train` can fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchArg {
    /// Fully connected VAE.
    Mlp,
    /// Convolutional β-VAE (Burgess et al.'s 64×64 layout).
    Conv,
}

/// Options of `encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// The model.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// IDX images file or a folder holding one.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Output CSV: index, label, z0 … z{n-1}.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// The projection methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProjectionMethod {
    /// Principal component analysis (linear; new points project exactly).
    Pca,
    /// t-SNE (non-linear; shows clusters).
    Tsne,
}

/// Options of `project`.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The projection.
    #[arg(long, value_enum, default_value_t = ProjectionMethod::Pca)]
    pub method: ProjectionMethod,
    /// A CSV from `encode` (columns z0 … and optionally index and label).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Output CSV: index, label, x, y.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// PCA: components to fit (the output holds the first two).
    #[arg(long, default_value_t = 2, value_name = "K")]
    pub components: usize,
    /// t-SNE: the effective number of neighbours.
    #[arg(long, default_value_t = 30.0, value_name = "P")]
    pub perplexity: f64,
    /// t-SNE: iterations, the 250 of early exaggeration included.
    #[arg(long, default_value_t = 750, value_name = "N")]
    pub iterations: usize,
    /// t-SNE: step size; "auto" when absent (N/12 during early exaggeration, then N).
    #[arg(long, value_name = "RATE")]
    pub learning_rate: Option<f64>,
    /// t-SNE: the seed of its initial jitter; the same seed gives the same coordinates.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0, value_name = "T")]
    pub threads: usize,
    /// Skip the neighbourhood-preservation score (costly for high-dimensional inputs).
    #[arg(long)]
    pub no_score: bool,
}

/// Options of `decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The model; the bundled Fashion-MNIST VAE when absent.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// The latent vector, comma-separated (quote it if it starts with a minus sign).
    #[arg(long, value_name = "Z", allow_hyphen_values = true)]
    pub z: String,
    /// Output file: .png for an image, .npy for the raw float32 values `[1, c, h, w]`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Integer upscaling of the PNG, nearest neighbour.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
}

/// Options of `screenshot`.
#[derive(Debug, Args)]
pub struct ScreenshotArgs {
    /// What to open.
    #[command(flatten)]
    pub open: OpenArgs,
    /// Where to write the PNG.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Pick this dataset sample once the map is ready, as a click on the map would.
    #[arg(long, value_name = "INDEX")]
    pub pick: Option<usize>,
    /// Interpolate between these two dataset samples once the map is ready.
    #[arg(long, value_name = "A,B", value_parser = parse_pair)]
    pub ends: Option<(usize, usize)>,
    /// Score the dataset, colour the map by reconstruction error and show the anomaly tool.
    #[arg(long)]
    pub anomalies: bool,
    /// Show the map as t-SNE, and wait until it has finished.
    #[arg(long)]
    pub tsne: bool,
    /// Window size as WIDTHxHEIGHT.
    #[arg(long, default_value = "1400x860", value_parser = parse_size)]
    pub size: (u32, u32),
}

fn parse_pair(text: &str) -> Result<(usize, usize), String> {
    text.split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .ok_or_else(|| format!("{text:?} is not two dataset indices such as 3,17"))
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let parsed = text
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .filter(|&(w, h): &(u32, u32)| (200..=8192).contains(&w) && (200..=8192).contains(&h));
    parsed.ok_or_else(|| format!("{text:?} is not WIDTHxHEIGHT with sides from 200 to 8192"))
}
