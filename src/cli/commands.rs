//! The headless commands. Each one turns its flags into calls on the library layers and its
//! failures into one `anyhow` chain that names the file and the value.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};

use super::csv::{coords_to_csv, latents_to_csv, read_latents};
use super::progress::ProgressLine;
use super::{
    AnomalyArgs, ArithmeticArgs, AugmentArgs, Cli, Command, DecodeArgs, EncodeArgs, EvalArgs,
    InterpolateArgs, MethodArg, ProjectArgs, ProjectionMethod, TrainArgs, TraverseArgs, npy,
};
use crate::data::export::{png_bytes, write_gif, write_latents_csv, write_strip_png};
use crate::data::{Dataset, to_rgb8, upscale_rgb8};
use crate::files::write_atomically;
use crate::latent::{
    Mahalanobis, PathMethod, Score, ScoreTerms, add_scaled, anomaly_scores, attribute_vector,
    auroc, gaussian_around, path,
};
use crate::model::train::{TrainConfig, TrainProgress};
use crate::model::{Model, save_checkpoint};
use crate::{app, bundled, projection};

/// Runs the command the user asked for; no subcommand opens the app on the bundled model.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => app::run(&app::OpenRequest::default()),
        Some(Command::Open(args)) => app::run(&args.to_request()),
        Some(Command::Screenshot(args)) => {
            let startup = app::Startup {
                pick: args.pick,
                ends: args.ends,
                anomalies: args.anomalies,
                tsne: args.tsne,
            };
            app::screenshot(&args.open.to_request(), &args.out, args.size, startup)
        }
        Some(Command::Interpolate(args)) => interpolate(&args),
        Some(Command::Arithmetic(args)) => arithmetic(&args),
        Some(Command::Anomaly(args)) => anomaly(&args),
        Some(Command::Augment(args)) => augment(&args),
        Some(Command::Traverse(args)) => traverse(&args),
        Some(Command::Eval(args)) => eval(&args),
        Some(Command::Train(args)) => train(&args),
        Some(Command::Encode(args)) => encode(&args),
        Some(Command::Project(args)) => project(&args),
        Some(Command::Decode(args)) => decode(&args),
    }
}

/// The model at `path`, or the bundled one when `path` is `None`.
pub fn load_model(path: Option<&Path>) -> anyhow::Result<Model> {
    let loaded = bundled::load_model(path)?;
    tracing::debug!(
        kind = loaded.model.spec().kind.as_str(),
        latent_dim = loaded.model.latent_dim(),
        parameters = loaded.model.parameter_count(),
        format = %loaded.format,
        architecture = %loaded.architecture,
        "model loaded"
    );
    for note in &loaded.notes {
        tracing::info!("{note}");
    }
    Ok(loaded.model)
}

/// Latents decoded to display values, one image each.
fn decode_images(model: &Model, latents: &[Vec<f32>]) -> anyhow::Result<Vec<Vec<f32>>> {
    let flat: Vec<f32> = latents.iter().flatten().copied().collect();
    Ok(model.decode_for_display(&flat)?)
}

/// A dataset named on the command line: a path, or `sprites` for 10,000 generated sprites
/// (seed 1, so they differ from a training set generated with seed 0).
fn load_dataset_arg(path: &Path) -> anyhow::Result<Dataset> {
    if path == Path::new(crate::bundled::SPRITES) && !path.exists() {
        return Ok(crate::data::sprites::dataset(crate::bundled::SPRITES_COUNT, 1).0);
    }
    Ok(Dataset::load(path)?)
}

/// The dataset at `path`, or the bundled Fashion-MNIST test set when `path` is `None`.
pub fn load_dataset(path: Option<&Path>) -> anyhow::Result<Dataset> {
    Ok(bundled::load_dataset(path)?)
}

/// Fails with a message naming both sides when `data` cannot be fed to `model`, or when the
/// model has no encoder to feed it to.
fn check_compatible(model: &Model, data: &Dataset) -> anyhow::Result<()> {
    if !model.has_encoder() {
        bail!(
            "the model is a {} with no encoder, so it cannot encode dataset \"{}\"; give latents as comma-separated values instead",
            model.spec().kind.description(),
            data.name
        );
    }
    match model.spec().input_mismatch(data.image_shape()) {
        Some(problem) => bail!(
            "dataset \"{}\" does not fit the model: {problem}",
            data.name
        ),
        None => Ok(()),
    }
}

