//! The `screenshot` command in a real window under Xvfb with Mesa's software OpenGL.
//!
//! Ignored by a plain `cargo test`, since it needs `xvfb-run` and Mesa (`apt-get install xvfb
//! xauth libgl1-mesa-dri …`, see the README); `scripts/check.sh` and CI run it with
//! `cargo test --test screenshot -- --ignored`.

use std::process::Command;

#[test]
#[ignore = "needs xvfb-run and Mesa; run with --ignored"]
fn screenshot_saves_the_window_once_the_map_is_drawn() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("shot.png");
    let output = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1400x900x24"])
        .arg(env!("CARGO_BIN_EXE_latent-explorer"))
        .args(["screenshot", "--size", "1200x800", "--out"])
        .arg(&out)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run xvfb-run: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "screenshot failed: {stderr}");

    let image = image::open(&out)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_rgb8();
    assert_eq!(image.dimensions(), (1200, 800));

    // The map's class colours must be on screen: count pixels close to the first two.
    let near = |p: &image::Rgb<u8>, c: [u8; 3]| p.0.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 12);
    let blue = image.pixels().filter(|p| near(p, [31, 119, 180])).count();
    let orange = image.pixels().filter(|p| near(p, [255, 127, 14])).count();
    assert!(
        blue > 200 && orange > 200,
        "map colours: {blue} blue, {orange} orange pixels"
    );
}
