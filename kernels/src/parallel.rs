//! Work split across threads: rayon's global pool, in the threaded WebAssembly build (whose pool
//! wasm-bindgen-rayon's `initThreadPool` starts) and wherever a caller opts in. Off until
//! [`use_thread_pool`] is called: in WebAssembly a rayon call before the pool exists would try to
//! spawn threads, which wasm32-unknown-unknown cannot, and a single-threaded build has no pool.

use std::sync::atomic::{AtomicBool, Ordering};

static POOL: AtomicBool = AtomicBool::new(false);

/// From now on, split products across rayon's global pool (in WebAssembly, call it after starting
/// the pool).
pub fn use_thread_pool() {
    POOL.store(true, Ordering::Relaxed);
}

/// Threads the work is split across: the pool's size once in use, else 1.
pub fn threads() -> usize {
    if POOL.load(Ordering::Relaxed) {
        rayon::current_num_threads()
    } else {
        1
    }
}

/// `f(index, chunk)` for each `chunk_len` values of `data` (the last chunk may be shorter), on the
/// pool when it is in use and there is more than one chunk.
pub(crate) fn for_each_chunk<T: Send>(data: &mut [T], chunk_len: usize, f: impl Fn(usize, &mut [T]) + Send + Sync) {
    use rayon::prelude::*;
    let chunk_len = chunk_len.max(1);
    if threads() > 1 && data.len() > chunk_len {
        data.par_chunks_mut(chunk_len).enumerate().for_each(|(i, chunk)| f(i, chunk));
    } else {
        data.chunks_mut(chunk_len).enumerate().for_each(|(i, chunk)| f(i, chunk));
    }
}