/// `train`: fits a VAE and writes its checkpoint atomically.
pub fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let mut data = if args.data == Path::new(crate::bundled::SPRITES) && !args.data.exists() {
        crate::data::sprites::dataset(args.sprites, args.seed).0
    } else {
        Dataset::load(&args.data)?
    };
    if let Some(limit) = args.limit {
        data = data.truncated(limit);
    }
    let test = args
        .test_data
        .as_deref()
        .map(load_dataset_arg)
        .transpose()?;
    if let Some(test) = &test
        && test.image_shape() != data.image_shape()
    {
        bail!(
            "test set \"{}\" has {:?} images but the training set \"{}\" has {:?}",
            test.name,
            test.image_shape(),
            data.name,
            data.image_shape()
        );
    }

    let conv = args.arch == super::ArchArg::Conv;
    let config = TrainConfig {
        latent_dim: args.latent_dim,
        hidden: args
            .hidden
            .clone()
            .unwrap_or_else(|| vec![if conv { 256 } else { 400 }]),
        channels: if conv {
            args.channels.clone()
        } else {
            Vec::new()
        },
        beta: args.beta,
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        seed: args.seed,
        warmup_epochs: args.warmup_epochs,
    };
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let command = format!("latent-explorer {command}");

    let mut bar = ProgressLine::default();
    let model = crate::model::train::train(&data, test.as_ref(), &config, &command, &mut |p| {
        draw_train_progress(&mut bar, p);
        ControlFlow::Continue(())
    })?;
    bar.finish();

    save_checkpoint(&model, &args.out)?;
    let facts = model.spec().training.clone().unwrap_or_default();
    let test_text = match (facts.test_reconstruction, facts.test_kl) {
        (Some(rec), Some(kl)) => format!(
            "; test set: reconstruction {rec:.2} nats, KL {kl:.2} nats, loss {:.2}",
            rec + args.beta * kl
        ),
        _ => String::new(),
    };
    println!(
        "wrote \"{}\" ({} parameters, {:.1} s){test_text}",
        args.out.display(),
        model.parameter_count(),
        facts.elapsed_secs
    );
    Ok(())
}

fn draw_train_progress(bar: &mut ProgressLine, p: &TrainProgress) {
    let text = format!(
        "epoch {}/{}  loss {:.2}  KL {:.2}  {:.0} images/s",
        p.epoch, p.epochs, p.loss, p.kl, p.images_per_sec
    );
    bar.draw(
        p.images_done,
        p.images_total,
        &text,
        p.images_done == p.images_total,
    );
}

