//! The guest's stderr: the first few KB are kept (a panic message explains a trap), everything
//! after is accepted and dropped.
//!
//! wasmtime's `MemoryOutputPipe` fails writes past its capacity, and Rust's `eprintln!` panics
//! when a write fails, so a rule that printed a long message would trap for it. Here a write
//! never fails: output beyond the cap is silently discarded (documented in the README's limits).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Most a single write may be: what WASI's `blocking-write-and-flush` allows per call.
const WRITE_PERMIT: usize = 4096;

/// A stderr that keeps its first `capacity` bytes. Clones share the buffer.
#[derive(Clone)]
pub struct CappedPipe {
    capacity: usize,
    kept: Arc<Mutex<Vec<u8>>>,
}

impl CappedPipe {
    pub fn new(capacity: usize) -> Self {
        CappedPipe {
            capacity,
            kept: Arc::default(),
        }
    }

    /// The bytes kept so far.
    pub fn contents(&self) -> Vec<u8> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn keep(&self, bytes: &[u8]) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(kept.len());
        kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for CappedPipe {
    /// Always ready: writes never wait.
    async fn ready(&mut self) {}
}

impl AsyncWrite for CappedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_bytes_and_accepts_the_rest() {
        let mut pipe = CappedPipe::new(8);
        for chunk in ["panicked ", "at a very long message"] {
            assert!(pipe.write(Bytes::from(chunk)).is_ok());
            assert_eq!(pipe.check_write().unwrap(), WRITE_PERMIT);
        }
        assert_eq!(pipe.contents(), b"panicked");
    }
}
