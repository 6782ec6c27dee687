//! Speed of the core loop, on the bundled model and dataset.
//!
//! `cargo bench --bench core_loop` prints one line per measurement with its median; the
//! targets come from the issue tracker and PyTorch's figures on the same machine
//! (`scripts/bench-vs-pytorch.sh` runs both sides and prints the ratios).

use std::hint::black_box;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use latent_explorer::app::{ExplorerApp, OpenRequest, Settings, open_session};
use latent_explorer::bundled;
use latent_explorer::model::train::{TrainConfig, train};
use latent_explorer::model::{FastDecoder, Model};
use latent_explorer::projection::fit_pca;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Median seconds of `f` over `runs` timed calls, after `warmup` untimed ones.
fn time(warmup: usize, runs: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let samples = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64()
        })
        .collect();
    median(samples)
}

fn report(name: &str, value: f64, unit: &str, target: &str) {
    println!("{name:<44} {value:>12.3} {unit:<10} (target {target})");
}

fn main() -> anyhow::Result<()> {
    let model = bundled::model()?.model;
    let Model::Mlp(mlp) = &model else {
        anyhow::bail!("the bundled model is not an MLP");
    };
    let data = bundled::dataset()?;
    let dim = model.latent_dim();
    let z: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.7).sin()).collect();
    println!(
        "model: {} → {:?} → {} (bundled), dataset: {} images",
        dim,
        model.spec().hidden,
        model.spec().input_len(),
        data.len()
    );

    // The slider path: one latent, decoded on the UI thread.
    let fast = FastDecoder::from_model(mlp)?;
    let mut out = Vec::new();
    let secs = time(1000, 20_000, || fast.decode_into(black_box(&z), &mut out));
    report(
        "decode 1 latent (FastDecoder)",
        secs * 1e6,
        "µs",
        "≤ PyTorch; the issue quotes 96 µs",
    );
    let secs = time(100, 2000, || {
        black_box(model.decode_batch(black_box(&z)).ok());
    });
    report(
        "decode 1 latent (candle)",
        secs * 1e6,
        "µs",
        "for comparison",
    );

    // Encoding the whole dataset for the map (21 runs: one takes about 20 ms, and fewer gave
    // medians that moved by 10 % on this shared machine).
    let secs = time(3, 21, || {
        black_box(
            model
                .encode_means(&data.pixels, &mut |_| ControlFlow::Continue(()))
                .ok(),
        );
    });
    report(
        "encode 10,000 images",
        data.len() as f64 / secs,
        "images/s",
        "≥ PyTorch; the issue quotes 155,000",
    );
    // The same through candle's matrix products, as the map encodes where FastEncoder does
    // not beat them (no AVX-512).
    let images = candle_core::Tensor::from_slice(
        &data.pixels,
        (data.len(), model.spec().input_len()),
        &candle_core::Device::Cpu,
    )?;
    let secs = time(1, 7, || {
        black_box(model.encode(&images).ok());
    });
    report(
        "encode 10,000 images (candle)",
        data.len() as f64 / secs,
        "images/s",
        "for comparison",
    );

    // PCA of the dataset's latents.
    let means = model
        .encode_means(&data.pixels, &mut |_| ControlFlow::Continue(()))?
        .unwrap_or_default();
    let secs = time(2, 15, || {
        black_box(fit_pca(&means, dim, 2).ok());
    });
    report("PCA of 10,000 latents", secs * 1000.0, "ms", "≤ 50 ms");

    // Training throughput at batch 128 (one epoch over 12,800 images, after a warm-up epoch).
    let small = data.clone().truncated(12_800);
    let config = TrainConfig {
        latent_dim: 20,
        epochs: 2,
        ..TrainConfig::default()
    };
    let mut last_rate = 0.0;
    train(&small, None, &config, "bench", &mut |p| {
        if p.epoch == 2 {
            last_rate = p.images_per_sec;
        }
        ControlFlow::Continue(())
    })?;
    report(
        "train 784→400→20 VAE, batch 128",
        last_rate,
        "images/s",
        "≥ PyTorch; the issue quotes 8,900",
    );

    // Start-up: load the bundled model and dataset and draw the first frame.
    let started = Instant::now();
    let session = open_session(&OpenRequest::default())?;
    let mut app = ExplorerApp::new(session, Settings::default());
    let ctx = egui::Context::default();
    let input = |pointer: Option<egui::Pos2>| egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1400.0, 860.0),
        )),
        events: pointer.map(egui::Event::PointerMoved).into_iter().collect(),
        ..Default::default()
    };
    let output = ctx.run_ui(input(None), |ui| app.frame_ui(ui));
    let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
    report(
        "start-up to first frame (no GPU upload)",
        started.elapsed().as_secs_f64() * 1000.0,
        "ms",
        "≤ 2,000 ms",
    );

    // A frame of the UI with the 10,000-point map, the pointer moving over it.
    let deadline = Instant::now() + Duration::from_secs(120);
    while app.is_building_map() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        let output = ctx.run_ui(input(None), |ui| app.frame_ui(ui));
        let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
    }
    let mut frame = 0usize;
    let secs = time(10, 200, || {
        frame += 1;
        let x = 500.0 + (frame % 300) as f32;
        let output = ctx.run_ui(input(Some(egui::pos2(x, 400.0))), |ui| app.frame_ui(ui));
        black_box(ctx.tessellate(output.shapes, output.pixels_per_point));
    });
    let output = ctx.run_ui(input(Some(egui::pos2(700.0, 400.0))), |ui| app.frame_ui(ui));
    let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
    let vertices: usize = primitives
        .iter()
        .map(|p| match &p.primitive {
            egui::epaint::Primitive::Mesh(mesh) => mesh.vertices.len(),
            egui::epaint::Primitive::Callback(_) => 0,
        })
        .sum();
    println!(
        "(last frame: {} primitives, {vertices} vertices)",
        primitives.len()
    );
    report(
        &format!(
            "UI frame, {} map points (layout+tessellate)",
            app.map_point_count()
        ),
        secs * 1000.0,
        "ms",
        "≤ 16 ms",
    );
    Ok(())
}
