//! The progress bar `lafs put` and `lafs get` draw on stderr when it is a
//! terminal (indicatif; callers decide whether to make one at all).

use indicatif::{ProgressBar, ProgressStyle};

/// A byte-count bar of `len` bytes labelled `what` (redrawn at most ~10
/// times a second, so a fast transfer does not pay for its own display).
pub fn bytes_bar(len: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>11} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}
