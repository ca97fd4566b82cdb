//! The threaded WebAssembly build's only additions (feature `threads`, `scripts/build-web
//! --threads`): a rayon pool of Web Workers sharing the module's memory, and tract told to run its
//! matrix products on it. Needs a cross-origin isolated page (COOP/COEP headers), and must be
//! driven from a Web Worker: the calling thread blocks while the pool works, which the browser's
//! main thread may not do.
//!
//! ```js
//! await init();
//! await initThreadPool(navigator.hardwareConcurrency);
//! useThreadPool();
//! ```

use wasm_bindgen::prelude::*;

pub use wasm_bindgen_rayon::init_thread_pool;

/// Run tract's matrix products and Sightline's kernels (int8 products, attention products) on the
/// pool `initThreadPool` started (call it first: without a pool, rayon would try to spawn OS
/// threads, which wasm32-unknown-unknown cannot).
#[wasm_bindgen(js_name = useThreadPool)]
pub fn use_thread_pool() {
    tract_linalg::multithread::set_default_executor(tract_linalg::multithread::Executor::RayonGlobal);
    sightline_kernels::parallel::use_thread_pool();
}
