//! The tokio runtime the proxy runs on: one worker thread uses tokio's
//! current-thread scheduler (no work stealing, no cross-thread wake-ups),
//! more use the multi-threaded one; 0 means one worker per CPU.

/// Builds the runtime for `workers` worker threads (0 = one per CPU).
pub fn build(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if workers == 1 {
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        builder.worker_threads(workers);
    }
    builder.enable_all().build()
}
