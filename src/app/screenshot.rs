//! The `screenshot` command's part inside the app: wait for the map, grab the window's pixels,
//! write them as PNG and close the window.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames drawn after the map is ready and before the grab, so textures and layout settle.
const SETTLE_FRAMES: u32 = 5;

/// Where the grab stands.
enum Stage {
    WaitingForMap,
    Settling(u32),
    Requested,
    Done,
}

/// What the window did, read by the caller once the window has closed.
pub type ScreenshotOutcome = Arc<Mutex<Option<Result<PathBuf, String>>>>;

/// One screenshot to take.
pub struct ScreenshotTask {
    path: PathBuf,
    stage: Stage,
    started: Instant,
    timeout: Duration,
    image: Arc<Mutex<Option<Arc<egui::ColorImage>>>>,
    outcome: ScreenshotOutcome,
}

impl ScreenshotTask {
    /// A task that writes `path`, giving up when the map is not ready after `timeout`.
    pub fn new(path: PathBuf, timeout: Duration) -> (Self, ScreenshotOutcome) {
        let outcome: ScreenshotOutcome = Arc::default();
        let task = Self {
            path,
            stage: Stage::WaitingForMap,
            started: Instant::now(),
            timeout,
            image: Arc::default(),
            outcome: outcome.clone(),
        };
        (task, outcome)
    }

    /// Advances the task by one frame; `map_done` says whether the background work has ended.
    pub fn step(&mut self, ctx: &egui::Context, map_done: bool) {
        match self.stage {
            Stage::WaitingForMap => {
                if map_done {
                    self.stage = Stage::Settling(0);
                } else if self.started.elapsed() > self.timeout {
                    self.finish(
                        ctx,
                        Err(format!(
                            "the map was not ready after {} s",
                            self.timeout.as_secs()
                        )),
                    );
                    return;
                }
                ctx.request_repaint_after(Duration::from_millis(50));
            }
            Stage::Settling(frames) if frames < SETTLE_FRAMES => {
                self.stage = Stage::Settling(frames + 1);
                ctx.request_repaint();
            }
            Stage::Settling(_) => {
                let slot = self.image.clone();
                let waker = ctx.clone();
                ctx.request_screenshot(move |image| {
                    if let Ok(mut slot) = slot.lock() {
                        *slot = Some(image);
                    }
                    waker.request_repaint();
                });
                self.stage = Stage::Requested;
                ctx.request_repaint();
            }
            Stage::Requested => {
                let image = self.image.lock().ok().and_then(|mut slot| slot.take());
                match image {
                    Some(image) => {
                        let result = save_png(&image, &self.path).map(|()| self.path.clone());
                        self.finish(ctx, result);
                    }
                    None => ctx.request_repaint(),
                }
            }
            Stage::Done => {}
        }
    }

    fn finish(&mut self, ctx: &egui::Context, result: Result<PathBuf, String>) {
        if let Ok(mut outcome) = self.outcome.lock() {
            *outcome = Some(result);
        }
        self.stage = Stage::Done;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

/// Writes the window's pixels as an RGBA PNG.
fn save_png(image: &egui::ColorImage, path: &std::path::Path) -> Result<(), String> {
    let [width, height] = image.size;
    let rgba: Vec<u8> = image.pixels.iter().flat_map(|p| p.to_array()).collect();
    let buffer = image::RgbaImage::from_raw(width as u32, height as u32, rgba)
        .ok_or_else(|| format!("screenshot of {width}×{height} has the wrong number of pixels"))?;
    buffer
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| format!("cannot write \"{}\": {e}", path.display()))
}
