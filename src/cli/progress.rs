//! A one-line progress bar on standard error, redrawn in place.

use std::io::Write;

/// Redraws `text` after a bar of `done / total`, at most ten times a second.
#[derive(Debug, Default)]
pub struct ProgressLine {
    last_draw: Option<std::time::Instant>,
}

impl ProgressLine {
    /// Draws the bar unless it was drawn less than 100 ms ago; `force` draws anyway.
    pub fn draw(&mut self, done: usize, total: usize, text: &str, force: bool) {
        let now = std::time::Instant::now();
        if !force
            && self
                .last_draw
                .is_some_and(|t| now.duration_since(t).as_millis() < 100)
        {
            return;
        }
        self.last_draw = Some(now);

        const WIDTH: usize = 30;
        let filled = (done * WIDTH)
            .checked_div(total)
            .unwrap_or(WIDTH)
            .min(WIDTH);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH - filled));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r[{bar}] {text}\x1b[K");
        let _ = err.flush();
    }

    /// Ends the line so later output starts on a fresh one.
    pub fn finish(&mut self) {
        eprintln!();
    }
}
