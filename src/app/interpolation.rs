//! The interpolation between two endpoints: the frames of the strip and the playback clock.
//!
//! Plain state with no drawing; [`super::ExplorerApp`] changes it by applying commands and by
//! advancing the clock once per frame while it plays.

use serde::{Deserialize, Serialize};

use crate::latent::{PathMethod, lerp, path, slerp};
use crate::model::PointDecoder;

/// Fewest and most frames in the strip.
pub const STEPS_RANGE: std::ops::RangeInclusive<usize> = 3..=32;

/// What happens at the end of the path while playing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PlayMode {
    /// Jump back to A.
    #[default]
    Loop,
    /// Turn round and walk back.
    PingPong,
}

/// One end of the path.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Where it came from, e.g. `sample #12` or `bookmark "boot"`.
    pub label: String,
    /// The latent vector.
    pub z: Vec<f32>,
}

/// Which end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The start.
    A,
    /// The finish.
    B,
}

/// Endpoints, strip and playback.
#[derive(Debug, Clone)]
pub struct Interpolation {
    /// The start.
    pub a: Option<Endpoint>,
    /// The finish.
    pub b: Option<Endpoint>,
    /// Frames in the strip, A and B included.
    pub steps: usize,
    /// Straight or spherical.
    pub method: PathMethod,
    /// True while playing.
    pub playing: bool,
    /// Loop or ping-pong.
    pub mode: PlayMode,
    /// Playback speed in strip frames per second.
    pub frames_per_sec: f32,
    /// Position on the path, 0 at A and 1 at B.
    pub t: f32,
    forward: bool,
    /// The latent of each strip frame.
    pub latents: Vec<Vec<f32>>,
    /// The decoded image of each strip frame.
    pub decoded: Vec<Vec<f32>>,
    /// Bumped whenever the strip changes.
    pub version: u64,
}

impl Default for Interpolation {
    fn default() -> Self {
        Self {
            a: None,
            b: None,
            steps: 8,
            method: PathMethod::Spherical,
            playing: false,
            mode: PlayMode::Loop,
            frames_per_sec: 4.0,
            t: 0.0,
            forward: true,
            latents: Vec::new(),
            decoded: Vec::new(),
            version: 0,
        }
    }
}

impl Interpolation {
    /// Sets one end and recomputes the strip.
    pub fn set_end(&mut self, end: End, endpoint: Endpoint, decoder: &PointDecoder) {
        match end {
            End::A => self.a = Some(endpoint),
            End::B => self.b = Some(endpoint),
        }
        self.rebuild(decoder);
    }

    /// Sets the frame count (clamped to [`STEPS_RANGE`]) and recomputes the strip.
    pub fn set_steps(&mut self, steps: usize, decoder: &PointDecoder) {
        self.steps = steps.clamp(*STEPS_RANGE.start(), *STEPS_RANGE.end());
        self.rebuild(decoder);
    }

    /// Sets the method and recomputes the strip.
    pub fn set_method(&mut self, method: PathMethod, decoder: &PointDecoder) {
        self.method = method;
        self.rebuild(decoder);
    }

    /// Both ends, when both are set.
    pub fn ends(&self) -> Option<(&[f32], &[f32])> {
        Some((&self.a.as_ref()?.z, &self.b.as_ref()?.z))
    }

    /// The point at `t` on the path.
    pub fn at(&self, t: f32) -> Option<Vec<f32>> {
        let (a, b) = self.ends()?;
        Some(match self.method {
            PathMethod::Linear => lerp(a, b, t),
            PathMethod::Spherical => slerp(a, b, t),
        })
    }

    /// Forgets both ends (when the model changes size, say).
    pub fn clear(&mut self) {
        *self = Self {
            steps: self.steps,
            method: self.method,
            mode: self.mode,
            frames_per_sec: self.frames_per_sec,
            version: self.version + 1,
            ..Self::default()
        };
    }

    /// Decodes the strip again with `decoder` (after the model changed).
    pub fn rebuild_with(&mut self, decoder: &PointDecoder) {
        self.rebuild(decoder);
    }

    fn rebuild(&mut self, decoder: &PointDecoder) {
        self.version += 1;
        let Some((a, b)) = self.ends() else {
            self.latents.clear();
            self.decoded.clear();
            return;
        };
        if a.len() != decoder.latent_dim() || b.len() != decoder.latent_dim() {
            self.latents.clear();
            self.decoded.clear();
            return;
        }
        self.latents = path(a, b, self.steps, self.method);
        self.decoded = self.latents.iter().map(|z| decoder.decode(z)).collect();
    }

    /// Moves the clock on by `dt_secs`; returns the new point while playing.
    pub fn advance(&mut self, dt_secs: f32) -> Option<Vec<f32>> {
        if !self.playing || self.ends().is_none() {
            return None;
        }
        let span = (self.steps.max(2) - 1) as f32;
        let delta = dt_secs.max(0.0) * self.frames_per_sec / span;
        let mut t = self.t + if self.forward { delta } else { -delta };
        match self.mode {
            PlayMode::Loop if t > 1.0 => t = 0.0,
            PlayMode::PingPong if t > 1.0 => {
                t = 2.0 - t;
                self.forward = false;
            }
            PlayMode::PingPong if t < 0.0 => {
                t = -t;
                self.forward = true;
            }
            _ => {}
        }
        self.t = t.clamp(0.0, 1.0);
        self.at(self.t)
    }

    /// Starts or stops playing; starting from the end goes back to the start.
    pub fn toggle_play(&mut self) {
        self.playing = !self.playing && self.ends().is_some();
        if self.playing && self.mode == PlayMode::Loop && self.t >= 1.0 {
            self.t = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_pong_turns_round_at_the_ends() {
        let mut path = Interpolation {
            a: Some(Endpoint {
                label: "a".into(),
                z: vec![0.0],
            }),
            b: Some(Endpoint {
                label: "b".into(),
                z: vec![1.0],
            }),
            method: PathMethod::Linear,
            mode: PlayMode::PingPong,
            steps: 3,
            frames_per_sec: 1.0,
            ..Interpolation::default()
        };
        path.toggle_play();
        // One frame a second over a path of two intervals: a second covers half the path.
        assert_eq!(path.advance(1.0), Some(vec![0.5]));
        assert_eq!(path.advance(1.5), Some(vec![0.75]));
        assert_eq!(path.advance(0.5), Some(vec![0.5]));
    }

    #[test]
    fn loop_jumps_back_to_the_start() {
        let mut path = Interpolation {
            a: Some(Endpoint {
                label: "a".into(),
                z: vec![0.0],
            }),
            b: Some(Endpoint {
                label: "b".into(),
                z: vec![1.0],
            }),
            method: PathMethod::Linear,
            steps: 2,
            frames_per_sec: 1.0,
            ..Interpolation::default()
        };
        path.toggle_play();
        assert_eq!(path.advance(0.75), Some(vec![0.75]));
        assert_eq!(path.advance(0.5), Some(vec![0.0]));
    }

    #[test]
    fn nothing_plays_without_both_ends() {
        let mut path = Interpolation::default();
        path.toggle_play();
        assert!(!path.playing);
        assert_eq!(path.advance(1.0), None);
    }
}
