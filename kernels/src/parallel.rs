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

/// `f(first, part)` over `data` cut into parts of whole units of `unit_len` values (the last unit
/// may be shorter), `first` being the index of the part's first unit: the whole of `data` in one
/// part on one thread, two parts per thread of the pool when it is in use.
pub(crate) fn for_each_part<T: Send>(data: &mut [T], unit_len: usize, f: impl Fn(usize, &mut [T]) + Send + Sync) {
    use rayon::prelude::*;
    assert!(unit_len > 0, "parallel::for_each_part: empty units");
    let (units, threads) = (data.len().div_ceil(unit_len), threads());
    if threads > 1 && units > 1 {
        let per_part = units.div_ceil(2 * threads);
        data.par_chunks_mut(per_part * unit_len).enumerate().for_each(|(i, part)| f(i * per_part, part));
    } else {
        f(0, data);
    }
}
