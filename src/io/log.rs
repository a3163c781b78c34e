//! `serve`'s log lines on stderr, written in batches.
//!
//! A server under load logs a line or two per request; written one by one that is a `write` system call each
//! (into a file's journal when stderr is redirected), a measurable share of a request's cost. Here lines gather
//! in a buffer that goes out when it holds [`BATCH_BYTES`], when a warning or an error arrives (at once, with
//! everything before it), and otherwise at most [`DELAY`] after the first line of a batch, by a task that
//! [`BatchedStderr::flush_loop`] runs. An idle server makes no wake-ups. The process flushes on its way out
//! ([`BatchedStderr::flush`]); only a crash can lose the last [`DELAY`] of lines.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A batch is written once it holds this many bytes.
pub const BATCH_BYTES: usize = 16 * 1024;
/// The longest a line waits for its batch.
pub const DELAY: Duration = Duration::from_millis(50);

struct Shared {
    buf: Mutex<Vec<u8>>,
    first_line: tokio::sync::Notify,
    sink: fn(&[u8]),
    /// False on a terminal: each line at once.
    batched: bool,
}

/// A `tracing_subscriber` writer for stderr that batches lines (see the module's documentation).
#[derive(Clone)]
pub struct BatchedStderr(Arc<Shared>);

impl BatchedStderr {
    /// Batches unless `batched` is false (stderr is a terminal: a person watching sees each line as it comes).
    pub fn new(batched: bool) -> Self {
        Self::to(
            |batch| {
                // Nowhere to report a failure to write the log.
                let _ = std::io::stderr().lock().write_all(batch);
            },
            batched,
        )
    }

    fn to(sink: fn(&[u8]), batched: bool) -> Self {
        BatchedStderr(Arc::new(Shared {
            buf: Mutex::new(Vec::with_capacity(if batched { BATCH_BYTES } else { 0 })),
            first_line: tokio::sync::Notify::new(),
            sink,
            batched,
        }))
    }

    /// Writes out what is buffered.
    pub fn flush(&self) {
        let mut buf = self.0.buf.lock().unwrap_or_else(|p| p.into_inner());
        self.write_out(&mut buf);
    }

    /// Writes each batch out [`DELAY`] after its first line, for as long as the runtime runs.
    pub async fn flush_loop(self) {
        loop {
            self.0.first_line.notified().await;
            tokio::time::sleep(DELAY).await;
            self.flush();
        }
    }

    fn push(&self, line: &[u8], urgent: bool) {
        let mut buf = self.0.buf.lock().unwrap_or_else(|p| p.into_inner());
        let was_empty = buf.is_empty();
        buf.extend_from_slice(line);
        if urgent || !self.0.batched || buf.len() >= BATCH_BYTES {
            self.write_out(&mut buf);
        } else if was_empty {
            self.0.first_line.notify_one();
        }
    }

    fn write_out(&self, buf: &mut Vec<u8>) {
        if !buf.is_empty() {
            (self.0.sink)(buf);
            buf.clear();
        }
    }
}

/// One event's line, as the formatter hands it over.
pub struct Line<'a> {
    to: &'a BatchedStderr,
    urgent: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.to.push(data, self.urgent);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedStderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            to: self,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line<'a> {
        // Warnings and errors go out at once (tracing orders levels from ERROR, the least verbose, up).
        Line {
            to: self,
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the test writers wrote, in order (each test tags its lines).
    static WRITTEN: Mutex<Vec<u8>> = Mutex::new(Vec::new());

    fn written(tag: &str) -> String {
        let all = String::from_utf8(WRITTEN.lock().unwrap().clone()).unwrap();
        all.lines().filter(|l| l.starts_with(tag)).collect::<Vec<_>>().join("|")
    }

    fn writer() -> BatchedStderr {
        BatchedStderr::to(|b| WRITTEN.lock().unwrap().extend_from_slice(b), true)
    }

    #[test]
    fn lines_wait_for_a_full_batch_and_a_warning_takes_everything_before_it_along() {
        let w = writer();
        w.push(b"a: one\n", false);
        w.push(b"a: two\n", false);
        assert_eq!(written("a:"), "");
        w.push(b"a: a warning\n", true);
        assert_eq!(written("a:"), "a: one|a: two|a: a warning");
        let mut big = b"a: big ".to_vec();
        big.resize(BATCH_BYTES, b'x');
        big.push(b'\n');
        w.push(&big, false);
        assert_eq!(written("a:").matches('|').count(), 3, "a full batch goes out");
        w.push(b"a: three\n", false);
        w.flush();
        assert!(written("a:").ends_with("|a: three"));
    }

    #[tokio::test]
    async fn a_lone_line_goes_out_after_the_delay() {
        let w = writer();
        tokio::spawn(w.clone().flush_loop());
        w.push(b"b: lone\n", false);
        assert_eq!(written("b:"), "");
        tokio::time::sleep(DELAY * 4).await;
        assert_eq!(written("b:"), "b: lone");
    }
}