/// `encode`: writes each image's posterior mean and label as CSV.
pub fn encode(args: &EncodeArgs) -> anyhow::Result<()> {
    let model = load_model(Some(&args.checkpoint))?;
    let data = Dataset::load(&args.data)?;
    check_compatible(&model, &data)?;

    let started = Instant::now();
    let mut bar = ProgressLine::default();
    let means = model
        .encode_means(&data.pixels, &mut |done| {
            bar.draw(
                done,
                data.len(),
                &format!("encoded {done}/{}", data.len()),
                false,
            );
            ControlFlow::Continue(())
        })?
        .context("encoding stopped before the end")?;
    bar.finish();

    let text = latents_to_csv(&data.labels, &means, model.latent_dim());
    write_atomically(&args.out, text.as_bytes())
        .with_context(|| format!("cannot write \"{}\"", args.out.display()))?;
    println!(
        "encoded {} images to {} dimensions in {:.3} s; wrote \"{}\"",
        data.len(),
        model.latent_dim(),
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

/// `project`: maps latents from a CSV to 2-D coordinates, and prints the time taken, the
/// final KL divergence (t-SNE) and the neighbourhood-preservation score, one `key value` line
/// each, so that speed can be compared at equal quality.
pub fn project(args: &ProjectArgs) -> anyhow::Result<()> {
    let table = read_latents(&args.input)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .with_context(|| format!("--threads {}", args.threads))?;
    pool.install(|| project_with(args, &table))
}

fn project_with(args: &ProjectArgs, table: &super::csv::LatentTable) -> anyhow::Result<()> {
    let context = || format!("latents file \"{}\"", args.input.display());
    let rows = table.index.len();
    let finite: Vec<usize> = (0..rows)
        .filter(|&r| {
            table.values[r * table.dim..(r + 1) * table.dim]
                .iter()
                .all(|v| v.is_finite())
        })
        .collect();
    let started = Instant::now();

    // Coordinates of every row (None for rows left out), and the KL divergence for t-SNE.
    let (coords, kl, name): (Vec<Option<[f64; 2]>>, Option<f64>, &str) = match args.method {
        ProjectionMethod::Pca => {
            let fitted = projection::fit_pca(&table.values, table.dim, args.components.max(2))
                .with_context(context)?;
            (fitted.coords.all_on(0, 1), None, "PCA")
        }
        ProjectionMethod::Tsne => {
            let points: Vec<f32> = finite
                .iter()
                .flat_map(|&r| {
                    table.values[r * table.dim..(r + 1) * table.dim]
                        .iter()
                        .copied()
                })
                .collect();
            let params = projection::TsneParams {
                perplexity: args.perplexity,
                iterations: args.iterations,
                learning_rate: args.learning_rate,
                seed: args.seed,
                threads: args.threads,
                ..projection::TsneParams::default()
            };
            let mut bar = ProgressLine::default();
            let mut tsne =
                projection::Tsne::new(&points, table.dim, &params, &mut |stage, done, total| {
                    bar.draw(done, total, stage, false);
                    ControlFlow::Continue(())
                })
                .with_context(context)?
                .context("t-SNE stopped before it started")?;
            while !tsne.is_done() {
                tsne.step(25);
                let text = format!("t-SNE iteration {}/{}", tsne.iteration(), args.iterations);
                bar.draw(tsne.iteration(), args.iterations, &text, tsne.is_done());
            }
            bar.finish();
            let mut coords = vec![None; rows];
            for (&row, &xy) in finite.iter().zip(tsne.coords()) {
                coords[row] = Some(xy);
            }
            (coords, Some(tsne.kl_divergence()), "t-SNE")
        }
    };
    let elapsed = started.elapsed().as_secs_f64();

    // Rows left out (NaN or infinite latents) are not written; the message counts them.
    let kept: Vec<(usize, u32, [f64; 2])> = table
        .index
        .iter()
        .zip(&table.label)
        .zip(&coords)
        .filter_map(|((&i, &l), c)| c.map(|c| (i, l, c)))
        .collect();
    let index: Vec<usize> = kept.iter().map(|k| k.0).collect();
    let label: Vec<u32> = kept.iter().map(|k| k.1).collect();
    let xy: Vec<[f64; 2]> = kept.iter().map(|k| k.2).collect();
    write_atomically(&args.out, coords_to_csv(&index, &label, &xy).as_bytes())
        .with_context(|| format!("cannot write \"{}\"", args.out.display()))?;

    let skipped = rows - xy.len();
    let skipped_text = match skipped {
        0 => String::new(),
        n => format!(" ({n} rows with NaN or infinite values left out)"),
    };
    println!(
        "projected {} points from {} dimensions by {name} in {:.1} ms{skipped_text}; wrote \"{}\"",
        xy.len(),
        table.dim,
        elapsed * 1000.0,
        args.out.display()
    );
    println!("time_secs {elapsed:.4}");
    if let Some(kl) = kl {
        println!("kl_divergence {kl:.6}");
    }
    if !args.no_score && xy.len() > 11 {
        // Exact neighbours on every point up to 10,000, on a seeded sample of 2,000 beyond.
        let points: Vec<f32> = finite
            .iter()
            .flat_map(|&r| {
                table.values[r * table.dim..(r + 1) * table.dim]
                    .iter()
                    .copied()
            })
            .collect();
        let sample = (xy.len() > 10_000).then_some(2000);
        let score = projection::neighbourhood_preservation(&points, table.dim, &xy, 10, sample, 0);
        println!("neighbourhood_preservation {score:.4}");
    }
    Ok(())
}

/// Parses a comma-separated latent vector of exactly `dim` finite values.
pub fn parse_latent(text: &str, dim: usize) -> anyhow::Result<Vec<f32>> {
    let values = text
        .split(',')
        .map(|part| {
            let part = part.trim();
            part.parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| format!("--z value {part:?} is not a finite number"))
        })
        .collect::<anyhow::Result<Vec<f32>>>()?;
    if values.len() != dim {
        bail!(
            "--z has {} values but the model's latent dimension is {dim}",
            values.len()
        );
    }
    Ok(values)
}

/// `decode`: one latent to a PNG image, or to its raw output values as `.npy` or `.csv`.
pub fn decode(args: &DecodeArgs) -> anyhow::Result<()> {
    let model = load_model(args.checkpoint.as_deref())?;
    let z = parse_latent(&args.z, model.latent_dim())?;
    let shape = model.spec().image_shape();

    let extension = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    let bytes = match extension.as_deref() {
        Some("npy") => {
            let raw = model.decode_batch(&z)?;
            npy::encode_f32(&raw, &[1, shape.channels, shape.height, shape.width])
        }
        Some("csv") => raw_csv(&model.decode_batch(&z)?, shape).into_bytes(),
        Some("png") => {
            let output = decode_images(&model, std::slice::from_ref(&z))?
                .pop()
                .unwrap_or_default();
            let scale = args.scale as usize;
            let rgb = upscale_rgb8(&to_rgb8(&output, shape), shape.width, shape.height, scale);
            png_bytes(shape.width * scale, shape.height * scale, rgb, &args.out)?
        }
        _ => bail!(
            "output \"{}\" must end in .png (an image), .npy or .csv (raw output values)",
            args.out.display()
        ),
    };
    write_atomically(&args.out, &bytes)
        .with_context(|| format!("cannot write \"{}\"", args.out.display()))?;
    println!("wrote \"{}\"", args.out.display());
    Ok(())
}

/// Raw output values as `channel,row,col,value` rows.
fn raw_csv(values: &[f32], shape: crate::data::ImageShape) -> String {
    let mut text = String::from("channel,row,col,value\n");
    let plane = shape.height * shape.width;
    for (i, v) in values.iter().enumerate() {
        let (c, rest) = (i / plane.max(1), i % plane.max(1));
        let (row, col) = (rest / shape.width.max(1), rest % shape.width.max(1));
        text.push_str(&format!("{c},{row},{col},{v}\n"));
    }
    text
}

/// A latent named on the command line: a dataset index (resolved through `encode`) or a
/// comma-separated vector. `flag` names the option in messages.
fn resolve_latent(
    text: &str,
    flag: &str,
    model: &Model,
    data: &mut Option<Dataset>,
    data_path: Option<&Path>,
) -> anyhow::Result<Vec<f32>> {
    let Ok(idx) = text.trim().parse::<usize>() else {
        return parse_latent(text, model.latent_dim()).with_context(|| format!("{flag} {text:?}"));
    };
    if data.is_none() {
        let loaded = load_dataset(data_path)?;
        check_compatible(model, &loaded)?;
        *data = Some(loaded);
    }
    let dataset = data.as_ref().context("no dataset")?;
    let image = dataset.image(idx).with_context(|| {
        format!(
            "{flag} {idx}: dataset \"{}\" has {} images",
            dataset.name,
            dataset.len()
        )
    })?;
    let mean = model
        .encode_means(image, &mut |_| ControlFlow::Continue(()))?
        .context("encoding stopped")?;
    Ok(mean)
}

/// `interpolate`: the path between two latents as a strip, a GIF or a CSV.
pub fn interpolate(args: &InterpolateArgs) -> anyhow::Result<()> {
    let model = load_model(args.checkpoint.as_deref())?;
    let mut data = None;
    let from = resolve_latent(
        &args.from,
        "--from",
        &model,
        &mut data,
        args.data.as_deref(),
    )?;
    let to = resolve_latent(&args.to, "--to", &model, &mut data, args.data.as_deref())?;
    let method = match args.method {
        MethodArg::Lerp => PathMethod::Linear,
        MethodArg::Slerp => PathMethod::Spherical,
    };
    let latents = path(&from, &to, args.steps as usize, method);
    let frames = decode_images(&model, &latents)?;
    let shape = model.spec().image_shape();
    let scale = args.scale as usize;

    let extension = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    match extension.as_deref() {
        Some("png") => write_strip_png(&args.out, &frames, shape, scale)?,
        Some("gif") => write_gif(&args.out, &frames, shape, scale, args.delay_ms)?,
        Some("csv") => write_latents_csv(&args.out, &latents)?,
        _ => bail!(
            "output \"{}\" must end in .png (strip), .gif (animation) or .csv (latents)",
            args.out.display()
        ),
    }
    println!(
        "wrote \"{}\" ({} frames, {})",
        args.out.display(),
        latents.len(),
        method.label()
    );
    Ok(())
}

/// A class given as a label number or a class name.
fn resolve_class(text: &str, flag: &str, data: &Dataset) -> anyhow::Result<u32> {
    let count = data.class_count() as u32;
    if let Ok(label) = text.trim().parse::<u32>() {
        if label < count {
            return Ok(label);
        }
        bail!(
            "{flag} {label}: dataset \"{}\" has classes 0 to {}",
            data.name,
            count.saturating_sub(1)
        );
    }
    (0..count)
        .find(|&c| data.class_name(c).eq_ignore_ascii_case(text.trim()))
        .with_context(|| {
            let names: Vec<String> = (0..count).map(|c| data.class_name(c)).collect();
            format!(
                "{flag} {text:?} is not a class of \"{}\" ({})",
                data.name,
                names.join(", ")
            )
        })
}

/// `arithmetic`: base + strength · (mean µ(to) − mean µ(from)), decoded.
pub fn arithmetic(args: &ArithmeticArgs) -> anyhow::Result<()> {
    let model = load_model(args.checkpoint.as_deref())?;
    let data = load_dataset(args.data.as_deref())?;
    check_compatible(&model, &data)?;
    let from = resolve_class(&args.from_class, "--from-class", &data)?;
    let to = resolve_class(&args.to_class, "--to-class", &data)?;
    if !args.strength.is_finite() {
        bail!("--strength {} is not a finite number", args.strength);
    }

    let means = model
        .encode_means(&data.pixels, &mut |_| ControlFlow::Continue(()))?
        .context("encoding stopped")?;
    let vector = attribute_vector(&means, &data.labels, model.latent_dim(), from, to)?;
    let mut cached = Some(data);
    let base = resolve_latent(
        &args.base,
        "--base",
        &model,
        &mut cached,
        args.data.as_deref(),
    )?;
    let shifted = add_scaled(&base, &vector, args.strength)?;
    let shape = model.spec().image_shape();

    let extension = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    let bytes = match extension.as_deref() {
        Some("npy") => {
            let raw = model.decode_batch(&shifted)?;
            npy::encode_f32(&raw, &[1, shape.channels, shape.height, shape.width])
        }
        Some("png") => {
            let output = decode_images(&model, std::slice::from_ref(&shifted))?
                .pop()
                .unwrap_or_default();
            let scale = args.scale as usize;
            let rgb = upscale_rgb8(&to_rgb8(&output, shape), shape.width, shape.height, scale);
            png_bytes(shape.width * scale, shape.height * scale, rgb, &args.out)?
        }
        _ => bail!("output \"{}\" must end in .png or .npy", args.out.display()),
    };
    write_atomically(&args.out, &bytes)
        .with_context(|| format!("cannot write \"{}\"", args.out.display()))?;
    let data = cached.as_ref().context("no dataset")?;
    println!(
        "wrote \"{}\": base + {} × ({} − {})",
        args.out.display(),
        args.strength,
        data.class_name(to),
        data.class_name(from)
    );
    Ok(())
}

/// A dataset for `anomaly`, converted to the model's input; `noise` makes uniform noise of that
/// shape. Returns the data and the conversion made, if any.
fn anomaly_dataset(
    path: Option<&Path>,
    model: &Model,
    limit: usize,
) -> anyhow::Result<(Dataset, Option<String>)> {
    let shape = model.spec().image_shape();
    if path == Some(Path::new("noise")) && !Path::new("noise").exists() {
        return Ok((Dataset::noise(limit.min(10_000), shape, 1), None));
    }
    let data = load_dataset(path)?.truncated(limit);
    Ok(data.converted_to(shape))
}

/// `anomaly`: AUROC of each score at telling `--ood` from `--data`.
pub fn anomaly(args: &AnomalyArgs) -> anyhow::Result<()> {
    let model = load_model(args.checkpoint.as_deref())?;
    if !model.has_encoder() {
        bail!(
            "anomaly scores need an encoder, and the model is a {}",
            model.spec().kind.description()
        );
    }
    let limit = args.limit.unwrap_or(usize::MAX);
    let (inside, inside_note) = anomaly_dataset(args.data.as_deref(), &model, limit)?;
    let (outside, outside_note) = anomaly_dataset(Some(&args.ood), &model, limit)?;
    let dim = model.latent_dim();

    let score = |data: &Dataset| -> anyhow::Result<crate::model::ImageScores> {
        model
            .score_images(&data.pixels, &mut |_| ControlFlow::Continue(()))?
            .context("scoring stopped")
    };
    let started = Instant::now();
    let inside_terms = score(&inside)?;
    let outside_terms = score(&outside)?;
    let density = Mahalanobis::fit(&inside_terms.means, dim).with_context(|| {
        format!(
            "dataset \"{}\" has too few finite latents to fit their density",
            inside.name
        )
    })?;
    let terms = |t: &crate::model::ImageScores| {
        let terms = ScoreTerms {
            means: &t.means,
            dim,
            squared_error: &t.squared_error,
            cross_entropy: &t.reconstruction,
            kl: &t.kl,
            complexity: &t.complexity,
        };
        anomaly_scores(terms, &density)
    };
    let (inside_scores, outside_scores) = (terms(&inside_terms), terms(&outside_terms));
    let results: Vec<(Score, f64)> = Score::ALL
        .iter()
        .filter_map(|&s| {
            let value = auroc(&inside_scores[s.index()], &outside_scores[s.index()])?;
            Some((s, value))
        })
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    if args.json {
        let auroc: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|(s, v)| (s.key().to_owned(), serde_json::json!(v)))
            .collect();
        let report = serde_json::json!({
            "in_distribution": { "name": inside.name, "images": inside.len(), "conversion": inside_note },
            "out_of_distribution": { "name": outside.name, "images": outside.len(), "conversion": outside_note },
            "auroc": auroc,
            "seconds": elapsed,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let describe = |d: &Dataset, note: &Option<String>| match note {
        Some(note) => format!("\"{}\" ({} images, converted: {note})", d.name, d.len()),
        None => format!("\"{}\" ({} images)", d.name, d.len()),
    };
    println!("in-distribution:     {}", describe(&inside, &inside_note));
    println!("out-of-distribution: {}", describe(&outside, &outside_note));
    for (score, value) in &results {
        println!("AUROC {:<28} {value:.4}", score.label());
    }
    println!("scored in {elapsed:.2} s");
    Ok(())
}

/// `augment`: K decoded samples from a Gaussian around a latent, written as new files.
pub fn augment(args: &AugmentArgs) -> anyhow::Result<()> {
    if !(args.sigma.is_finite() && args.sigma >= 0.0) {
        bail!(
            "--sigma {} must be a finite number of at least 0",
            args.sigma
        );
    }
    let model = load_model(args.checkpoint.as_deref())?;
    let mut data = None;
    let centre = resolve_latent(
        &args.around,
        "--around",
        &model,
        &mut data,
        args.data.as_deref(),
    )?;
    let mut rng = crate::rng::Rng::new(args.seed);
    let latents = gaussian_around(&centre, args.count as usize, args.sigma, &mut rng);
    let images = decode_images(&model, &latents)?;
    let written = crate::data::export::write_variations(
        &args.out,
        &images,
        &latents,
        model.spec().image_shape(),
        args.scale as usize,
    )?;
    let first = written
        .first()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    println!(
        "wrote {} images and their latents to \"{}\" (first: \"{first}\")",
        images.len(),
        args.out.display()
    );
    Ok(())
}

/// `traverse`: a grid with one row per latent dimension, each varied alone around a point.
pub fn traverse(args: &TraverseArgs) -> anyhow::Result<()> {
    if !(args.range.is_finite() && args.range > 0.0) {
        bail!("--range {} must be a positive number", args.range);
    }
    let model = load_model(args.checkpoint.as_deref())?;
    let mut data = None;
    let centre = match &args.around {
        Some(text) => resolve_latent(text, "--around", &model, &mut data, args.data.as_deref())?,
        None => vec![0.0; model.latent_dim()],
    };
    let dims: Vec<usize> = if args.sort_by_kl {
        if data.is_none() {
            let loaded = load_dataset(args.data.as_deref())?;
            check_compatible(&model, &loaded)?;
            data = Some(loaded);
        }
        let dataset = data.as_ref().context("no dataset")?;
        let units = crate::analysis::active_units(&model, &dataset.pixels, &mut |_| {
            ControlFlow::Continue(())
        })?
        .context("--sort-by-kl needs a VAE: a plain autoencoder or a generator has no KL")?;
        let order: Vec<usize> = units
            .by_kl()
            .into_iter()
            .filter(|&d| units.kl[d] >= 0.01)
            .collect();
        for &d in &order {
            println!("z{d}: KL {:.3} nats", units.kl[d]);
        }
        order
    } else {
        (0..model.latent_dim()).collect()
    };
    if dims.is_empty() {
        bail!("no dimension has a KL of 0.01 nats or more: the model's latents are all collapsed");
    }
    let latents =
        crate::analysis::traversal_latents(&centre, &dims, args.range, args.steps as usize);
    let images = decode_images(&model, &latents)?;
    crate::data::export::write_grid_png(
        &args.out,
        &images,
        dims.len(),
        model.spec().image_shape(),
        args.scale as usize,
    )?;
    println!(
        "wrote \"{}\": {} rows (dimensions) × {} columns, from −{r} to {r}",
        args.out.display(),
        dims.len(),
        args.steps,
        r = args.range
    );
    Ok(())
}

/// `eval`: the disentanglement metrics of a model on the sprites.
pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    if args.data != Path::new(crate::bundled::SPRITES) {
        bail!(
            "--data \"{}\": the metrics need a dataset with known factors, and only `sprites` has them",
            args.data.display()
        );
    }
    let model = load_model(Some(&args.checkpoint))?;
    let settings = crate::latent::metrics::MetricSettings {
        train_points: args.train_points,
        eval_points: args.eval_points,
        seed: args.seed,
        ..crate::latent::metrics::MetricSettings::default()
    };
    let started = Instant::now();
    let mut bar = ProgressLine::default();
    let report = crate::analysis::evaluate_sprites(&model, &settings, &mut |stage, done, total| {
        bar.draw(done, total, stage, false);
        ControlFlow::Continue(())
    })
    .map_err(|e| anyhow::anyhow!("checkpoint \"{}\": {e}", args.checkpoint.display()))?
    .context("evaluation stopped")?;
    bar.finish();

    // Each dimension's KL over 10,000 sprites, for the active units.
    let sprites = crate::data::sprites::dataset(10_000, args.seed.wrapping_add(1)).0;
    let units =
        crate::analysis::active_units(&model, &sprites.pixels, &mut |_| ControlFlow::Continue(()))?;
    let elapsed = started.elapsed().as_secs_f64();
    if args.json {
        let json = serde_json::json!({
            "checkpoint": args.checkpoint.display().to_string(),
            "mig": report.mig,
            "factor_vae": report.factor_vae,
            "beta_vae": report.beta_vae,
            "dci_disentanglement": report.dci_disentanglement,
            "dci_completeness": report.dci_completeness,
            "dci_informativeness": report.dci_informativeness,
            "kl_per_dimension": units.as_ref().map(|u| u.kl.clone()),
            "train_points": args.train_points,
            "eval_points": args.eval_points,
            "seed": args.seed,
            "seconds": elapsed,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!("MIG                        {:.4}", report.mig);
    println!("FactorVAE score            {:.4}", report.factor_vae);
    println!("beta-VAE score             {:.4}", report.beta_vae);
    println!(
        "DCI disentanglement        {:.4}",
        report.dci_disentanglement
    );
    println!("DCI completeness           {:.4}", report.dci_completeness);
    println!(
        "DCI informativeness (R²)   {:.4}",
        report.dci_informativeness
    );
    if let Some(units) = units {
        let active = units.active(0.01).len();
        let kl: Vec<String> = units.kl.iter().map(|k| format!("{k:.2}")).collect();
        println!(
            "KL per dimension (nats)    {} ({active} of {} above 0.01)",
            kl.join(" "),
            units.kl.len()
        );
    }
    println!("evaluated in {elapsed:.1} s");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latent_of_the_wrong_length_is_refused() {
        let message = parse_latent("1,2", 3).err().map(|e| format!("{e:#}"));
        assert_eq!(
            message.as_deref(),
            Some("--z has 2 values but the model's latent dimension is 3")
        );
    }

    #[test]
    fn a_non_number_in_the_latent_is_named() {
        let message = parse_latent("1,abc,3", 3).err().map(|e| format!("{e:#}"));
        assert_eq!(
            message.as_deref(),
            Some("--z value \"abc\" is not a finite number")
        );
        assert!(parse_latent("1,NaN,3", 3).is_err());
    }

    #[test]
    fn spaces_around_values_are_allowed() {
        assert_eq!(
            parse_latent(" 0.5, -1 ,2", 3).ok(),
            Some(vec![0.5, -1.0, 2.0])
        );
    }
}
