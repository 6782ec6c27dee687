//! The real binary, run as a user would run it.

use std::path::Path;
use std::process::{Command, Output};

fn latent_explorer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latent-explorer"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the binary: {e}"))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn path_arg(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 temp path"))
}

#[test]
fn decode_writes_a_png_of_the_expected_size_that_is_not_constant() {
    let dir = temp_dir();
    let out = dir.path().join("img.png");
    let z = "0.5,-1,0.2,1.5,0,0,0,0,-0.3,0.8,0,0,1,-2,0,0.1";
    let output = latent_explorer(&["decode", "--z", z, "--out", path_arg(&out), "--scale", "4"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let image = image::open(&out)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_luma8();
    assert_eq!(image.dimensions(), (112, 112));
    let (min, max) = image
        .pixels()
        .fold((255, 0), |(lo, hi), p| (lo.min(p[0]), hi.max(p[0])));
    assert!(max - min > 100, "pixels only span {min}..{max}");
}

#[test]
fn decode_to_npy_writes_raw_float32_values() {
    let dir = temp_dir();
    let out = dir.path().join("x.npy");
    let z = vec!["0"; 16].join(",");
    let output = latent_explorer(&["decode", "--z", &z, "--out", path_arg(&out)]);
    assert!(output.status.success(), "{}", stderr(&output));

    let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("{e}"));
    assert!(bytes.starts_with(b"\x93NUMPY\x01\x00"));
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = String::from_utf8_lossy(&bytes[10..10 + header_len]);
    assert!(header.contains("'shape': (1, 1, 28, 28)"), "{header}");
    let values: Vec<f32> = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(values.len(), 784);
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn a_corrupt_checkpoint_gives_a_clear_message_and_a_failure_exit() {
    let dir = temp_dir();
    let bad = dir.path().join("broken.safetensors");
    std::fs::write(&bad, [0xffu8; 64]).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("img.png");
    let output = latent_explorer(&[
        "decode",
        "--checkpoint",
        path_arg(&bad),
        "--z",
        "0",
        "--out",
        path_arg(&out),
    ]);

    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with(&format!(
            "error: checkpoint \"{}\": not a valid safetensors file",
            bad.display()
        )),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
    assert!(!out.exists());
}

#[test]
fn a_latent_of_the_wrong_length_is_explained() {
    let dir = temp_dir();
    let out = dir.path().join("img.png");
    let output = latent_explorer(&["decode", "--z", "1,2,3", "--out", path_arg(&out)]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).trim_end(),
        "error: --z has 3 values but the model's latent dimension is 16"
    );
}

#[test]
fn a_wrong_flag_is_a_usage_error() {
    let output = latent_explorer(&["decode", "--zz", "1"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("unexpected argument '--zz'"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn a_missing_dataset_names_the_path() {
    let dir = temp_dir();
    let out = dir.path().join("z.csv");
    let output = latent_explorer(&[
        "encode",
        "--checkpoint",
        latent_explorer::bundled::MODEL_PATH,
        "--data",
        "/no/such/t10k-images-idx3-ubyte.gz",
        "--out",
        path_arg(&out),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.starts_with("error: IDX file \"/no/such/t10k-images-idx3-ubyte.gz\": "),
        "{message}"
    );
}

#[test]
fn encode_then_project_writes_one_row_per_image() {
    let dir = temp_dir();
    let latents = dir.path().join("latents.csv");
    let coords = dir.path().join("coords.csv");
    let output = latent_explorer(&[
        "encode",
        "--checkpoint",
        latent_explorer::bundled::MODEL_PATH,
        "--data",
        latent_explorer::bundled::DATASET_PATH,
        "--out",
        path_arg(&latents),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&latents).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text.lines().count(), 10_001);
    assert!(text.starts_with("index,label,z0,z1,"));

    let output = latent_explorer(&[
        "project",
        "--method",
        "pca",
        "--input",
        path_arg(&latents),
        "--out",
        path_arg(&coords),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&coords).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text.lines().count(), 10_001);
    assert!(text.starts_with("index,label,x,y\n0,9,"));
}

#[test]
fn interpolate_writes_a_gif_with_one_frame_per_step() {
    use image::AnimationDecoder;

    let dir = temp_dir();
    let out = dir.path().join("anim.gif");
    let output = latent_explorer(&[
        "interpolate",
        "--from",
        "0",
        "--to",
        "1",
        "--steps",
        "6",
        "--scale",
        "2",
        "--out",
        path_arg(&out),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));

    let file = std::fs::File::open(&out).unwrap_or_else(|e| panic!("{e}"));
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(file))
        .unwrap_or_else(|e| panic!("{e}"));
    let frames = decoder
        .into_frames()
        .collect_frames()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(frames.len(), 6);
    for frame in &frames {
        assert_eq!(frame.buffer().dimensions(), (56, 56));
    }
}

#[test]
fn interpolate_writes_a_strip_as_wide_as_its_frames() {
    let dir = temp_dir();
    let out = dir.path().join("strip.png");
    let z = vec!["1"; 16].join(",");
    let output = latent_explorer(&[
        "interpolate",
        "--from",
        "3",
        "--to",
        &z,
        "--steps",
        "5",
        "--method",
        "lerp",
        "--scale",
        "3",
        "--out",
        path_arg(&out),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let image = image::open(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((image.width(), image.height()), (5 * 28 * 3, 28 * 3));
}

#[test]
fn interpolate_to_csv_writes_each_frames_latent() {
    let dir = temp_dir();
    let out = dir.path().join("frames.csv");
    let zero = vec!["0"; 16].join(",");
    let two = vec!["2"; 16].join(",");
    let output = latent_explorer(&[
        "interpolate",
        "--from",
        &zero,
        "--to",
        &two,
        "--steps",
        "3",
        "--method",
        "lerp",
        "--out",
        path_arg(&out),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("frame,t,z0,z1"));
    assert!(lines[2].starts_with("1,0.5,1,1,"), "{}", lines[2]);
}

#[test]
fn arithmetic_decodes_the_shifted_latent() {
    let dir = temp_dir();
    let out = dir.path().join("shifted.npy");
    let base = dir.path().join("base.npy");
    let shifted = latent_explorer(&[
        "arithmetic",
        "--base",
        "9",
        "--from-class",
        "Sandal",
        "--to-class",
        "Sneaker",
        "--strength",
        "1.5",
        "--out",
        path_arg(&out),
    ]);
    assert!(shifted.status.success(), "{}", stderr(&shifted));
    let unshifted = latent_explorer(&[
        "arithmetic",
        "--base",
        "9",
        "--from-class",
        "5",
        "--to-class",
        "7",
        "--strength",
        "0",
        "--out",
        path_arg(&base),
    ]);
    assert!(unshifted.status.success(), "{}", stderr(&unshifted));
    let a = std::fs::read(&out).unwrap_or_else(|e| panic!("{e}"));
    let b = std::fs::read(&base).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.len(), b.len());
    assert_ne!(a, b, "strength 1.5 decoded the same image as strength 0");
}

#[test]
fn an_unknown_class_lists_the_classes() {
    let dir = temp_dir();
    let out = dir.path().join("x.png");
    let output = latent_explorer(&[
        "arithmetic",
        "--base",
        "0",
        "--from-class",
        "Hat",
        "--to-class",
        "Bag",
        "--out",
        path_arg(&out),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains(
        "--from-class \"Hat\" is not a class of \"fashion-mnist t10k\" (T-shirt/top, Trouser,"
    ));
}

#[test]
fn anomaly_reports_every_scores_auroc_against_noise() {
    let output = latent_explorer(&["anomaly", "--ood", "noise", "--limit", "400", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["in_distribution"]["images"], 400);
    assert_eq!(report["out_of_distribution"]["name"], "uniform noise");
    for key in [
        "reconstruction",
        "negative_elbo",
        "mahalanobis",
        "elbo_minus_complexity",
    ] {
        let value = report["auroc"][key].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&value), "{key}: {value}");
    }
    assert!(report["auroc"]["reconstruction"].as_f64().unwrap_or(0.0) > 0.9);
}

#[test]
fn anomaly_against_sprites_says_how_it_converted_them() {
    let output = latent_explorer(&["anomaly", "--ood", "sprites", "--limit", "300"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("\"sprites\" (300 images, converted: 64×64 to 28×28 (area average))"),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("AUROC ")).count(), 4);
}

#[test]
fn augment_writes_exactly_k_files_and_never_overwrites() {
    let dir = temp_dir();
    let out = dir.path().join("variations");
    let run = || {
        latent_explorer(&[
            "augment",
            "--around",
            "7",
            "--count",
            "5",
            "--sigma",
            "0.3",
            "--out",
            path_arg(&out),
        ])
    };
    let first = run();
    assert!(first.status.success(), "{}", stderr(&first));
    let count = |ext: &str| {
        std::fs::read_dir(&out)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == ext))
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!((count("png"), count("csv")), (5, 1));
    let kept = std::fs::read(out.join("variation-0000.png")).unwrap_or_default();

    let second = run();
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!((count("png"), count("csv")), (10, 2));
    assert_eq!(
        std::fs::read(out.join("variation-0000.png")).unwrap_or_default(),
        kept
    );
    let csv = std::fs::read_to_string(out.join("variations-0005.csv")).unwrap_or_default();
    assert_eq!(csv.lines().count(), 6);
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("variation-0005.png,"))
    );
}

/// The reference latents and outputs of a PyTorch fixture.
fn pytorch_reference(folder: &str) -> (Vec<f32>, Vec<f32>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pytorch")
        .join(folder)
        .join("reference.safetensors");
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{e}"));
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let read = |name: &str| -> Vec<f32> {
        let view = file.tensor(name).unwrap_or_else(|e| panic!("{e}"));
        view.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    (read("z"), read("decoded"))
}

#[test]
fn decode_writes_a_pytorch_generators_raw_output_as_npy_and_csv() {
    let checkpoint =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch/dcgan/netG.pth");
    let (z, decoded) = pytorch_reference("dcgan");
    // The first reference latent (nz = 16) and its 3 × 64 × 64 output.
    let z: Vec<String> = z[..16].iter().map(|v| format!("{v:.9e}")).collect();
    let expected = &decoded[..3 * 64 * 64];

    let dir = temp_dir();
    let npy = dir.path().join("x.npy");
    let csv = dir.path().join("x.csv");
    for out in [&npy, &csv] {
        let output = latent_explorer(&[
            "decode",
            "--checkpoint",
            path_arg(&checkpoint),
            "--z",
            &z.join(","),
            "--out",
            path_arg(out),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
    }

    let bytes = std::fs::read(&npy).unwrap_or_else(|e| panic!("{e}"));
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert!(
        String::from_utf8_lossy(&bytes[10..10 + header_len]).contains("'shape': (1, 3, 64, 64)")
    );
    let values: Vec<f32> = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let worst = values
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert_eq!(values.len(), expected.len());
    assert!(worst <= 1e-5, "npy differs from PyTorch by {worst:e}");
    assert!(
        values.iter().any(|&v| v < 0.0),
        "tanh outputs keep their sign"
    );

    let text = std::fs::read_to_string(&csv).unwrap_or_else(|e| panic!("{e}"));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("channel,row,col,value"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3 * 64 * 64);
    assert!(rows[64 * 64 + 65].starts_with("1,1,1,"));
    let last: f32 = rows[rows.len() - 1]
        .rsplit(',')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f32::NAN);
    assert!((last - expected[expected.len() - 1]).abs() <= 1e-5);
}
